#!/usr/bin/env bash
# Speed and footprint benchmark of the gateway (issue 4): builds the release
# binary, starts it on a free loopback port with a throw-away state dir, drives
# it with Benchmarks/loadclient.c and prints one Markdown table.
#
#   scripts/bench.sh            (what `make bench` runs; about 2 minutes after the build)
#
# Environment knobs:
#   OPENCLAW_BIN=path     benchmark this binary instead of building one
#   BENCH_DURATION=5      seconds measured per closed-loop row (after BENCH_WARMUP=1)
#   BENCH_REPS=5          repetitions of the exec->READY and cold-start rows (median)
#   BENCH_IDLE=10000      largest idle-client count
#   BENCH_OUT=file        also write the table to this file
#   BENCH_RESTART=0       skip the restart row (it boots the system suite's container:
#                         root, systemd-nspawn, the cached rootfs; see Benchmarks/restart.py)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
SCRATCH=$ROOT/.build-bench-release
DURATION=${BENCH_DURATION:-5}
WARMUP=${BENCH_WARMUP:-1}
REPS=${BENCH_REPS:-5}
IDLE_MAX=${BENCH_IDLE:-10000}
IDLE_MID=1000
HANDSHAKES=1000

log() { printf 'bench: %s\n' "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }

for tool in cc python3 systemd-socket-activate; do
    command -v "$tool" >/dev/null || fail "$tool is needed (apt-get install build-essential python3 systemd)"
done

# Every client and the gateway hold one descriptor per connection.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
(( $(ulimit -n) >= IDLE_MAX + 100 )) || fail "ulimit -n is $(ulimit -n); need $((IDLE_MAX + 100))"

# --- build -------------------------------------------------------------------
if [[ -z ${OPENCLAW_BIN:-} ]]; then
    log "building the release binary as shipped (scripts/build-release.sh)"
    OPENCLAW_BIN=$(scripts/build-release.sh "$SCRATCH")
fi
[[ -x $OPENCLAW_BIN ]] || fail "no binary at $OPENCLAW_BIN"
mkdir -p "$SCRATCH"
CLIENT=$SCRATCH/loadclient
FLOOR=$SCRATCH/floor
cc -O2 -Wall -o "$CLIENT" Benchmarks/loadclient.c
cc -O2 -Wall -o "$FLOOR" Benchmarks/floor.c
BENCH_START=$SECONDS
LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg)
awk -v l="$LOAD_BEFORE" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }' \
    && log "warning: load average is $LOAD_BEFORE on $(nproc) cores: other work will skew the wall-clock rows"

