// Child-process helpers for the gateway's agent runs (messaging engineer).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "CLinux.h"

extern char **environ;

// Everything from fork() to execve() below runs in the child of a fork and must stay
// async-signal-safe: system calls and pure string functions only (no malloc, no stdio,
// no execvp, whose PATH search is not on the async-signal-safe list).

/// Reports `value` to the parent over the status pipe (a short write to a pipe is atomic).
static void report(int fd, int value) {
    while (write(fd, &value, sizeof value) < 0 && errno == EINTR) {}
}

/// Where the run's in-group reaper waits: nothing ever writes to this pipe, and only the
/// gateway keeps its write end, so a read on it returns EOF exactly when the gateway is gone.
static int guard_read = -1, guard_write = -1;

static int open_guard_pipe(void) {
    if (guard_write >= 0) return 0;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return errno;
    // Kept above stdio: were the gateway started with fd 0-2 closed, a log write must never land in it.
    int r = fcntl(fds[0], F_DUPFD_CLOEXEC, 3), w = fcntl(fds[1], F_DUPFD_CLOEXEC, 3);
    int e = errno;
    close(fds[0]);
    close(fds[1]);
    if (r < 0 || w < 0) {
        if (r >= 0) close(r);
        if (w >= 0) close(w);
        return e;
    }
    guard_read = r;
    guard_write = w;
    return 0;
}

/// The reaper: a process in the run's group, child of the gateway, that blocks on the guard
/// pipe and kills its own group (itself included) once the gateway is gone. PDEATHSIG alone
/// would not do: the kernel clears it in every fork, so the backend's own children would
/// outlive a killed gateway. All signals stay blocked here (the gateway blocked them around
/// fork), so only the SIGKILL the gateway sends the group at the end of a run stops it.
static void __attribute__((noreturn)) reaper_main(void) {
    // Holding a copy of a client socket or a run's pipe would keep it open past its close.
    if (dup2(guard_read, 0) < 0) _exit(127);
    if (syscall(SYS_close_range, 1U, ~0U, 0U) != 0) {
        struct rlimit lim;
        int last = getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < INT_MAX ? (int)lim.rlim_cur : 1 << 20;
        for (int fd = 1; fd < last; fd++) close(fd);
    }
    prctl(PR_SET_NAME, "openclaw-reaper", 0, 0, 0);
    char byte;
    ssize_t n;
    while ((n = read(0, &byte, 1)) != 0) {
        if (n < 0 && errno != EINTR) _exit(1);
    }
    kill(0, SIGKILL);
    _exit(0);
}

/// Makes `fds[i]` (i < 3) the child's fd i, first moving every fd involved above 2 so that
/// no dup2 overwrites a source still to be copied (or the status pipe).
static int install_stdio(int fds[4]) {
    for (int i = 0; i < 4; i++) {
        if (fds[i] < 3 && (fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)) < 0) return errno;
    }
    for (int i = 0; i < 3; i++) {
        if (dup2(fds[i], i) < 0) return errno;
    }
    return 0;
}

/// execvpe's search, with execve only: `file` in each directory of `path` (an empty entry is
/// the current directory); EACCES is reported only if no directory had a runnable `file`.
static int exec_search(const char *file, const char *path, char *const argv[], char *const envp[]) {
    if (strchr(file, '/')) {
        execve(file, argv, envp);
        return errno;
    }
    size_t file_len = strlen(file);
    if (file_len == 0) return ENOENT;
    int eacces = 0;
    char candidate[PATH_MAX];
    for (const char *dir = path;; dir++) {
        const char *end = strchrnul(dir, ':');
        size_t dir_len = (size_t)(end - dir);
        if (dir_len + 1 + file_len < sizeof candidate) {
            memcpy(candidate, dir, dir_len);
            size_t at = dir_len;
            if (dir_len > 0) candidate[at++] = '/';
            memcpy(candidate + at, file, file_len + 1);
            execve(candidate, argv, envp);
            switch (errno) {
            case EACCES: eacces = 1; break;
            case ENOENT: case ENOTDIR: case ENAMETOOLONG: case ELOOP: case ENODEV: case ESTALE: case ETIMEDOUT: break;
            default: return errno;
            }
        }
        if (*end == '\0') break;
        dir = end;
    }
    return eacces ? EACCES : ENOENT;
}

