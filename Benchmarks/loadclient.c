/*
 * Load client for the openclaw gateway benchmark (scripts/bench.sh).
 *
 * Written in C with one epoll loop, raw sockets and its own minimal
 * WebSocket client framing so that the client costs far less per request
 * than the server it measures: the two share the same 2 cores.
 *
 * Modes:
 *   load       N connections, each keeps one `health` request in flight
 *              (closed loop) for D seconds after a warm-up; prints req/s
 *              and p50/p99/max latency.
 *   handshake  opens N connections (at most C handshakes in flight) and
 *              completes the protocol handshake; prints the total time and
 *              per-connection p50/p99/max from connect() to hello-ok.
 *              With -n 1 against an activated socket this is cold start.
 *   idle       like handshake, then prints "READY <n>" and holds the
 *              connections (discarding events) until SIGTERM/SIGINT or EOF
 *              on stdin, so the caller can read the server's RSS.
 *
 * Output: one line "RESULT key=value ..." on stdout (and "READY" in idle
 * mode); diagnostics on stderr. Exit status 0 only if no connection failed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum mode { M_LOAD, M_HANDSHAKE, M_IDLE };
enum state { S_CONNECTING, S_UPGRADE, S_CHALLENGE, S_HELLO, S_READY, S_DEAD };

/* RFC 6455 example key; its accept value is fixed, so no SHA-1 is needed. */
#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define WS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

struct conn {
    int fd;
    enum state st;
    unsigned char *rbuf;
    size_t rlen, rcap;
    uint64_t skip;        /* bytes of a discarded frame still to come (idle mode) */
    unsigned char *wbuf;  /* unsent output, rare: requests are tiny */
    size_t wlen, woff;
    uint64_t t0;          /* connect() or request send time, ns */
    uint64_t next_id;     /* id of the request in flight */
};

static struct {
    enum mode mode;
    const char *host;
    int port;
    const char *token;
    int nconns;
    int concurrency;
    double duration, warmup, timeout;
    uint64_t max_requests; /* load: stop after this many (a fixed amount of work for profiles) */
    int gate;              /* load: after the handshakes, wait for a line on stdin */
    int verbose;
} opt = { M_LOAD, "127.0.0.1", 18789, "", 1, 64, 5.0, 1.0, 60.0, 0, 0, 0 };

static struct conn *conns;
static int epfd;
static struct sockaddr_in addr;
static volatile sig_atomic_t stop_flag;

static int started, handshaken, failed, dead_after_ready;
static uint64_t hs_first_ns, hs_last_ns;

static uint64_t *samples; /* latency in ns */
static size_t nsamples, capsamples;
static uint64_t completed;        /* responses inside the measured window */
static int measuring;
static uint64_t sent;             /* requests sent, for -r */
static uint64_t events_skipped, bad_res;

static char connect_frame[1024];
static size_t connect_frame_len;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("loadclient: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (!q) die("out of memory");
    return q;
}

static void record(uint64_t ns) {
    if (nsamples == capsamples) {
        capsamples = capsamples ? capsamples * 2 : 1 << 20;
        samples = xrealloc(samples, capsamples * sizeof *samples);
    }
    samples[nsamples++] = ns;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_us(double p) {
    if (!nsamples) return 0;
    size_t i = (size_t)(p * (double)(nsamples - 1) + 0.5);
    return samples[i] / 1000.0;
}

static void kill_conn(struct conn *c, const char *why, int fail) {
    if (c->st == S_DEAD) return;
    static int reported;
    if (opt.verbose || (fail && reported++ < 10)) fprintf(stderr, "loadclient: conn %ld: %s\n", (long)(c - conns), why);
    if (c->st == S_READY) dead_after_ready++;
    else if (fail) failed++;
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->st = S_DEAD;
    free(c->rbuf);
    free(c->wbuf);
    c->rbuf = c->wbuf = NULL;
    c->rlen = c->rcap = c->wlen = c->woff = 0;
}

static void want_out(struct conn *c, int on) {
    struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.u32 = (uint32_t)(c - conns) };
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void send_raw(struct conn *c, const void *buf, size_t n) {
    if (c->wlen == c->woff) {
        ssize_t w = write(c->fd, buf, n);
        if (w == (ssize_t)n) return;
        if (w < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) { kill_conn(c, strerror(errno), 1); return; }
            w = 0;
        }
        buf = (const char *)buf + w;
        n -= (size_t)w;
        c->wlen = c->woff = 0;
        want_out(c, 1);
    }
    c->wbuf = xrealloc(c->wbuf, c->wlen + n);
    memcpy(c->wbuf + c->wlen, buf, n);
    c->wlen += n;
}

