#!/usr/bin/env bash
# Interop suite: third-party XMPP clients against a freshly started `gavel serve --dev`.
#
#   interop/run.sh                 # every script
#   interop/run.sh xmppjs          # only the named scripts (slixmpp_im go_sendxmpp xmppjs xmppjs_sm register adhoc
#                                  #   slixmpp_carbons_mam slixmpp_blocking slixmpp_muc aioxmpp_muc
#                                  #   slixmpp_pubsub aioxmpp_pubsub)
#
# Builds bin/gavel only when it is missing. Picks free loopback ports, creates
# the accounts in a temp data dir, starts the server, waits for its ports, runs
# each script under a timeout, prints PASS/FAIL per script and a summary, stops
# only the server it started and removes the temp dir. Exit status 0 only when
# every script passed. A script whose client is missing FAILS (no skips).
#
# Environment:
#   INTEROP_SCRIPT_TIMEOUT  seconds per script (default 180)
#   INTEROP_TIMEOUT         seconds each script waits for one expected event (default 10)
#   INTEROP_KEEP=1          keep the temp dir (server log, data, script logs)
#   INTEROP_VERBOSE=1       scripts write their protocol trace to stderr (into their log)
#   INTEROP_EXTERNAL=1      do not start Gavel: test an already running server given by
#                           INTEROP_HOST INTEROP_PORT INTEROP_TLS_PORT (0 = none)
#                           INTEROP_WS_URL INTEROP_DOMAIN INTEROP_PASSWORD; its accounts
#                           alice bob carol dave eve must exist (e.g. the Prosody peer)
#   INTEROP_GAVEL=PATH      the Gavel binary to run (default bin/gavel)
#   INTEROP_MUC_DOMAIN      the MUC service the *_muc scripts use (default conference.<domain>)
#   INTEROP_PUBSUB_DOMAIN   the pubsub service the *_pubsub scripts use (default pubsub.<domain>)
#   INTEROP_MECH_A/_B       SASL mechanisms slixmpp_im forces (default SCRAM-SHA-256 / SCRAM-SHA-1)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
HERE="$ROOT/interop"
GAVEL="${INTEROP_GAVEL:-$ROOT/bin/gavel}"
PY=/usr/bin/python3
SCRIPT_TIMEOUT="${INTEROP_SCRIPT_TIMEOUT:-180}"
STEP_TIMEOUT="${INTEROP_TIMEOUT:-10}"
ACCOUNTS="alice bob carol dave eve admin"
ALL_SCRIPTS="slixmpp_im go_sendxmpp xmppjs xmppjs_sm register adhoc slixmpp_carbons_mam slixmpp_blocking slixmpp_muc aioxmpp_muc slixmpp_pubsub aioxmpp_pubsub"

SERVER_PID=""
WORK=""
SERVER_LOG=""

log() { printf '%s\n' "$*"; }

cleanup() {
	local rc=$?
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill "$SERVER_PID" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$SERVER_PID" 2>/dev/null || true
	fi
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then
		if [ "${INTEROP_KEEP:-0}" = 1 ]; then
			log "interop: kept $WORK"
		else
			rm -rf "$WORK"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

server_log_tail() {
	[ -n "$SERVER_LOG" ] && [ -f "$SERVER_LOG" ] || return 0
	log "---- server log (last ${1:-60} lines of $SERVER_LOG) ----"
	tail -n "${1:-60}" "$SERVER_LOG" | cut -c1-2000
	log "---- end of server log ----"
}

die() {
	log "FAIL  $*"
	server_log_tail 80
	log "interop: 0 passed, 1 failed"
	exit 1
}

# free_ports N: N distinct free TCP ports on 127.0.0.1 (held together while chosen).
free_ports() {
	"$PY" - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# wait_port PORT SECONDS: until 127.0.0.1:PORT accepts; fails early if the server died.
wait_port() {
	local port=$1 deadline=$((SECONDS + $2))
	while [ "$SECONDS" -lt "$deadline" ]; do
		if [ -n "$SERVER_PID" ] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
			return 2
		fi
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

scripts="${*:-$ALL_SCRIPTS}"
for s in $scripts; do
	case " $ALL_SCRIPTS " in *" $s "*) ;; *) log "interop: unknown script '$s' (have: $ALL_SCRIPTS)" >&2; exit 2 ;; esac
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gavel-interop.XXXXXX")"
HOST=127.0.0.1
DOMAIN="${INTEROP_DOMAIN:-localhost}"

if [ "${INTEROP_EXTERNAL:-0}" = 1 ]; then
	HOST="${INTEROP_HOST:-127.0.0.1}"
	C2S="${INTEROP_PORT:?INTEROP_PORT is required with INTEROP_EXTERNAL=1}"
	C2S_TLS="${INTEROP_TLS_PORT:-0}"
	WS_URL="${INTEROP_WS_URL:?INTEROP_WS_URL is required with INTEROP_EXTERNAL=1}"
	PASSWORD="${INTEROP_PASSWORD:-secret}"
	log "== interop: external server $HOST:$C2S (direct TLS ${C2S_TLS}), $WS_URL, domain $DOMAIN"
else
	PASSWORD="interop-Pa55word"
	if [ ! -x "$GAVEL" ]; then
		log "== interop: bin/gavel missing, building it"
		go build -o "$GAVEL" ./cmd/gavel || die "go build -o bin/gavel ./cmd/gavel"
	fi
	read -r C2S C2S_TLS S2S HTTP < <(free_ports 4)
	WS_URL="ws://127.0.0.1:$HTTP/xmpp-websocket"
	DATA="$WORK/data"
	SERVER_LOG="$WORK/server.log"
	mkdir -p "$DATA"
	log "== interop: gavel at c2s $C2S, c2s-tls $C2S_TLS, s2s $S2S, http $HTTP, data $DATA"
	for u in $ACCOUNTS; do
		if ! out="$("$GAVEL" user add "$u" --password "$PASSWORD" --data "$DATA" --domain "$DOMAIN" 2>&1)"; then
			log "$out"
			die "account creation: bin/gavel user add $u --password ... --data $DATA"
		fi
	done
	log "== interop: accounts $ACCOUNTS created"
	"$GAVEL" serve --dev --data "$DATA" --domain "$DOMAIN" \
		--c2s-addr "127.0.0.1:$C2S" --c2s-tls-addr "127.0.0.1:$C2S_TLS" \
		--s2s-addr "127.0.0.1:$S2S" --http-addr "127.0.0.1:$HTTP" \
		>"$SERVER_LOG" 2>&1 </dev/null &
	SERVER_PID=$!
	for p in "c2s:$C2S" "c2s-tls:$C2S_TLS" "http:$HTTP"; do
		rc=0
		wait_port "${p#*:}" 30 || rc=$?
		case $rc in
		0) ;;
		2) die "server exited before ${p%%:*} port ${p#*:} accepted connections" ;;
		*) die "server ${p%%:*} port ${p#*:} did not accept connections within 30s" ;;
		esac
	done
	log "== interop: server pid $SERVER_PID ready"
