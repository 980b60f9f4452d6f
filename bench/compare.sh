#!/usr/bin/env bash
# Run one load scenario against Gavel, Prosody and ejabberd, one after
# another on this machine, and print a side-by-side table.
#
#   bench/compare.sh S2                 # all three servers, scenario defaults
#   SERVERS="gavel prosody" bench/compare.sh S3 -rate 20000
#
# Each server is started fresh and pinned to CPU $SERVER_CPU (default 0),
# the load tool to CPU $CLIENT_CPU (default 1). Gavel runs from a temporary
# data directory with accounts made by `gavel-bench prepare`; the peers come
# from $PEERS (../shared/peers) and get their accounts by in-band
# registration. Everything listens on 127.0.0.1 only. Only processes this
# script started are stopped, by PID. Results: bench/results/SCENARIO.jsonl
# (one JSON line per server, overwritten each run) and SCENARIO.md.
# Extra arguments go to `gavel-bench run` after the scenario defaults.
# GAVEL_LOG=FILE keeps Gavel's log (default: a temporary file, removed).
set -euo pipefail

SCENARIO="${1:?usage: bench/compare.sh S1|S2|S3|S4|S5|S6|S7 [gavel-bench run flags...]}"
shift
SCENARIO="$(echo "$SCENARIO" | tr a-z A-Z)"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PEERS="${PEERS:-$(cd "$ROOT/../shared/peers" 2>/dev/null && pwd || echo /work/shared/peers)}"
SERVERS="${SERVERS:-gavel prosody ejabberd}"
SERVER_CPU="${SERVER_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"
# Priority of the server and the tool over whatever else runs on the box
# (a shared machine otherwise inflates latencies); 0 disables.
NICE="${NICE:--10}"
GAVEL="$ROOT/bin/gavel"
TOOL="$ROOT/bin/gavel-bench"
OUT="$ROOT/bench/results"
# TAG names a variant (e.g. TAG=2k for a lower rate): SCENARIO-TAG.jsonl.
NAME="$SCENARIO${TAG:+-$TAG}"
JSON="$OUT/$NAME.jsonl"
# Off the defaults (a dev server on 5222 must not clash) and below the
# kernel's ephemeral range (32768+), where a client socket may hold the port.
GAVEL_PORTS="17222 17223 17269 17280"

# Scenario defaults (override with flags after the scenario name, or USERS).
case "$SCENARIO" in
	S1) USERS="${USERS:-1000}"; DEFAULTS=(-sessions 5000 -hold 30s -concurrency 32) ;;
	S2) USERS="${USERS:-1000}"; DEFAULTS=(-logins 10000 -concurrency 32) ;;
	S3) USERS="${USERS:-10000}"; DEFAULTS=(-rate 40000 -duration 10s -drain 10s -concurrency 32) ;;
	# MUC: the tool's scenario defaults (docs/benchmarks.md) apply; USERS is
	# the number of occupants.
	S4) USERS="${USERS:-1000}"; DEFAULTS=(-concurrency 32 -max-runtime 20m) ;;
	S5) USERS="${USERS:-10000}"; DEFAULTS=(-concurrency 32 -max-runtime 40m) ;;
	S6) USERS="${USERS:-1000}"; DEFAULTS=(-concurrency 32 -max-runtime 20m) ;;
	# Pubsub: USERS subscriber sessions; the tool's defaults are the first
	# shape of issue 6 (1 node x 1,000 subscribers, 50 publishes/s); the
	# second: TAG=5k bash bench/compare.sh S7 -nodes 5000 -subs-per-node 10 -rate 2000
	S7) USERS="${USERS:-1000}"; DEFAULTS=(-concurrency 32 -max-runtime 20m) ;;
	*) echo "compare.sh: unknown scenario $SCENARIO (S1-S7)" >&2; exit 2 ;;
esac

# Gavel settings that differ from its defaults, per scenario (GAVEL_YAML
# overrides). Every scenario: no per-connection inbound rate limit
# (c2s.inbound_bytes_per_second, 64 KiB/s by default), as the peers run
# without their shapers (../shared/peers configs); a load generator's
# publishers and senders each send far more than a person.
# S4: Gavel cuts off a reader whose queue passes c2s.write_queue_bytes, or
# whose socket takes nothing for c2s.write_timeout. A stalled reader's
# kernel buffers (256 KiB send, 32 KiB receive) absorb ~13 s of a
# 50-bid/s room before anything waits; the default 1 MiB queue then holds
# ~45 s more and the default 15 s timeout ends ~28 s into the stall, too
# close to the slow readers' 30 s. S4 runs with 512 KiB and 10 s: cut
# ~23 s in. Not a smaller queue: a joiner of a 1,000-occupant room is sent
# ~450 KB of occupant presences at once, and 256 KiB cut off healthy
# joiners.
case "$SCENARIO" in
	S4) GAVEL_YAML="${GAVEL_YAML-$'c2s:\n  inbound_bytes_per_second: 0\n  write_queue_bytes: 524288\n  write_timeout: 10s\n'}" ;;
	*) GAVEL_YAML="${GAVEL_YAML-$'c2s:\n  inbound_bytes_per_second: 0\n'}" ;;
esac
# A peer whose ports are busy (another engineer's run on this shared box)
# is waited for this many seconds before it is skipped.
PEER_WAIT="${PEER_WAIT:-900}"