static void flush_out(struct conn *c) {
    while (c->woff < c->wlen) {
        ssize_t w = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            kill_conn(c, strerror(errno), 1);
            return;
        }
        c->woff += (size_t)w;
    }
    c->wlen = c->woff = 0;
    want_out(c, 0);
}

/* Clients must mask every frame (RFC 6455 §5.3). */
static void send_frame(struct conn *c, int opcode, const void *payload, size_t n) {
    unsigned char buf[16 + 2048];
    if (n > 2048) die("frame too large");
    size_t h = 0;
    buf[h++] = (unsigned char)(0x80 | opcode);
    if (n < 126) {
        buf[h++] = (unsigned char)(0x80 | n);
    } else {
        buf[h++] = 0x80 | 126;
        buf[h++] = (unsigned char)(n >> 8);
        buf[h++] = (unsigned char)n;
    }
    static const unsigned char mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
    memcpy(buf + h, mask, 4);
    h += 4;
    const unsigned char *p = payload;
    for (size_t i = 0; i < n; i++) buf[h + i] = p[i] ^ mask[i & 3];
    send_raw(c, buf, h + n);
}

static void send_health(struct conn *c) {
    if (opt.max_requests && sent >= opt.max_requests) return;
    sent++;
    char req[96];
    int n = snprintf(req, sizeof req, "{\"type\":\"req\",\"id\":\"%llu\",\"method\":\"health\"}",
                     (unsigned long long)++c->next_id);
    c->t0 = now_ns();
    send_frame(c, 1, req, (size_t)n);
}

/* The top-level fields a client needs, found without building a tree:
 * a frame's nested payload may contain any of these names. The scan stops
 * once they are all known (the gateway and the floor write them before the
 * payload), so the client's cost per answer does not grow with the payload:
 * a 600-byte `health` answer scanned to its end cost this client more CPU
 * per request than the gateway's own user-space work, and on two shared
 * cores that showed up as a lower gateway/floor ratio. */
struct top {
    const char *type, *id, *event;
    size_t type_len, id_len, event_len;
    int ok; /* -1 absent, 0 false, 1 true */
};

/* An event needs its name; a response its id and ok. */
static int top_complete(const struct top *t) {
    if (!t->type) return 0;
    if (t->type_len == 5 && !memcmp(t->type, "event", 5)) return t->event != NULL;
    return t->id != NULL && t->ok != -1;
}

static void scan_top(const char *p, size_t n, struct top *t) {
    memset(t, 0, sizeof *t);
    t->ok = -1;
    int depth = 0, want_key = 0, want_val = 0;
    const char *key = NULL;
    size_t key_len = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (ch == '"') {
            size_t s = ++i;
            while (i < n && p[i] != '"') i += (p[i] == '\\') ? 2 : 1;
            if (i > n) i = n;
            if (depth == 1 && want_key) {
                key = p + s; key_len = i - s; want_key = 0;
            } else if (depth == 1 && want_val) {
                want_val = 0;
#define GRAB(name) if (key_len == sizeof #name - 1 && !memcmp(key, #name, key_len)) { t->name = p + s; t->name##_len = i - s; }
                GRAB(type) else GRAB(id) else GRAB(event)
#undef GRAB
                if (top_complete(t)) return;
            }
            continue;
        }
        switch (ch) {
        case '{': case '[':
            want_val = 0;
            if (++depth == 1) want_key = (ch == '{');
            break;
        case '}': case ']': depth--; break;
        case ',': if (depth == 1) want_key = 1; break;
        case ':': if (depth == 1) want_val = 1; break;
        case ' ': case '\t': case '\r': case '\n': break;
        default:
            if (depth == 1 && want_val) {
                if (key_len == 2 && !memcmp(key, "ok", 2)) t->ok = (ch == 't');
                want_val = 0;
                if (top_complete(t)) return;
            }
        }
    }
}

/* Payload size of the last answer (load mode), so a caller can size the floor's answers alike. */
static size_t answer_bytes;

static int max_requests_done(void) { return opt.max_requests && completed >= opt.max_requests; }

static int is(const char *s, size_t n, const char *lit) { return s && n == strlen(lit) && !memcmp(s, lit, n); }

static void handshake_done(struct conn *c) {
    uint64_t t = now_ns();
    c->st = S_READY;
    handshaken++;
    hs_last_ns = t;
    if (opt.mode != M_LOAD) record(t - c->t0);
    if (opt.mode == M_LOAD && measuring) send_health(c);
}

