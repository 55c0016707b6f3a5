#!/usr/bin/env bash
# Builds the shipped release binary and prints its path. Usage:
#   scripts/build-release.sh [SCRATCH_DIR]     (default .build-release)
# The .deb and the benchmark both use it, so the benchmark measures what ships.
#
# --static-swift-stdlib still links libstdc++ and libgcc_s dynamically (the
# Swift runtime's static-stdlib-args.lnk says -lstdc++). A search directory
# that offers only libstdc++.a makes ld pick the archive (-L applies to every
# -l, wherever it stands), and -static-libgcc replaces libgcc_s with
# libgcc_eh: the binary then needs only libc6 and libsystemd0.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(realpath -m "${1:-$repo/.build-release}")
mkdir -p "$scratch/static-libstdc++"
ln -sf "$(gcc -print-file-name=libstdc++.a)" "$scratch/static-libstdc++/libstdc++.a"
flags=(-c release --static-swift-stdlib --scratch-path "$scratch"
    -Xlinker -L"$scratch/static-libstdc++" -Xswiftc -Xclang-linker -Xswiftc -static-libgcc
    -Xlinker -z -Xlinker relro -Xlinker -z -Xlinker now)
(cd "$repo" && swift build "${flags[@]}" --product openclaw >&2)
echo "$(cd "$repo" && swift build "${flags[@]}" --show-bin-path)/openclaw"