fi

common=(--host "$HOST" --port "$C2S" --domain "$DOMAIN" --password "$PASSWORD" --timeout "$STEP_TIMEOUT")
[ "${INTEROP_VERBOSE:-0}" = 1 ] && common+=(-v)

# command_for NAME: prints nothing and returns 1 when a prerequisite is missing
# (the reason goes to $WORK/why).
command_for() {
	case $1 in
	slixmpp_im)
		"$PY" -c 'import slixmpp' 2>/dev/null || { echo "python3-slixmpp missing (apt-get install -y python3-slixmpp)" >"$WORK/why"; return 1; }
		cmd=("$PY" "$HERE/slixmpp_im.py" "${common[@]}")
		;;
	go_sendxmpp)
		"$PY" -c 'import slixmpp' 2>/dev/null || { echo "python3-slixmpp missing (apt-get install -y python3-slixmpp)" >"$WORK/why"; return 1; }
		command -v go-sendxmpp >/dev/null || { echo "go-sendxmpp missing (apt-get install -y go-sendxmpp)" >"$WORK/why"; return 1; }
		cmd=("$PY" "$HERE/go_sendxmpp.py" "${common[@]}" --tls-port "$C2S_TLS")
		;;
	xmppjs)
		command -v node >/dev/null || { echo "node missing" >"$WORK/why"; return 1; }
		[ -d "$HERE/node_modules/@xmpp/client" ] || { echo "@xmpp/client missing (cd interop && npm ci)" >"$WORK/why"; return 1; }
		cmd=(node "$HERE/xmppjs.mjs" "${common[@]}" --tls-port "$C2S_TLS" --ws-url "$WS_URL")
		;;
	xmppjs_sm)
		command -v node >/dev/null || { echo "node missing" >"$WORK/why"; return 1; }
		[ -d "$HERE/node_modules/@xmpp/client" ] || { echo "@xmpp/client missing (cd interop && npm ci)" >"$WORK/why"; return 1; }
		cmd=(node "$HERE/xmppjs_sm.mjs" "${common[@]}" --ws-url "$WS_URL")
		;;
	register)
		"$PY" -c 'import slixmpp' 2>/dev/null || { echo "python3-slixmpp missing (apt-get install -y python3-slixmpp)" >"$WORK/why"; return 1; }
		cmd=("$PY" "$HERE/register.py" "${common[@]}")
		;;
	adhoc)
		"$PY" -c 'import slixmpp, aioxmpp' 2>/dev/null || { echo "python3-slixmpp/python3-aioxmpp missing (apt-get install -y python3-slixmpp python3-aioxmpp)" >"$WORK/why"; return 1; }
		cmd=("$PY" "$HERE/adhoc.py" "${common[@]}" --admin admin)
		;;
	slixmpp_carbons_mam)
		"$PY" -c 'import slixmpp' 2>/dev/null || { echo "python3-slixmpp missing (apt-get install -y python3-slixmpp)" >"$WORK/why"; return 1; }
		cmd=("$PY" "$HERE/slixmpp_carbons_mam.py" "${common[@]}")
		;;
	slixmpp_blocking)
		"$PY" -c 'import slixmpp' 2>/dev/null || { echo "python3-slixmpp missing (apt-get install -y python3-slixmpp)" >"$WORK/why"; return 1; }
		cmd=("$PY" "$HERE/slixmpp_blocking.py" "${common[@]}")
		;;
	slixmpp_muc)
		"$PY" -c 'import slixmpp' 2>/dev/null || { echo "python3-slixmpp missing (apt-get install -y python3-slixmpp)" >"$WORK/why"; return 1; }
		cmd=("$PY" "$HERE/slixmpp_muc.py" "${common[@]}" --muc-domain "${INTEROP_MUC_DOMAIN:-conference.$DOMAIN}")
		;;
	aioxmpp_muc)
		"$PY" -c 'import slixmpp, aioxmpp' 2>/dev/null || { echo "python3-slixmpp/python3-aioxmpp missing (apt-get install -y python3-slixmpp python3-aioxmpp)" >"$WORK/why"; return 1; }
		cmd=("$PY" "$HERE/aioxmpp_muc.py" "${common[@]}" --muc-domain "${INTEROP_MUC_DOMAIN:-conference.$DOMAIN}")
		;;
	slixmpp_pubsub)
		"$PY" -c 'import slixmpp' 2>/dev/null || { echo "python3-slixmpp missing (apt-get install -y python3-slixmpp)" >"$WORK/why"; return 1; }
		cmd=("$PY" "$HERE/slixmpp_pubsub.py" "${common[@]}" --pubsub-domain "${INTEROP_PUBSUB_DOMAIN:-pubsub.$DOMAIN}")
		;;
	aioxmpp_pubsub)
		"$PY" -c 'import slixmpp, aioxmpp' 2>/dev/null || { echo "python3-slixmpp/python3-aioxmpp missing (apt-get install -y python3-slixmpp python3-aioxmpp)" >"$WORK/why"; return 1; }
		cmd=("$PY" "$HERE/aioxmpp_pubsub.py" "${common[@]}" --pubsub-domain "${INTEROP_PUBSUB_DOMAIN:-pubsub.$DOMAIN}")
		;;
	esac
}