static void on_message(struct conn *c, const char *p, size_t n) {
    struct top t;
    scan_top(p, n, &t);
    if (is(t.type, t.type_len, "event")) {
        if (c->st == S_CHALLENGE && is(t.event, t.event_len, "connect.challenge")) {
            c->st = S_HELLO;
            send_frame(c, 1, connect_frame, connect_frame_len);
        } else {
            events_skipped++;
        }
        return;
    }
    if (!is(t.type, t.type_len, "res")) {
        fprintf(stderr, "loadclient: unexpected frame: %.*s\n", n > 200 ? 200 : (int)n, p);
        bad_res++;
        return;
    }
    if (c->st == S_HELLO) {
        if (t.ok == 1 && is(t.id, t.id_len, "c") && memmem(p, n, "\"hello-ok\"", 10)) {
            handshake_done(c);
        } else {
            fprintf(stderr, "loadclient: connect refused: %.*s\n", n > 300 ? 300 : (int)n, p);
            kill_conn(c, "handshake refused", 1);
        }
        return;
    }
    if (c->st != S_READY || opt.mode != M_LOAD) return;
    char want[24];
    int wn = snprintf(want, sizeof want, "%llu", (unsigned long long)c->next_id);
    if (t.ok != 1 || t.id_len != (size_t)wn || memcmp(t.id, want, (size_t)wn)) {
        if (bad_res++ < 5) fprintf(stderr, "loadclient: unexpected response: %.*s\n", n > 300 ? 300 : (int)n, p);
        return;
    }
    uint64_t t1 = now_ns();
    answer_bytes = n;
    if (measuring) { record(t1 - c->t0); completed++; }
    if (!stop_flag) send_health(c);
}

/* Parses whole frames out of the read buffer; returns bytes consumed. */
static size_t parse_frames(struct conn *c) {
    unsigned char *b = c->rbuf;
    size_t off = 0;
    while (c->st != S_DEAD) {
        size_t avail = c->rlen - off;
        if (c->skip) {
            size_t k = c->skip < avail ? (size_t)c->skip : avail;
            c->skip -= k;
            off += k;
            if (c->skip) break;
            continue;
        }
        if (avail < 2) break;
        unsigned char b0 = b[off], b1 = b[off + 1];
        int opcode = b0 & 0x0f, fin = b0 & 0x80;
        if (b1 & 0x80) { kill_conn(c, "server sent a masked frame", 1); break; }
        uint64_t len = b1 & 0x7f;
        size_t h = 2;
        if (len == 126) {
            if (avail < 4) break;
            len = ((uint64_t)b[off + 2] << 8) | b[off + 3];
            h = 4;
        } else if (len == 127) {
            if (avail < 10) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = (len << 8) | b[off + 2 + i];
            h = 10;
        }
        /* Outside the closed loop a connection only holds: discard its frames unbuffered. */
        if (c->st == S_READY && opt.mode != M_LOAD && opcode < 8) {
            off += h;
            c->skip = len;
            events_skipped++;
            continue;
        }
        if (avail < h + len) break;
        const char *pl = (const char *)b + off + h;
        if (!fin || opcode == 0) { kill_conn(c, "fragmented messages are not supported", 1); break; }
        if (opcode == 1 || opcode == 2) {
            on_message(c, pl, (size_t)len);
        } else if (opcode == 8) {
            unsigned code = len >= 2 ? ((unsigned char)pl[0] << 8 | (unsigned char)pl[1]) : 1005;
            char why[200];
            snprintf(why, sizeof why, "server closed: %u %.*s", code, len > 2 ? (int)len - 2 : 0, pl + 2);
            kill_conn(c, why, c->st != S_READY || !stop_flag);
            break;
        } else if (opcode == 9) {
            send_frame(c, 10, pl, (size_t)len);
        }
        off += h + (size_t)len;
    }
    return off;
}

static void on_upgrade(struct conn *c) {
    char *end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
    if (!end) {
        if (c->rlen > 8192) kill_conn(c, "upgrade response too long", 1);
        return;
    }
    size_t hl = (size_t)(end - (char *)c->rbuf) + 4;
    if (c->rlen < 12 || memcmp(c->rbuf, "HTTP/1.1 101", 12) || !memmem(c->rbuf, hl, WS_ACCEPT, sizeof WS_ACCEPT - 1)) {
        fprintf(stderr, "loadclient: upgrade refused: %.*s\n", (int)(hl > 300 ? 300 : hl), c->rbuf);
        kill_conn(c, "upgrade refused", 1);
        return;
    }
    memmove(c->rbuf, c->rbuf + hl, c->rlen - hl);
    c->rlen -= hl;
    c->st = S_CHALLENGE;
}

