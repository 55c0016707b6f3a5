#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/mman.h>
#include "CLinux.h"

int clinux_accept_nonblocking(int fd) {
    return accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int clinux_memfd_create(const char *name) {
    return memfd_create(name, MFD_CLOEXEC);
}
