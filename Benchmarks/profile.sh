#!/usr/bin/env bash
# Instruction profile of the gateway's hot path under callgrind.
#
#   Benchmarks/profile.sh [REQUESTS] [CONNS]     (defaults 20000 and 16)
#
# Wall-clock numbers are noisy on 2 shared cores; instruction counts are not.
# The gateway runs under valgrind; the load client opens CONNS connections,
# the counters are zeroed once their handshakes are done, then exactly
# REQUESTS `health` requests are measured. Then, separately, handshakes: an
# idle client holds PROFILE_HANDSHAKE_BASE (default 100) connections, the
# counters are zeroed once they are in, and PROFILE_HANDSHAKES (default 100)
# more connections complete the handshake and stay open, so each pays for its
# hello-ok snapshot and the presence fan-out to everyone connected; closing
# is not counted. Prints Ir per request / per handshake and the top functions
# by self cost (demangled). OPENCLAW_BIN=path profiles an existing binary.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${1:-20000}
CONNS=${2:-16}
HANDSHAKES=${PROFILE_HANDSHAKES:-100}
HANDSHAKE_BASE=${PROFILE_HANDSHAKE_BASE:-100}
SCRATCH=$PWD/.build-bench-release
TOP=${PROFILE_TOP:-15}

for tool in valgrind callgrind_control callgrind_annotate strip cc python3; do
    command -v "$tool" >/dev/null || { echo "profile: $tool is needed (apt-get install valgrind)" >&2; exit 1; }
done
# The binary as shipped and as `make bench` builds it (same scratch path, same flags: with
# other flags each of the two would relink it, and libstdc++ would be linked dynamically).
if [[ -z ${OPENCLAW_BIN:-} ]]; then
    OPENCLAW_BIN=$(scripts/build-release.sh "$SCRATCH")
fi
mkdir -p "$SCRATCH"
CLIENT=$SCRATCH/loadclient
cc -O2 -Wall -o "$CLIENT" Benchmarks/loadclient.c