static void on_readable(struct conn *c) {
    if (c->rcap - c->rlen < 16384) {
        c->rcap = c->rcap ? c->rcap * 2 : 32768;
        c->rbuf = xrealloc(c->rbuf, c->rcap);
    }
    ssize_t r = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
    if (r <= 0) {
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        kill_conn(c, r == 0 ? "server closed the connection" : strerror(errno), c->st != S_READY || !stop_flag);
        return;
    }
    c->rlen += (size_t)r;
    if (c->st == S_UPGRADE) {
        on_upgrade(c);
        if (c->st != S_CHALLENGE) return;
    }
    size_t used = parse_frames(c);
    if (c->st == S_DEAD) return;
    memmove(c->rbuf, c->rbuf + used, c->rlen - used);
    c->rlen -= used;
}

static void start_conn(struct conn *c) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) die("socket: %s (raise ulimit -n)", strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->st = S_CONNECTING;
    c->t0 = now_ns();
    if (!hs_first_ns) hs_first_ns = c->t0;
    started++;
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)(c - conns) };
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev)) die("epoll_ctl: %s", strerror(errno));
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) && errno != EINPROGRESS) {
        kill_conn(c, strerror(errno), 1);
    }
}

static void on_connected(struct conn *c) {
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) { kill_conn(c, strerror(err), 1); return; }
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET / HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     opt.host, opt.port);
    c->st = S_UPGRADE;
    want_out(c, 0);
    send_raw(c, req, (size_t)n);
}

static void on_signal(int sig) { (void)sig; stop_flag = 1; }

static int pending(void) { return started - handshaken - failed; }

/* Runs the loop until `until` (ns, 0 = no deadline) or until done() holds. */
static void loop(uint64_t until, int (*done)(void)) {
    struct epoll_event evs[512];
    while (!(done && done())) {
        if (opt.mode != M_LOAD || !measuring) {
            while (started < opt.nconns && pending() < opt.concurrency) start_conn(&conns[started]);
        }
        int timeout_ms = 100;
        if (until) {
            uint64_t t = now_ns();
            if (t >= until) return;
            uint64_t left = (until - t) / 1000000 + 1;
            if (left < (uint64_t)timeout_ms) timeout_ms = (int)left;
        }
        int n = epoll_wait(epfd, evs, 512, timeout_ms);
        if (n < 0) {
            if (errno == EINTR) { if (stop_flag && opt.mode == M_IDLE) return; continue; }
            die("epoll_wait: %s", strerror(errno));
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.u32 == UINT32_MAX) { stop_flag = 1; return; } /* stdin EOF */
            struct conn *c = &conns[evs[i].data.u32];
            if (c->st == S_DEAD) continue;
            if (c->st == S_CONNECTING) {
                if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(c);
                continue;
            }
            if (evs[i].events & EPOLLOUT) flush_out(c);
            if (c->st != S_DEAD && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) on_readable(c);
        }
        if (stop_flag && opt.mode == M_IDLE) return;
    }
}

static int all_handshaken(void) { return handshaken + failed >= opt.nconns; }

static void usage(void) {
    fprintf(stderr,
            "usage: loadclient -m load|handshake|idle -p PORT -t TOKEN [-H host] [-n conns]\n"
            "                  [-c concurrent-handshakes] [-d seconds] [-w warmup-seconds]\n"
            "                  [-T handshake-timeout-seconds] [-r max-requests] [-g] [-v]\n"
            "  -r  load: stop after exactly this many responses (no warm-up; -d bounds the wait)\n"
            "  -g  load: after the handshakes print HANDSHAKEN and wait for a line on stdin\n");
    exit(2);
}