die() { echo "compare.sh: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }
[ -x "$GAVEL" ] || die "$GAVEL missing: run make build"
[ -x "$TOOL" ] || die "$TOOL missing: go build -o bin/gavel-bench ./cmd/gavel-bench"
command -v taskset >/dev/null || die "taskset missing (util-linux)"

# Room for the sessions on both sides; root may raise the hard limit.
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

mkdir -p "$OUT"
: > "$JSON"
TMP="$(mktemp -d /tmp/gavel-compare.XXXXXX)"
GAVEL_PID=""
PEER_STARTED=""

cleanup() {
	if [ -n "$GAVEL_PID" ] && kill -0 "$GAVEL_PID" 2>/dev/null; then
		kill -TERM "$GAVEL_PID" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$GAVEL_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$GAVEL_PID" 2>/dev/null || true
	fi
	GAVEL_PID=""
	if [ -n "$PEER_STARTED" ]; then
		"$PEERS/$PEER_STARTED/stop.sh" >/dev/null 2>&1 || echo "compare.sh: $PEER_STARTED/stop.sh failed" >&2
	fi
	PEER_STARTED=""
}
trap 'cleanup; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

wait_port() { # host port seconds
	for _ in $(seq 1 $(($3 * 10))); do
		(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# pin PID: every thread of PID onto SERVER_CPU, at priority NICE.
pin() {
	taskset -a -p -c "$SERVER_CPU" "$1" >/dev/null
	if [ "$NICE" != 0 ]; then
		renice -n "$NICE" -p $(ls "/proc/$1/task") >/dev/null 2>&1 || echo "compare.sh: renice failed (not root?)" >&2
	fi
}

run_tool() { # server-label addr pid extra-flags...
	local label="$1" addr="$2" pid="$3"; shift 3
	# A shared box: wait (bounded) until other work is idle; the result's
	# other_cpu_* figure shows how much the run still competed.
	"$TOOL" quiet -max-busy "${QUIET_MAX_BUSY:-25}" -timeout "${QUIET_TIMEOUT:-5m}" || true
	log "$SCENARIO against $label (pid $pid, cpu $SERVER_CPU; tool on cpu $CLIENT_CPU)"
	nice -n "$NICE" taskset -c "$CLIENT_CPU" "$TOOL" run -scenario "$SCENARIO" -server "$label" -addr "$addr" \
		-domain localhost -users "$USERS" -password secret -server-pid "$pid" -json "$JSON" \
		"${DEFAULTS[@]}" "$@" "${EXTRA[@]}" || echo "compare.sh: $label run failed" >&2
}

EXTRA=("$@")

for server in $SERVERS; do
	case "$server" in
	gavel)
		for p in $GAVEL_PORTS; do
			ss -ltnH "sport = :$p" | grep -q . && die "port $p is in use"
		done
		log "preparing $USERS Gavel accounts"
		"$TOOL" prepare -data "$TMP/gavel-data" -users "$USERS" -password secret -workers 2 >&2
		GAVEL_CFG=()
		if [ -n "$GAVEL_YAML" ]; then
			printf '%s' "$GAVEL_YAML" > "$TMP/gavel.yaml"
			GAVEL_CFG=(--config "$TMP/gavel.yaml")
			log "gavel config: $(tr '\n' ' ' < "$TMP/gavel.yaml")"
		fi
		taskset -c "$SERVER_CPU" "$GAVEL" serve --dev "${GAVEL_CFG[@]}" --data "$TMP/gavel-data" \
			--c2s-addr 127.0.0.1:17222 --c2s-tls-addr 127.0.0.1:17223 \
			--s2s-addr 127.0.0.1:17269 --http-addr 127.0.0.1:17280 >"${GAVEL_LOG:-$TMP/gavel.log}" 2>&1 &
		GAVEL_PID=$!
		wait_port 127.0.0.1 17222 30 || { tail -20 "${GAVEL_LOG:-$TMP/gavel.log}" >&2; die "gavel did not start"; }
		pin "$GAVEL_PID"
		run_tool gavel 127.0.0.1:17222 "$GAVEL_PID"
		cleanup
		;;
	prosody|ejabberd)
		if [ "$server" = prosody ]; then port=15222; pidfile=/tmp/lab-prosody/prosody.pid
		else port=25222; pidfile=/tmp/lab-ejabberd/ejabberd.pid; fi
		if [ "$server" = prosody ]; then pports="15222 15269 15280"; else pports="25222 25269 25280 25290"; fi
		busy_since=$SECONDS
		while :; do
			busy=""
			for p in $pports; do ss -ltnH "sport = :$p" | grep -q . && busy="$p"; done
			[ -z "$busy" ] && break
			if [ $((SECONDS - busy_since)) -ge "$PEER_WAIT" ]; then break; fi
			log "$server port $busy in use (someone else's run?); waiting"
			sleep 15
		done
		log "starting $server"
		if ! "$PEERS/$server/start.sh" >&2; then
			echo "compare.sh: $server did not start; skipped" >&2
			continue
		fi
		PEER_STARTED="$server"
		pid="$(cat "$pidfile")"
		pin "$pid"
		run_tool "$server" "127.0.0.1:$port" "$pid" -register
		cleanup
		;;
	*) die "unknown server $server" ;;
	esac
done

"$TOOL" compare "$JSON"
"$TOOL" compare -markdown "$JSON" > "$OUT/$NAME.md"
echo "results: $JSON, $OUT/$NAME.md" >&2
