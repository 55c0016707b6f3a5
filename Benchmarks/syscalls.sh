#!/usr/bin/env bash
# Load-independent side of the wall clock: what the kernel does per request, gateway vs the C floor.
#
#   Benchmarks/syscalls.sh [REQUESTS] [CONNS]     (defaults 200000 and 64)
#
# Wall-clock ratios swing on 2 shared cores; counts per request much less. For the gateway
# and Benchmarks/floor.c in turn, the load client (Benchmarks/loadclient.c) handshakes CONNS
# connections, then `perf stat` counts on both processes while exactly REQUESTS `health`
# requests are served: reads, writes and epoll_waits per request (how big the loop's
# batches are), context switches per request (how often each side went to sleep and had to
# be woken), and CPU time per request (task-clock, user + kernel). Needs `perf` with
# tracepoints (root, or kernel.perf_event_paranoid <= 1). The floor's answers are padded
# to the size of the gateway's `health` answer. OPENCLAW_BIN=path measures an existing
# binary instead of building the release one.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${1:-200000}
CONNS=${2:-64}
SCRATCH=$PWD/.build-bench-release

for tool in perf cc python3; do
    command -v "$tool" >/dev/null || { echo "syscalls: $tool is needed (apt-get install linux-perf)" >&2; exit 1; }
done
if [[ -z ${OPENCLAW_BIN:-} ]]; then
    OPENCLAW_BIN=$(scripts/build-release.sh "$SCRATCH")
fi
mkdir -p "$SCRATCH"
CLIENT=$SCRATCH/loadclient
FLOOR=$SCRATCH/floor
cc -O2 -Wall -o "$CLIENT" Benchmarks/loadclient.c
cc -O2 -Wall -o "$FLOOR" Benchmarks/floor.c

TMP=$(mktemp -d /tmp/openclaw-syscalls.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export OPENCLAW_STATE_DIR=$TMP/state OPENCLAW_GATEWAY_TOKEN=syscalls-$RANDOM$RANDOM
unset NOTIFY_SOCKET LISTEN_FDS LISTEN_PID WATCHDOG_USEC
mkdir -p "$OPENCLAW_STATE_DIR"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
EVENTS=syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_epoll_wait,context-switches,task-clock
perf stat -x, -e "$EVENTS" -- true >/dev/null 2>&1 \
    || { echo "syscalls: perf cannot count syscall tracepoints here (run as root?)" >&2; exit 1; }

# measure NAME PID PORT: counts on the server PID and on the client while REQUESTS are served.
measure() {
    mkfifo "$TMP/$1-in" "$TMP/$1-out"
    "$CLIENT" -m load -p "$3" -t "$OPENCLAW_GATEWAY_TOKEN" -n "$CONNS" -r "$REQUESTS" -d 600 -g \
        <"$TMP/$1-in" >"$TMP/$1-out" 2>>"$TMP/client.log" &
    local client=$! gate out line result
    exec {gate}>"$TMP/$1-in"
    exec {out}<"$TMP/$1-out"
    read -r line <&"$out"
    [[ $line == HANDSHAKEN* ]] || { cat "$TMP/client.log" >&2; echo "syscalls: $1: handshakes failed" >&2; exit 1; }
    perf stat -x, -e "$EVENTS" -p "$2" -o "$TMP/$1.server" &
    local server_perf=$!
    perf stat -x, -e "$EVENTS" -p "$client" -o "$TMP/$1.client" &
    local client_perf=$!
    sleep 0.5  # perf attached
    echo go >&"$gate"
    read -r result <&"$out" || true
    kill -INT "$server_perf"
    wait "$server_perf" || true
    wait "$client" || { cat "$TMP/client.log" >&2; echo "syscalls: $1: load failed: $result" >&2; exit 1; }
    wait "$client_perf" || true
    exec {gate}>&- {out}<&-
    local side
    for side in server client; do
        awk -F, -v n="$REQUESTS" -v who="$1 $side" '
            $1 ~ /^[0-9.]+$/ { name = $3; sub(/^syscalls:sys_enter_/, "", name); v[name] = $1 / n }
            END { printf "| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.2f |\n", who, v["read"], v["write"] + v["writev"],
                  v["epoll_wait"], v["context-switches"], 1 / (v["epoll_wait"] > 0 ? v["epoll_wait"] : 1), v["task-clock"] * 1000 }' \
            "$TMP/$1.$side"
    done
    echo "$1: $result" >>"$TMP/results"
}

port=$(free_port)
mkfifo "$TMP/ready"
python3 Benchmarks/ready.py "$TMP/gateway.log" "$OPENCLAW_BIN" gateway --port "$port" >"$TMP/ready" &
PIDS+=($!)
read -r line <"$TMP/ready" || true
[[ $line == READY* ]] || { tail -n 20 "$TMP/gateway.log" >&2; echo "syscalls: gateway did not start" >&2; exit 1; }
read -r _ _ gateway_pid <<<"$line"
echo "per request, $REQUESTS health requests, $CONNS connections, load average $(cut -d' ' -f1 /proc/loadavg) at start"
echo
echo "| process | read | write | epoll_wait | context switches | requests per epoll_wait | CPU µs (user + kernel) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
measure gateway "$gateway_pid" "$port"
# The floor's answers are padded to the gateway's `health` answer: the same bytes for the
# kernel and the client to move, so the difference is the servers' own work.
answer_bytes=$(sed -n 's/.* answer_bytes=\([0-9]*\).*/\1/p' "$TMP/results")
floor_port=$(free_port)
mkfifo "$TMP/floor"
"$FLOOR" "$floor_port" "${answer_bytes:-0}" >"$TMP/floor" &
floor_pid=$!
PIDS+=("$floor_pid")
read -r line <"$TMP/floor" || true
[[ $line == LISTENING ]] || { echo "syscalls: the floor server did not start" >&2; exit 1; }
measure floor "$floor_pid" "$floor_port"
echo
sed 's/^/load client: /' "$TMP/results"