# --- scratch state and cleanup ----------------------------------------------
TMP=$(mktemp -d /tmp/openclaw-bench.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export OPENCLAW_STATE_DIR=$TMP/state
export OPENCLAW_GATEWAY_TOKEN=bench-$RANDOM$RANDOM$RANDOM
unset OPENCLAW_PROFILE OPENCLAW_CONFIG_PATH NOTIFY_SOCKET LISTEN_FDS LISTEN_PID WATCHDOG_USEC
mkdir -p "$OPENCLAW_STATE_DIR"
GWLOG=$TMP/gateway.log

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) print "nan"; else printf "%.1f\n", (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# Value of key=value in a loadclient RESULT line.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
forget() { local keep=() p; for p in "${PIDS[@]}"; do [[ $p != "$1" ]] && keep+=("$p"); done; PIDS=("${keep[@]}"); }
stop_pid() {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    forget "$1"
}

# Starts the gateway under Benchmarks/ready.py; sets GW_PID, GW_WRAPPER, GW_PORT, READY_MS.
start_gateway() {
    GW_PORT=$(free_port)
    local fifo=$TMP/ready.$GW_PORT
    mkfifo "$fifo"
    python3 Benchmarks/ready.py "$GWLOG" "$OPENCLAW_BIN" gateway --port "$GW_PORT" >"$fifo" &
    GW_WRAPPER=$!
    PIDS+=("$GW_WRAPPER")
    local line
    read -r line <"$fifo" || true
    rm -f "$fifo"
    [[ $line == READY* ]] || { tail -n 20 "$GWLOG" >&2; fail "the gateway did not report READY=1"; }
    read -r _ READY_MS GW_PID <<<"$line"
}
stop_gateway() { stop_pid "$GW_WRAPPER"; }

# Opens N more idle clients (60 s at most for their handshakes) and holds them;
# sets IDLE_OK to how many completed it.
IDLE_PIDS=()
hold_idle() {
    local n=$1 out=$TMP/idle.$RANDOM
    mkfifo "$out"
    "$CLIENT" -m idle -p "$GW_PORT" -t "$OPENCLAW_GATEWAY_TOKEN" -n "$n" -c 128 -T 60 </dev/null >"$out" 2>>"$TMP/client.log" &
    local pid=$!
    PIDS+=("$pid")
    IDLE_PIDS+=("$pid")
    local line
    read -r line <"$out" || true
    rm -f "$out"
    IDLE_OK=${line#READY }
    [[ $IDLE_OK =~ ^[0-9]+$ ]] || IDLE_OK=0
    (( IDLE_OK == n )) || log "warning: only $IDLE_OK of $n idle clients completed the handshake (see the client log below)"
}
# Connections the gateway holds now: its open descriptors beyond those it had idle.
open_fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# --- 1. exec -> READY=1 -----------------------------------------------------
log "exec -> READY=1 ($REPS starts)"
ready_samples=()
for _ in $(seq "$REPS"); do
    start_gateway
    ready_samples+=("$READY_MS")
    stop_gateway
done
READY_MED=$(printf '%s\n' "${ready_samples[@]}" | median)

# --- 2. RSS: idle, 1,000 and 10,000 idle clients on one fresh gateway -------
log "RSS with 0 / $IDLE_MID / $IDLE_MAX idle clients"
start_gateway
sleep 1
RSS0=$(rss_kib "$GW_PID")
FDS0=$(open_fds "$GW_PID")
hold_idle "$IDLE_MID"
sleep 1
RSS1=$(rss_kib "$GW_PID")
LIVE1=$(( $(open_fds "$GW_PID") - FDS0 ))
if (( IDLE_OK == IDLE_MID )); then
    hold_idle $((IDLE_MAX - IDLE_MID))
    sleep 1
    RSS2=$(rss_kib "$GW_PID")
    LIVE2=$(( $(open_fds "$GW_PID") - FDS0 ))
else
    log "skipping $IDLE_MAX idle clients: $IDLE_MID did not all connect"
    RSS2=; LIVE2=0
fi
for pid in "${IDLE_PIDS[@]}"; do stop_pid "$pid"; done
stop_gateway

# --- 3. closed loop and handshakes ------------------------------------------
start_gateway
declare -A RPS P50 P99 MAX NOTE
closed_loop() { # port conns key-prefix
    log "closed loop${3:+ ($3)}, $2 connection(s), ${WARMUP}s warm-up + ${DURATION}s"
    local r
    r=$("$CLIENT" -m load -p "$1" -t "$OPENCLAW_GATEWAY_TOKEN" -n "$2" -d "$DURATION" -w "$WARMUP" -T 30 \
        2>>"$TMP/client.log") || log "warning: load with $2 connections had failures: $r"
    local k=$3$2
    NOTE[$k]=$(awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); if ((kv[1] == "failed" || kv[1] == "bad" || kv[1] == "dropped") && kv[2] > 0) printf " %s", $i } }' <<<"$r")
    RPS[$k]=$(field "$r" rps); P50[$k]=$(field "$r" p50_us); P99[$k]=$(field "$r" p99_us); MAX[$k]=$(field "$r" max_us)
    ANSWER_BYTES=$(field "$r" answer_bytes)
}
# The C floor, same client, same moment: what this machine allows now. Its rows run
# right after the gateway's at the same connection count, so that both see the same
# load on shared cores (the ratios are the check; absolute numbers move with the machine).
# Its answers are padded to the size of the gateway's `health` answer (measured by the
# first row), so the kernel and the client move and scan the same bytes for both servers
# and the ratio compares only the servers' own work.
start_floor() {
    port=$(free_port)
    mkfifo "$TMP/floor"
    FLOOR_ANSWER=${ANSWER_BYTES:-0}
    "$FLOOR" "$port" "$FLOOR_ANSWER" >"$TMP/floor" &
    FLOOR_PID=$!
    PIDS+=("$FLOOR_PID")
    read -r line <"$TMP/floor" || true
    [[ $line == LISTENING ]] || fail "the floor server did not start"
}
# The same 64-connection row while Prometheus-style scraping runs: GET /metrics once a
# second (bash's /dev/tcp, no process per scrape). What the counters cost the request
# path shows as the difference to the row above.
scrape_metrics() {
    local n=0
    while :; do
        if exec 3<>"/dev/tcp/127.0.0.1/$GW_PORT"; then
            printf 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
            grep -q '^openclaw_' <&3 && n=$((n + 1))
            exec 3<&-
        fi
        echo "$n" >"$TMP/scrapes"
        sleep 1
    done
}
scraped_row() {
    scrape_metrics &
    SCRAPER=$!
    PIDS+=("$SCRAPER")
    closed_loop "$GW_PORT" 64 scraped
    stop_pid "$SCRAPER"
    SCRAPES=$(cat "$TMP/scrapes" 2>/dev/null || echo 0)
}
for n in 1 16 64 256; do
    closed_loop "$GW_PORT" "$n" ""
    [[ -n ${FLOOR_PID:-} ]] || start_floor
    if (( n == 64 )); then scraped_row; fi
    if (( n != 16 )); then closed_loop "$port" "$n" floor; fi
