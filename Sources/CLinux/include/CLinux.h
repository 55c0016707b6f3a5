// Linux-only headers the Glibc module does not export (epoll, signalfd, malloc_trim), and small C helpers.
#pragma once
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <malloc.h>
#include <sys/fsuid.h>

/// accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC): accept4 needs _GNU_SOURCE, which Swift's Glibc module does not set.
int clinux_accept_nonblocking(int fd);

/// memfd_create(name, MFD_CLOEXEC) (needs _GNU_SOURCE): an anonymous file in
/// memory, how the gateway's hand-over state travels through systemd's fd store; -1 + errno on failure.
int clinux_memfd_create(const char *name);

/// Sends n (1...253, SCM_MAX_FD) descriptors over a connected AF_UNIX socket as one SCM_RIGHTS
/// message with a one-byte payload (CMSG_* are macros Swift cannot call). 0 or an errno.
int clinux_send_fds(int sock, const int *fds, int n);

/// Receives one such message without blocking (MSG_CMSG_CLOEXEC) into fds[0..max): the count,
/// 0 when no message is left (or the peer is gone), -1 + errno on failure. Extra fds are closed.
int clinux_recv_fds(int sock, int *fds, int max);

// --- messaging engineer: agent child processes (spawn_helpers.c) ---
#include <sys/types.h>

/// Runs argv (PATH lookup for argv[0], like posix_spawnp) in a new process group (pgid = pid), with
/// stdin/stdout/stderr from the given fds, an empty signal mask and default signal dispositions;
/// envp NULL = inherit. Returns 0 or an errno (exec failures included), like posix_spawnp.
/// The group dies with the gateway, even on SIGKILL: the child has PR_SET_PDEATHSIG(SIGKILL), and
/// *reaper_out is a process of ours in the group that kills the group once the gateway is gone.
/// The reaper only stops on SIGKILL: after killing the group, reap it (waitpid) as well as the child.
int clinux_spawn_group(const char *const argv[], const char *const envp[],
                       int stdin_fd, int stdout_fd, int stderr_fd, pid_t *pid_out, pid_t *reaper_out);

/// pidfd_open(2) (syscall 434): an fd that becomes readable when the process exits; -1 + errno on failure.
int clinux_pidfd_open(pid_t pid);

/// pipe2(fds, O_CLOEXEC): pipe2 needs _GNU_SOURCE, which Swift's Glibc module does not set.
int clinux_pipe_cloexec(int fds[2]);

/// The build stamp: "version=…;commit=…;date=…", rewritten in the linked binary by
/// scripts/stamp-build.sh (the .deb's version, commit and build date) without recompiling.
const char *clinux_build_stamp(void);

/// rm -rf PATH without following symlinks (nftw, which needs _XOPEN_SOURCE): 0, or an errno.
int clinux_remove_tree(const char *path);