int main(int argc, char **argv) {
    int ch;
    while ((ch = getopt(argc, argv, "m:H:p:t:n:c:d:w:T:r:gv")) != -1) {
        switch (ch) {
        case 'm':
            if (!strcmp(optarg, "load")) opt.mode = M_LOAD;
            else if (!strcmp(optarg, "handshake")) opt.mode = M_HANDSHAKE;
            else if (!strcmp(optarg, "idle")) opt.mode = M_IDLE;
            else usage();
            break;
        case 'H': opt.host = optarg; break;
        case 'p': opt.port = atoi(optarg); break;
        case 't': opt.token = optarg; break;
        case 'n': opt.nconns = atoi(optarg); break;
        case 'c': opt.concurrency = atoi(optarg); break;
        case 'd': opt.duration = atof(optarg); break;
        case 'w': opt.warmup = atof(optarg); break;
        case 'T': opt.timeout = atof(optarg); break;
        case 'r': opt.max_requests = strtoull(optarg, NULL, 10); break;
        case 'g': opt.gate = 1; break;
        case 'v': opt.verbose = 1; break;
        default: usage();
        }
    }
    if (opt.nconns < 1 || opt.port <= 0 || opt.concurrency < 1) usage();
    if (strpbrk(opt.token, "\"\\")) die("token must not contain quotes or backslashes");

    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)opt.nconns + 64) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)opt.nconns + 64) die("ulimit -n is %llu, need %d", (unsigned long long)rl.rlim_cur, opt.nconns + 64);
    }

    connect_frame_len = (size_t)snprintf(connect_frame, sizeof connect_frame,
        "{\"type\":\"req\",\"id\":\"c\",\"method\":\"connect\",\"params\":{\"minProtocol\":4,\"maxProtocol\":4,"
        "\"client\":{\"id\":\"bench\",\"version\":\"1\",\"platform\":\"linux\",\"mode\":\"probe\"},"
        "\"auth\":{\"token\":\"%s\"}}}", opt.token);

    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)opt.port);
    if (inet_pton(AF_INET, opt.host, &addr.sin_addr) != 1) die("bad IPv4 address %s", opt.host);

    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    conns = calloc((size_t)opt.nconns, sizeof *conns);
    if (!conns) die("out of memory");
    epfd = epoll_create1(EPOLL_CLOEXEC);

    uint64_t hs_deadline = now_ns() + (uint64_t)(opt.timeout * 1e9);
    loop(hs_deadline, all_handshaken);
    if (!all_handshaken()) {
        fprintf(stderr, "loadclient: handshake timeout: %d of %d done, %d failed\n", handshaken, opt.nconns, failed);
        failed += opt.nconns - handshaken - failed;
    }
    double hs_ms = (double)(hs_last_ns - hs_first_ns) / 1e6;

    if (opt.mode == M_HANDSHAKE || opt.mode == M_IDLE) {
        qsort(samples, nsamples, sizeof *samples, cmp_u64);
        if (opt.mode == M_IDLE) {
            printf("READY %d\n", handshaken);
            fflush(stdout);
            struct epoll_event ev = { .events = EPOLLIN, .data.u32 = UINT32_MAX };
            epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);
            loop(0, NULL);
        }
        printf("RESULT mode=%s conns=%d ok=%d failed=%d total_ms=%.2f per_s=%.0f p50_us=%.0f p99_us=%.0f max_us=%.0f"
               " dropped_while_idle=%d\n",
               opt.mode == M_IDLE ? "idle" : "handshake", opt.nconns, handshaken, failed, hs_ms,
               hs_ms > 0 ? handshaken / (hs_ms / 1e3) : 0, pct_us(0.5), pct_us(0.99),
               nsamples ? samples[nsamples - 1] / 1000.0 : 0, dead_after_ready);
        return failed || dead_after_ready ? 1 : 0;
    }

    if (opt.gate) {
        printf("HANDSHAKEN %d\n", handshaken);
        fflush(stdout);
        char line[64];
        if (!fgets(line, sizeof line, stdin)) die("gate: stdin closed");
    }
    /* A fixed amount of work has no warm-up: every response counts. */
    if (opt.max_requests) opt.warmup = 0;

    /* Closed loop: every connection sends its first request together. */
    measuring = 1;
    for (int i = 0; i < opt.nconns; i++)
        if (conns[i].st == S_READY) send_health(&conns[i]);
    uint64_t t_start = now_ns();
    measuring = 0;
    loop(t_start + (uint64_t)(opt.warmup * 1e9), NULL);
    measuring = 1;
    uint64_t t_meas = now_ns();
    loop(t_meas + (uint64_t)(opt.duration * 1e9), opt.max_requests ? max_requests_done : NULL);
    double secs = (double)(now_ns() - t_meas) / 1e9;
    stop_flag = 1;
    qsort(samples, nsamples, sizeof *samples, cmp_u64);
    printf("RESULT mode=load conns=%d ok=%d failed=%d rps=%.0f p50_us=%.0f p99_us=%.0f max_us=%.0f"
           " requests=%llu events=%llu bad=%llu dropped=%d answer_bytes=%zu\n",
           opt.nconns, handshaken, failed, (double)completed / secs, pct_us(0.5), pct_us(0.99),
           nsamples ? samples[nsamples - 1] / 1000.0 : 0, (unsigned long long)completed,
           (unsigned long long)events_skipped, (unsigned long long)bad_res, dead_after_ready, answer_bytes);
    return failed || bad_res || dead_after_ready ? 1 : 0;
}
