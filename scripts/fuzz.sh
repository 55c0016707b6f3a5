#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ (each against the module it exercises)
# and runs each for a bounded time, starting from the minimized corpus in
# Fuzz/corpus/<target>. Usage: scripts/fuzz.sh [seconds-per-target]
# Exits non-zero when a target crashes (the crashing input is kept in the work
# directory) or fails to build.
#   FUZZ_DIR=dir        work directory (default .build-fuzz)
#   FUZZ_TARGETS="A B"  only these targets
#   FUZZ_RUNS=N         run N executions per target instead of a time bound (the
#                       long campaigns of docs/FUZZING.md: one target at a time,
#                       under `nice -n 19`)
#   FUZZ_SAVE_CORPUS=1  afterwards, minimize what the run found (-merge=1) back
#                       into Fuzz/corpus/<target>
set -euo pipefail

seconds="${1:-30}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${FUZZ_DIR:-$root/.build-fuzz}"
mkdir -p "$work"

# Modules the targets import, built once as static libraries (in dependency order).
mods="$work/modules"
mkdir -p "$mods"
build_lib() {  # name, libraries it links
    local name="$1"; shift
    local links=()
    for lib in "$@"; do links+=(-l"$lib"); done
    if ! swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name "$name" -emit-module \
            -emit-module-path "$mods/$name.swiftmodule" -emit-library -static -o "$mods/lib$name.a" \
            -I "$mods" -L "$mods" "${links[@]}" "$root"/Sources/"$name"/*.swift 2>"$work/$name.build.log"; then
        cat "$work/$name.build.log" >&2
        echo "!! $name failed to build" >&2
        exit 2
    fi
}
build_lib UTF8Rules
build_lib JSONCore UTF8Rules
build_lib OpenClawConfig JSONCore UTF8Rules

status=0
# target | sources compiled into it (beside Fuzz/<target>.swift) | libraries it links
targets=(
    "FrameParserFuzz|Sources/WebSocketCodec/*.swift|UTF8Rules"
    "HTTPHeadFuzz|Sources/WebSocketCodec/*.swift|UTF8Rules"
    "JSONFuzz|Sources/JSONCore/*.swift|UTF8Rules"
    "RequestFuzz|Sources/GatewayProtocol/RequestEnvelope.swift|JSONCore UTF8Rules"
    "LedgerFuzz|Sources/Gateway/Messaging/SendLedgerState.swift|JSONCore UTF8Rules"
    "HandoverFuzz|Sources/Gateway/Handover/HandoverState.swift Sources/Gateway/Handover/HandoverDecoder.swift Sources/Gateway/Handover/HandoverFormatV1.swift|"
    "ConfigFuzz|Sources/Gateway/Channels/IRCConfig.swift Sources/Gateway/Channels/IRCProtocol.swift|OpenClawConfig JSONCore UTF8Rules"
)
for entry in "${targets[@]}"; do
    IFS='|' read -r target sources libs <<<"$entry"
    if [[ -n "${FUZZ_TARGETS:-}" && " $FUZZ_TARGETS " != *" $target "* ]]; then continue; fi
    binary="$work/$target"
    links=()
    for lib in $libs; do links+=(-l"$lib"); done
    files=()
    for pattern in $sources; do files+=("$root"/$pattern); done
    echo "== building $target"
    # The linker's noise about ASan symbols is kept out of the way unless the build fails.
    if ! swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name "$target" \
            -I "$mods" -L "$mods" "${links[@]}" \
            "${files[@]}" "$root/Fuzz/$target.swift" -o "$binary" 2>"$work/$target.build.log"; then
        grep -v "Cannot export local symbol" "$work/$target.build.log" >&2
        echo "!! $target failed to build" >&2
        exit 2
    fi

    corpus="$work/corpus-$target"
    mkdir -p "$corpus"
    if [[ -d "$root/Fuzz/corpus/$target" ]]; then cp -n "$root/Fuzz/corpus/$target"/* "$corpus"/ 2>/dev/null || true; fi
    dict=()
    if [[ -f "$root/Fuzz/$target.dict" ]]; then dict=("-dict=$root/Fuzz/$target.dict"); fi

    limit=(-max_total_time="$seconds")
    if [[ -n "${FUZZ_RUNS:-}" ]]; then limit=(-runs="$FUZZ_RUNS"); fi
    echo "== running $target (${limit[*]})"
    if (cd "$work" && "$binary" "$corpus" "${dict[@]}" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="$work/crash-$target-" 2>"$work/$target.log"); then
        grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "$work/$target.log" | tail -2 || true
        if [[ "${FUZZ_SAVE_CORPUS:-}" == 1 ]]; then
            minimized="$work/minimized-$target"
            rm -rf "$minimized" && mkdir -p "$minimized"
            (cd "$work" && "$binary" -merge=1 "$minimized" "$corpus" 2>"$work/$target.merge.log")
            rm -rf "$root/Fuzz/corpus/$target" && cp -r "$minimized" "$root/Fuzz/corpus/$target"
            echo "   corpus: $(ls "$minimized" | wc -l) inputs kept in Fuzz/corpus/$target"
        fi
    else
        status=1
        echo "!! $target crashed; see $work/$target.log and $work/crash-$target-*"
        grep -E "ERROR|Fatal error|Precondition failed|==[0-9]+==" "$work/$target.log" | head -5 || true
    fi
done
exit "$status"