/// The child between fork and exec: it execs, or reports an errno to the parent and exits.
static void __attribute__((noreturn)) child_main(pid_t gateway, const char *const argv[], const char *const envp[],
                                                  const char *path, int stdio[4], const sigset_t *empty) {
    int e = setpgid(0, 0) == 0 ? 0 : errno;
    // PR_SET_PDEATHSIG fires when the *thread* that forked exits, not the process. The gateway
    // is single-threaded (one epoll loop on the main thread), and that thread lives as long as
    // the process, so this means exactly "when the gateway dies". The kernel clears it on exec
    // of a set-user-ID or file-capability program; the reaper still covers those.
    if (e == 0 && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) e = errno;
    // The gateway may have died before the prctl: then nothing would kill us, so go now.
    if (getppid() != gateway) _exit(127);
    if (e == 0) {
        // Default dispositions (exec keeps SIG_IGN, e.g. the gateway's SIGPIPE); the mask stays
        // full until exec so no handler inherited from the gateway can run in this copy of it.
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        for (int sig = 1; sig < _NSIG; sig++) {
            if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, NULL);  // EINVAL for glibc's own: fine
        }
        // CLONE_PARENT makes the reaper the gateway's child, not the backend's (a shell's bare
        // `wait` must not wait for it), and it starts in our group.
        pid_t reaper = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
        if (reaper == 0) reaper_main();
        if (reaper < 0) e = errno;
        report(stdio[3], reaper > 0 ? reaper : 0);
    } else {
        report(stdio[3], 0);
    }
    if (e == 0) e = install_stdio(stdio);
    if (e == 0) {
        sigprocmask(SIG_SETMASK, empty, NULL);
        e = exec_search(argv[0], path, (char *const *)argv, envp ? (char *const *)envp : environ);
    }
    report(stdio[3], e);  // install_stdio may have moved it
    _exit(127);
}

int clinux_spawn_group(const char *const argv[], const char *const envp[],
                       int stdin_fd, int stdout_fd, int stderr_fd, pid_t *pid_out, pid_t *reaper_out) {
    int rc = open_guard_pipe();
    if (rc != 0) return rc;
    int status[2];
    if (pipe2(status, O_CLOEXEC) != 0) return errno;
    // Like posix_spawnp: PATH from the gateway's environment, not from envp; glibc's default when unset.
    const char *path = getenv("PATH");
    if (!path) path = "/bin:/usr/bin";
    int stdio[4] = {stdin_fd, stdout_fd, stderr_fd, status[1]};
    pid_t gateway = getpid();
    sigset_t all, empty, saved;
    sigfillset(&all);
    sigemptyset(&empty);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    pid_t pid = fork();
    if (pid == 0) child_main(gateway, argv, envp, path, stdio, &empty);
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    close(status[1]);
    if (pid < 0) {
        close(status[0]);
        return fork_errno;
    }
    // The child writes the reaper's pid (0 if none), then an errno only if it could not exec;
    // EOF comes when exec closes its copy of the pipe (and the reaper its own).
    int words[2] = {0, 0};
    size_t got = 0;
    while (got < sizeof words) {
        ssize_t n = read(status[0], (char *)words + got, sizeof words - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(status[0]);
    pid_t reaper = got >= sizeof(int) ? words[0] : 0;
    if (got == sizeof words || got < sizeof(int)) {
        // No exec: kill the group (the reaper too) while the unreaped child still holds its id.
        kill(-pid, SIGKILL);
        int ignored;
        while (waitpid(pid, &ignored, 0) < 0 && errno == EINTR) {}
        if (reaper > 0) {
            while (waitpid(reaper, &ignored, 0) < 0 && errno == EINTR) {}
        }
        return got == sizeof words && words[1] != 0 ? words[1] : ECHILD;
    }
    *pid_out = pid;
    *reaper_out = reaper;
    return 0;
}

int clinux_pidfd_open(pid_t pid) {
    return (int)syscall(434 /* SYS_pidfd_open */, pid, 0);
}

int clinux_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}
