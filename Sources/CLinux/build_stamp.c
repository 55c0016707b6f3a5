#include "CLinux.h"

// scripts/stamp-build.sh finds the marker in the binary and overwrites the bytes after it
// (NUL-padded to the array's end). Writable and external, so the compiler cannot fold it.
#define STAMP_MARKER "OPENCLAW_BUILD_STAMP:"
char clinux_build_stamp_data[192] = STAMP_MARKER "version=0.1.0;commit=unknown;date=unknown";

const char *clinux_build_stamp(void) {
    return clinux_build_stamp_data + sizeof(STAMP_MARKER) - 1;
}