TMP=$(mktemp -d /tmp/openclaw-profile.XXXXXX)
WRAPPER=
IDLE_PIDS=()
cleanup() {
    local pid
    for pid in "${IDLE_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    if [[ -n $WRAPPER ]]; then kill -TERM "$WRAPPER" 2>/dev/null || true; wait "$WRAPPER" 2>/dev/null || true; fi
    [[ -n ${GATE_FD:-} ]] && exec {GATE_FD}>&- || true
    [[ -n ${PROFILE_KEEP:-} ]] && echo "kept $TMP" >&2 || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export OPENCLAW_STATE_DIR=$TMP/state OPENCLAW_GATEWAY_TOKEN=profile-$RANDOM$RANDOM
unset NOTIFY_SOCKET LISTEN_FDS LISTEN_PID WATCHDOG_USEC
mkdir -p "$OPENCLAW_STATE_DIR"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# Valgrind 3.19 cannot read the toolchain's DWARF 5 and gives up; the symbol
# table alone names every function, which is all a per-function profile needs.
strip --strip-debug -o "$TMP/openclaw" "$OPENCLAW_BIN"

mkfifo "$TMP/ready"
READY_TIMEOUT=120 python3 Benchmarks/ready.py "$TMP/gateway.log" \
    valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out" --dump-instr=no \
    "$TMP/openclaw" gateway --port "$PORT" >"$TMP/ready" &
WRAPPER=$!
read -r line <"$TMP/ready" || true
[[ $line == READY* ]] || { tail -n 20 "$TMP/gateway.log" >&2; echo "profile: gateway did not start" >&2; exit 1; }
read -r _ _ PID <<<"$line"

# The client waits at its gate (a line on stdin) between handshakes and load.
mkfifo "$TMP/gate-in" "$TMP/gate-out"
"$CLIENT" -m load -p "$PORT" -t "$OPENCLAW_GATEWAY_TOKEN" -n "$CONNS" -r "$REQUESTS" -d 600 -g \
    <"$TMP/gate-in" >"$TMP/gate-out" 2>"$TMP/client.log" &
CLIENT_PID=$!
exec {GATE_FD}>"$TMP/gate-in"
exec {OUT_FD}<"$TMP/gate-out"
read -r line <&"$OUT_FD"
[[ $line == HANDSHAKEN* ]] || { cat "$TMP/client.log" >&2; echo "profile: handshakes failed" >&2; exit 1; }
callgrind_control -z "$PID" >/dev/null 2>&1
echo go >&"$GATE_FD"
read -r result <&"$OUT_FD" || true
wait "$CLIENT_PID" || { cat "$TMP/client.log" >&2; echo "profile: load failed: $result" >&2; exit 1; }
callgrind_control -d "requests" "$PID" >/dev/null 2>&1

# Idle clients hold their connections (discarding events) until stdin closes; `hold NAME N`
# starts one and waits for all N handshakes.
hold() {
    mkfifo "$TMP/$1-in" "$TMP/$1-out"
    "$CLIENT" -m idle -p "$PORT" -t "$OPENCLAW_GATEWAY_TOKEN" -n "$2" -c 16 -T 300 \
        <"$TMP/$1-in" >"$TMP/$1-out" 2>>"$TMP/client.log" &
    IDLE_PIDS+=($!)
    local fd out
    exec {fd}>"$TMP/$1-in"
    read -r out <"$TMP/$1-out" || true
    [[ $out == "READY $2" ]] || { cat "$TMP/client.log" >&2; echo "profile: $1: handshakes failed: $out" >&2; exit 1; }
}
# Presence events are coalesced (one per 250 ms, GatewayServer.presenceMinIntervalMs):
# waiting past one interval lets the last joins' event go out inside the window it belongs to.
settle() { sleep 0.4; }
hold base "$HANDSHAKE_BASE"
settle
callgrind_control -z "$PID" >/dev/null 2>&1
hold measured "$HANDSHAKES"
settle
callgrind_control -d "handshakes" "$PID" >/dev/null 2>&1

demangle() { if command -v swift >/dev/null; then swift demangle --simplified --compact; else cat; fi; }
report() { # dump-file label units
    local total
    total=$(sed -n 's/^summary: *//p;s/^totals: *//p' "$1" | head -n 1)
    printf '\n== %s: %s Ir in all, %s Ir per %s ==\n' "$2" "$total" "$((total / $3))" "$4"
    # Frames still on the stack at a mid-run dump (main, the event loop) show the
    # whole total as their own: drop those, keep real self costs.
    local kind
    for kind in no yes; do
        [[ $kind == no ]] && echo "-- self cost, top $TOP --" || echo "-- inclusive, top $TOP below the event loop --"
        callgrind_annotate --inclusive="$kind" --threshold=100 "$1" 2>/dev/null \
            | awk -v total="$total" -v top="$TOP" '/^-+$/ {sep++; next}
                sep >= 3 && $1 ~ /^[0-9,]+$/ { c = $1; gsub(",", "", c); if (c + 0 < 0.99 * total && n++ < top) print }' \
            | demangle | sed -E 's/ \[[^]]*\]$//; s/\?\?\?://' | cut -c1-200
    done
}
files=("$TMP"/cg.out.*)
req=$(grep -l '^desc: Trigger: .*requests' "${files[@]}" || true)
hs=$(grep -l '^desc: Trigger: .*handshakes' "${files[@]}" || true)
[[ -n $req && -n $hs ]] || { ls -l "$TMP" >&2; echo "profile: callgrind dumps missing" >&2; exit 1; }
echo "gateway under callgrind: $CONNS connections; counters zeroed after their handshakes"
echo "load client: $result"
report "$req" "$REQUESTS health requests (closed loop, $CONNS conns)" "$REQUESTS" request
report "$hs" "$HANDSHAKES handshakes with $HANDSHAKE_BASE clients connected (16 in flight, kept open: hello-ok snapshot and presence fan-out included)" "$HANDSHAKES" handshake
cp "$req" "$SCRATCH/callgrind.requests.out"
cp "$hs" "$SCRATCH/callgrind.handshakes.out"
echo
echo "full profiles: $SCRATCH/callgrind.{requests,handshakes}.out (callgrind_annotate --inclusive=yes FILE)"
