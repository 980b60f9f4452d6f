#!/usr/bin/env bash
# Run every scenario of docs/benchmarks.md against Gavel, Prosody and
# ejabberd, one after another, with the commands that page quotes, and
# gather the tables into bench/results/ALL.md (with the date, the commit
# and each scenario's start time). About an hour on the 2-core box; the
# peers' MUC joins take most of it.
#
#   bash bench/compare-all.sh            # everything
#   ONLY="S4 S7" bash bench/compare-all.sh   # a subset, by scenario name
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bench/results"
ALL="$OUT/ALL.md"
ONLY="${ONLY:-}"

# name | environment | compare.sh arguments. The name is the results file
# (SCENARIO[-TAG]); the environment goes before compare.sh.
RUNS=(
	"S1||S1"
	"S2||S2"
	"S3||S3"
	"S3-2k|USERS=1000 TAG=2k|S3 -rate 2000"
	"S4||S4"
	"S5-2k|USERS=2000 TAG=2k|S5"
	"S5-10k|SERVERS=gavel TAG=10k|S5"
	"S6||S6"
	"S7||S7"
	"S7-5k|TAG=5k|S7 -nodes 5000 -subs-per-node 10 -rate 2000"
)

wanted() { [ -z "$ONLY" ] && return 0; for w in $ONLY; do [ "${1%%-*}" = "$w" ] || [ "$1" = "$w" ] && return 0; done; return 1; }

{
	echo "# All scenarios, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "Commit $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet || echo ' (dirty)'), $(nproc) CPUs, $(uname -r)."
} > "$ALL.tmp"

failed=0
for run in "${RUNS[@]}"; do
	IFS='|' read -r name envs args <<<"$run"
	wanted "$name" || continue
	echo "== $name: ${envs:+$envs }bash bench/compare.sh $args" >&2
	start="$(date -u '+%H:%M')"
	# shellcheck disable=SC2086
	if ! env $envs bash "$ROOT/bench/compare.sh" $args; then
		echo "compare-all: $name failed" >&2
		failed=1
	fi
	{
		echo
		echo "## $name (started $start UTC): \`${envs:+$envs }bash bench/compare.sh $args\`"
		cat "$OUT/$name.md" 2>/dev/null || echo "(no results)"
	} >> "$ALL.tmp"
done
mv "$ALL.tmp" "$ALL"
echo "tables: $ALL" >&2
exit "$failed"
