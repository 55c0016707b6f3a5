#define _GNU_SOURCE
#include <sys/socket.h>
#include "CLinux.h"

int clinux_accept_nonblocking(int fd) {
    return accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}
