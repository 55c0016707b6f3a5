#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <unistd.h>
#include "CLinux.h"

static int remove_entry(const char *path, const struct stat *sb, int kind, struct FTW *ftw) {
    (void)sb;
    (void)ftw;
    return (kind == FTW_DP ? rmdir(path) : unlink(path)) == 0 ? 0 : errno;
}

int clinux_remove_tree(const char *path) {
    int result = nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return result < 0 ? errno : result;
}
