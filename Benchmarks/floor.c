/*
 * The floor: an epoll WebSocket server with fixed replies and no JSON work,
 * speaking just enough of the gateway handshake for Benchmarks/loadclient.c.
 *
 * scripts/bench.sh runs it beside the gateway with the same client on the
 * same cores, so every table carries the ceiling that this machine allowed at
 * that moment: on 2 shared cores the absolute numbers move with other load,
 * the ratio to the floor much less. This is issue 4's "C epoll server with
 * fixed replies" row. It trusts its client (the load client's fixed
 * Sec-WebSocket-Key, small masked frames) and is not a server for anything else.
 *
 * usage: floor PORT [ANSWER_BYTES]
 *        prints "LISTENING" once bound, serves until killed. With ANSWER_BYTES
 *        each request's answer is padded to that many bytes (a `"pad"` string
 *        in its payload), e.g. the size of the gateway's `health` answer, so
 *        the kernel and the client move and scan the same bytes for both
 *        servers and the ratio compares only the servers' own work.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct peer {
    int fd;
    int phase; /* 0 upgrade, 1 waiting for connect, 2 serving */
    size_t len;
    unsigned char buf[16384];
};

static const char upgrade[] =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
static const char challenge[] = "{\"type\":\"event\",\"event\":\"connect.challenge\",\"payload\":{\"nonce\":\"floor\",\"ts\":1}}";
static const char hello[] = "{\"type\":\"res\",\"id\":\"c\",\"ok\":true,\"payload\":{\"type\":\"hello-ok\",\"protocol\":4}}";

#define ANSWER_MAX 4096
static size_t answer_bytes; /* 0: unpadded */

static size_t put_frame(unsigned char *out, const char *p, size_t n) {
    size_t h = 2;
    out[0] = 0x81;
    if (n < 126) {
        out[1] = (unsigned char)n;
    } else { /* n <= ANSWER_MAX */
        out[1] = 126;
        out[2] = (unsigned char)(n >> 8);
        out[3] = (unsigned char)n;
        h = 4;
    }
    memcpy(out + h, p, n);
    return n + h;
}

static void drop(struct peer *c) {
    close(c->fd);
    free(c);
}

static void serve(struct peer *c) {
    ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
    if (r <= 0) {
        if (r < 0 && errno == EAGAIN) return;
        drop(c);
        return;
    }
    c->len += (size_t)r;
    unsigned char out[32768];
    size_t ol = 0, off = 0;
    if (c->phase == 0) {
        unsigned char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (!end) return;
        off = (size_t)(end - c->buf) + 4;
        memcpy(out, upgrade, sizeof upgrade - 1);
        ol = sizeof upgrade - 1;
        ol += put_frame(out + ol, challenge, sizeof challenge - 1);
        c->phase = 1;
    }
    while (c->len - off >= 6 && ol + 4 + ANSWER_MAX <= sizeof out) {
        unsigned char *f = c->buf + off;
        size_t n = f[1] & 0x7f, h = 2;
        if (n == 127) { drop(c); return; }
        if (n == 126) { n = (size_t)f[2] << 8 | f[3]; h = 4; }
        if (h + 4 + n > sizeof c->buf) { drop(c); return; }
        if (c->len - off < h + 4 + n) break;
        unsigned char *mask = f + h, *p = f + h + 4;
        for (size_t k = 0; k < n; k++) p[k] ^= mask[k & 3];
        off += h + 4 + n;
        if ((f[0] & 0x0f) == 8) { drop(c); return; }
        if (c->phase == 1) {
            ol += put_frame(out + ol, hello, sizeof hello - 1);
            c->phase = 2;
            continue;
        }
        char *id = memmem(p, n, "\"id\":\"", 6), *end = id ? memchr(id + 6, '"', n - (size_t)(id + 6 - (char *)p)) : NULL;
        if (!end || end - id > 40) { drop(c); return; }
        char body[ANSWER_MAX];
        int bl = snprintf(body, sizeof body, "{\"type\":\"res\",\"id\":\"%.*s\",\"ok\":true,\"payload\":{\"ok\":true,\"ts\":1",
                          (int)(end - id - 6), id + 6);
        size_t pad = answer_bytes > (size_t)bl + 11 ? answer_bytes - (size_t)bl - 11 : 0; /* ,"pad":"…"}} */
        if (pad) {
            memcpy(body + bl, ",\"pad\":\"", 8);
            memset(body + bl + 8, 'x', pad);
            bl += 8 + (int)pad;
            body[bl++] = '"';
        }
        body[bl++] = '}';
        body[bl++] = '}';
        ol += put_frame(out + ol, body, (size_t)bl);
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
    if (ol && write(c->fd, out, ol) != (ssize_t)ol) drop(c); /* a closed-loop client never fills the socket */
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) { fprintf(stderr, "usage: floor PORT [ANSWER_BYTES]\n"); return 2; }
    if (argc == 3) answer_bytes = (size_t)atoi(argv[2]);
    if (answer_bytes > ANSWER_MAX) { fprintf(stderr, "floor: ANSWER_BYTES is at most %d\n", ANSWER_MAX); return 2; }
    int one = 1, ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1])) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 4096)) { perror("floor: bind"); return 1; }
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    printf("LISTENING\n");
    fflush(stdout);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr) { serve(evs[i].data.ptr); continue; }
            int fd;
            while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                struct peer *c = calloc(1, sizeof *c);
                if (!c) { close(fd); continue; }
                c->fd = fd;
                struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };
                epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
            }
        }
    }
}