done
stop_pid "$FLOOR_PID"
log "handshakes: $HANDSHAKES connections, 64 in flight"
r=$("$CLIENT" -m handshake -p "$GW_PORT" -t "$OPENCLAW_GATEWAY_TOKEN" -n "$HANDSHAKES" -c 64 -T 60 2>>"$TMP/client.log") \
    || log "warning: handshakes had failures: $r"
HS_TOTAL=$(field "$r" total_ms); HS_RATE=$(field "$r" per_s); HS_P50=$(field "$r" p50_us); HS_P99=$(field "$r" p99_us)
HS_OK=$(field "$r" ok); HS_DROPPED=$(field "$r" dropped_while_idle)

# --- 4. CLI wall time against the running gateway ---------------------------
export OPENCLAW_GATEWAY_URL=ws://127.0.0.1:$GW_PORT
cli_ms() { # median wall ms of one CLI command (hyperfine when installed)
    "$OPENCLAW_BIN" "$@" >/dev/null 2>>"$TMP/cli.log" || log "warning: 'openclaw $*' exited non-zero (see below)"
    if command -v hyperfine >/dev/null; then
        hyperfine -N -i --warmup 3 --runs 30 --export-json "$TMP/hf.json" -- "$(printf '%q ' "$OPENCLAW_BIN" "$@")" >/dev/null 2>&1
        python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1e3))' "$TMP/hf.json"
    else
        local s=() t0 t1
        for _ in $(seq 20); do
            t0=$(date +%s%N); "$OPENCLAW_BIN" "$@" >/dev/null 2>&1 || true; t1=$(date +%s%N)
            s+=("$(( (t1 - t0) / 1000 ))")
        done
        printf '%s\n' "${s[@]}" | median | awk '{printf "%.1f\n", $1/1000}'
    fi
}
log "CLI wall time"
# Exits 1 where no systemd manager runs (containers); the wall time still counts.
STATUS_MS=$(cli_ms gateway status --json --url "$OPENCLAW_GATEWAY_URL")
HEALTH_MS=$(cli_ms gateway health)
stop_gateway


# --- 5. cold start: first connect on an activated socket -> hello-ok --------
log "cold start through systemd-socket-activate ($REPS runs)"
cold_samples=()
for _ in $(seq "$REPS"); do
    port=$(free_port)
    salog=$TMP/activate.$port
    systemd-socket-activate -l "127.0.0.1:$port" -E OPENCLAW_STATE_DIR -E OPENCLAW_GATEWAY_TOKEN \
        "$OPENCLAW_BIN" gateway 2>"$salog" &
    sa=$!
    PIDS+=("$sa")
    for _ in $(seq 100); do grep -q 'Listening on' "$salog" && break; sleep 0.05; done
    r=$("$CLIENT" -m handshake -p "$port" -t "$OPENCLAW_GATEWAY_TOKEN" -n 1 -T 10 2>>"$TMP/client.log") \
        || { tail -n 5 "$salog" "$TMP/client.log" >&2; fail "cold start: $r"; }
    cold_samples+=("$(awk '{printf "%.2f", $1/1000}' <<<"$(field "$r" p50_us)")")
    stop_pid "$sa"   # systemd-socket-activate execs the gateway in place: same pid
