#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ (each against the module it exercises)
# and runs each for a bounded time. Usage: scripts/fuzz.sh [seconds-per-target]
# Exits non-zero when a target crashes (the crashing input is kept in the work
# directory) or fails to build. FUZZ_DIR overrides the work directory.
set -euo pipefail

seconds="${1:-30}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${FUZZ_DIR:-$root/.build-fuzz}"
mkdir -p "$work"

# The modules under test import UTF8Rules: build it once as a static library.
mods="$work/modules"
mkdir -p "$mods"
if ! swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name UTF8Rules -emit-module \
        -emit-module-path "$mods/UTF8Rules.swiftmodule" -emit-library -static -o "$mods/libUTF8Rules.a" \
        "$root"/Sources/UTF8Rules/*.swift 2>"$work/UTF8Rules.build.log"; then
    cat "$work/UTF8Rules.build.log" >&2
    echo "!! UTF8Rules failed to build" >&2
    exit 2
fi

status=0
# target:module it exercises
for entry in FrameParserFuzz:WebSocketCodec HTTPHeadFuzz:WebSocketCodec JSONFuzz:JSONCore; do
    target="${entry%%:*}"
    module="${entry#*:}"
    binary="$work/$target"
    echo "== building $target"
    # The linker's noise about ASan symbols is kept out of the way unless the build fails.
    if ! swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name "$target" \
            -I "$mods" -L "$mods" -lUTF8Rules \
            "$root"/Sources/"$module"/*.swift "$root/Fuzz/$target.swift" -o "$binary" 2>"$work/$target.build.log"; then
        grep -v "Cannot export local symbol" "$work/$target.build.log" >&2
        echo "!! $target failed to build" >&2
        exit 2
    fi

    corpus="$work/corpus-$target"
    mkdir -p "$corpus"
    if [[ -d "$root/Fuzz/seeds/$target" ]]; then cp -n "$root/Fuzz/seeds/$target"/* "$corpus"/ 2>/dev/null || true; fi
    dict=()
    if [[ -f "$root/Fuzz/$target.dict" ]]; then dict=("-dict=$root/Fuzz/$target.dict"); fi

    echo "== running $target for ${seconds}s"
    if (cd "$work" && "$binary" "$corpus" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="$work/crash-$target-" 2>"$work/$target.log"); then
        grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "$work/$target.log" | tail -2 || true
    else
        status=1
        echo "!! $target crashed; see $work/$target.log and $work/crash-$target-*"
        grep -E "ERROR|Fatal error|Precondition failed|==[0-9]+==" "$work/$target.log" | head -5 || true
    fi
done
exit "$status"