passed=0
failed=0
results=()
for s in $scripts; do
	log ""
	log "== $s"
	start=$SECONDS
	cmd=()
	if ! command_for "$s"; then
		why="$(cat "$WORK/why")"
		log "FAIL  $s  -- $why"
		results+=("FAIL  $s  -- $why")
		failed=$((failed + 1))
		continue
	fi
	log "\$ ${cmd[*]}"
	rc=0
	timeout -k 5 "$SCRIPT_TIMEOUT" "${cmd[@]}" >"$WORK/$s.log" 2>"$WORK/$s.err" || rc=$?
	sed 's/^/    /' "$WORK/$s.log"
	if [ -s "$WORK/$s.err" ]; then
		if [ "$rc" != 0 ] || [ "${INTEROP_VERBOSE:-0}" = 1 ]; then
			log "    ---- stderr (last 60 lines) ----"
			tail -n 60 "$WORK/$s.err" | cut -c1-2000 | sed 's/^/    /'
		fi
	fi
	took=$((SECONDS - start))
	if [ "$rc" = 0 ]; then
		line="PASS  $s  (${took}s)"
		passed=$((passed + 1))
	else
		why="exit $rc"
		[ "$rc" = 124 ] && why="timed out after ${SCRIPT_TIMEOUT}s"
		line="FAIL  $s  -- $why (${took}s)"
		failed=$((failed + 1))
	fi
	log "$line"
	results+=("$line")
done

if [ -n "$SERVER_PID" ]; then
	log ""
	log "== server checks"
	if grep -qE '^panic:|goroutine [0-9]+ \[running\]|WARNING: DATA RACE' "$SERVER_LOG"; then
		line="FAIL  server log: panic or data race"
		failed=$((failed + 1))
		grep -nE -A20 '^panic:|goroutine [0-9]+ \[running\]|WARNING: DATA RACE' "$SERVER_LOG" | head -60
	elif ! kill -0 "$SERVER_PID" 2>/dev/null; then
		line="FAIL  server exited during the tests"
		failed=$((failed + 1))
	else
		line="PASS  server log: no panic"
		passed=$((passed + 1))
	fi
	log "$line"
	results+=("$line")
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID"
		stopped=0
		for _ in $(seq 1 50); do
			kill -0 "$SERVER_PID" 2>/dev/null || { stopped=1; break; }
			sleep 0.2
		done
		if [ "$stopped" = 1 ]; then
			line="PASS  server stops on SIGTERM within 10s"
			passed=$((passed + 1))
			SERVER_PID=""
		else
			line="FAIL  server did not stop within 10s of SIGTERM"
			failed=$((failed + 1))
		fi
		log "$line"
		results+=("$line")
	fi
	[ "$failed" = 0 ] || server_log_tail 60
fi

log ""
log "== interop summary"
for r in "${results[@]}"; do log "$r"; done
log "interop: $passed passed, $failed failed"
[ "$failed" = 0 ]