done
COLD_MED=$(printf '%s\n' "${cold_samples[@]}" | median)

# --- 6. restart with 1,000 clients: needs a service manager, so in a booted container ---
if [[ ${BENCH_RESTART:-1} == 0 ]]; then
    RESTART_CELL="not measured (BENCH_RESTART=0)"; RESTART_RC=1
else
    log "restart with 1000 clients in the system suite's booted container (Benchmarks/restart.py)"
    RESTART_RC=0
    RESTART_CELL=$(python3 Benchmarks/restart.py "$OPENCLAW_BIN" 2>>"$TMP/restart.log") || RESTART_RC=$?
    (( RESTART_RC == 0 )) || { log "restart row:"; tail -n 5 "$TMP/restart.log" >&2; }
fi

# --- the table ---------------------------------------------------------------
if [[ -s $TMP/cli.log ]]; then log "CLI stderr:"; sort -u "$TMP/cli.log" | head -n 5 >&2; fi
if [[ -s $TMP/client.log ]]; then
    log "load client errors (most frequent first):"
    sed -E 's/conn [0-9]+/conn N/' "$TMP/client.log" | sort | uniq -c | sort -rn | head -n 8 >&2
fi

k() { awk -v v="$1" 'BEGIN { if (v >= 1000) printf "%.1fk", v/1000; else printf "%d", v }'; }
t() { awk -v v="$1" 'BEGIN { if (v >= 1e6) printf "%.2f s", v/1e6; else if (v >= 1000) printf "%.2f ms", v/1000; else printf "%d µs", v }'; }
mib() { awk -v v="$1" 'BEGIN { printf "%.1f MiB", v/1024 }'; }
per_conn() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { if (n > 0) printf "%.1f KiB/conn", (b-a)/n; else printf "n/a" }'; }
# "RSS (per conn)", naming how many connections the gateway really held when fewer than asked.
rssrow() { # rss live wanted
    [[ -n $1 ]] || { printf 'not measured'; return; }
    printf '%s (%s' "$(mib "$1")" "$(per_conn "$RSS0" "$1" "$2")"
    (( $2 == $3 )) || printf '; only %s of %s connected' "$2" "$3"
    printf ')'
}
ok() { awk "BEGIN { exit !($1) }" && echo "✅" || echo "❌"; }
row() { printf '| %s | %s | %s | %s |\n' "$@"; }
loadrow() {
    [[ -n ${RPS[$1]} ]] || { printf 'failed'; return; }
    printf '%s req/s · %s / %s / %s' "$(k "${RPS[$1]}")" "$(t "${P50[$1]}")" "$(t "${P99[$1]}")" "$(t "${MAX[$1]}")"
    [[ -z ${NOTE[$1]} ]] || printf ' (%s )' "${NOTE[$1]}"
}

{
printf '\nopenclaw gateway benchmark — %s, %s cores, %s, commit %s, load average %s at start\n\n' \
    "$(date -u +%Y-%m-%d)" "$(nproc)" "$(uname -sr)" "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
    "$LOAD_BEFORE"
row "measure" "openclaw (this run)" "target" "reference (issue 4, same machine kind)"
row "---" "---" "---" "---"
row "1 conn: req/s · p50 / p99 / max" "$(loadrow 1)" "≥ 20k req/s $(ok "${RPS[1]} >= 20000")" \
    "C floor 24.8k · 38 µs; Node+ws 13.4k · 70 µs; NIO+Foundation 6.5k · 156 µs"
row "16 conns" "$(loadrow 16)" "" ""
row "64 conns" "$(loadrow 64)" "≥ 70k req/s, p99 < 2 ms $(ok "${RPS[64]} >= 70000 && ${P99[64]} < 2000")" \
    "C floor 86.6k · 0.69 / 1.4 ms; Node+ws 37.4k · 1.6 / 3.7 ms; NIO+Foundation 14.8k · 4.1 / 9.4 ms"
row "256 conns" "$(loadrow 256)" "" ""
row "64 conns, \`/metrics\` scraped once a second ($SCRAPES scrapes)" "$(loadrow scraped64)" \
    "vs. unscraped: $(awk -v a="${RPS[scraped64]}" -v b="${RPS[64]}" 'BEGIN { printf "%.2f", a / b }') × req/s" ""
ratio() { awk -v a="${RPS[$1]}" -v b="${RPS[floor$1]}" 'BEGIN { printf "%.2f", a / b }'; }
p99ratio() { awk -v a="${P99[$1]}" -v b="${P99[floor$1]}" 'BEGIN { printf "%.2f", a / b }'; }
row "C floor (Benchmarks/floor.c, answers padded to ${FLOOR_ANSWER:-?} B like \`health\`), same client, this run: 1 conn" "$(loadrow floor1)" "openclaw/floor $(ratio 1)" \
    "issue's floor: 24.8k · 38 µs"
row "C floor, this run: 64 conns" "$(loadrow floor64)" \
    "openclaw/floor $(ratio 64) (≥ 0.9 $(ok "$(ratio 64) >= 0.9")), p99 $(p99ratio 64) × (≤ 1.5 $(ok "$(p99ratio 64) <= 1.5"))" \
    "issue's floor: 86.6k · 0.69 / 1.4 ms"
row "C floor, this run: 256 conns" "$(loadrow floor256)" "openclaw/floor $(ratio 256) (≥ 0.8 $(ok "$(ratio 256) >= 0.8"))" ""
hsrow() {
    [[ -n $HS_TOTAL ]] || { printf 'failed'; return; }
    printf '%s total · %s/s · p50 %s / p99 %s' "$(t "$(awk -v v="$HS_TOTAL" 'BEGIN { print v * 1000 }')")" \
        "$(k "$HS_RATE")" "$(t "$HS_P50")" "$(t "$HS_P99")"
    (( HS_OK == HANDSHAKES )) || printf ' (only %s of %s completed)' "$HS_OK" "$HANDSHAKES"
    (( HS_DROPPED == 0 )) || printf ' (%s closed by the gateway meanwhile)' "$HS_DROPPED"
}
row "handshake, $HANDSHAKES conns (64 in flight; each stays open)" "$(hsrow)" "" ""
row "RSS idle after start" "$(mib "$RSS0")" "< 8 MB $(ok "$RSS0 * 1024 < 8000000")" "Node gateway: tens of MB"
row "RSS, $IDLE_MID idle clients" "$(rssrow "$RSS1" "$LIVE1" "$IDLE_MID")" "" ""
row "RSS, $IDLE_MAX idle clients" "$(rssrow "$RSS2" "$LIVE2" "$IDLE_MAX")" \
    "< 16 KiB/conn $(ok "$LIVE2 == $IDLE_MAX && (${RSS2:-0} - $RSS0) / $IDLE_MAX < 16")" ""
row "exec → READY=1 (median of $REPS)" "$READY_MED ms" "" ""
row "cold start: first connect → hello-ok, activated socket (median of $REPS)" "$COLD_MED ms" \
    "< 25 ms $(ok "$COLD_MED < 25")" ""
row "\`openclaw gateway status --json\` (median)" "$STATUS_MS ms" "< 30 ms $(ok "$STATUS_MS < 30")" ""
row "\`openclaw gateway health\` (median)" "$HEALTH_MS ms" "" ""
restart_target() { case $RESTART_RC in 0) echo "0 closed, lost, refused ✅" ;; 3) echo "0 closed, lost, refused ❌" ;; esac; }
row "restart, 1000 clients (50 with a request in flight), booted container, ${BENCH_RESTARTS:-3} restarts" "$RESTART_CELL" \
    "$(restart_target)" ""
printf '\nClient: Benchmarks/loadclient.c (C, epoll, one thread) on the same cores; closed loop, one `health` in flight\n'
printf 'per connection; %ss measured per row after %ss warm-up. Benchmark time: %ss (without the build).\n' \
    "$DURATION" "$WARMUP" "$((SECONDS - BENCH_START))"

} | tee "${BENCH_OUT:-/dev/null}"
