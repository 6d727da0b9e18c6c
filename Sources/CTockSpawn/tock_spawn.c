#define _GNU_SOURCE
#include "tock_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

// Why vfork and raw syscalls: the daemon is multi-threaded and every thread blocks SIGTERM, SIGCHLD and more
// (Swift's async runtime). The child must start with a clean signal mask and default dispositions, in its own
// session so that a group kill reaches all its descendants. vfork shares the parent's memory until exec, so the
// child may only make system calls: glibc's setuid()/setgroups() would broadcast to the parent's threads, hence
// syscall(). Errors travel back through `child_step`/`child_errno`, which vfork lets the child write.
// The signals this process ignores or catches, from /proc/self/status (SigIgn | SigCgt). Only those need
// resetting in the child: the rest are already at their default. One read instead of 64 sigaction calls.
static unsigned long long non_default_signals(void) {
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ~0ULL;
    char buffer[4096];
    ssize_t n = read(fd, buffer, sizeof buffer - 1);
    close(fd);
    if (n <= 0) return ~0ULL;
    buffer[n] = 0;
    unsigned long long mask = 0;
    int found = 0;
    for (const char *key = buffer; (key = strstr(key, "Sig")) != NULL; key += 3) {
        if (strncmp(key, "SigIgn:", 7) == 0 || strncmp(key, "SigCgt:", 7) == 0) {
            mask |= strtoull(key + 7, NULL, 16);
            found++;
        }
    }
    return found == 2 ? mask : ~0ULL;
}

// The mask above, read at most once a second: the read costs ~10 µs, about 1% of the CPU of a burst of 1,000
// short jobs. The daemon changes dispositions only when it installs its handlers (at start-up); the signals it
// handles or ignores are reset in every child whatever the cache says, so a stale mask could only miss a signal
// outside that set that began to be ignored within the last second.
static _Atomic unsigned long long cached_signals;
static _Atomic long long cached_signals_at = -1;

static unsigned long long signals_to_reset(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    long long ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    long long at = atomic_load_explicit(&cached_signals_at, memory_order_acquire);
    unsigned long long mask;
    if (at < 0 || ms - at >= 1000) {
        mask = non_default_signals();
        atomic_store_explicit(&cached_signals, mask, memory_order_relaxed);
        atomic_store_explicit(&cached_signals_at, ms, memory_order_release);
    } else {
        mask = atomic_load_explicit(&cached_signals, memory_order_relaxed);
    }
    static const int always[] = {SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGTERM, SIGUSR1, SIGUSR2, SIGCHLD};
    for (size_t i = 0; i < sizeof always / sizeof always[0]; i++) mask |= 1ULL << (always[i] - 1);
    return mask;
}

int tock_spawn(const tock_spawn_request *r, pid_t *pid_out, int *error_out) {
    unsigned long long reset = signals_to_reset();
    sigset_t all, saved;
    sigfillset(&all);
    // Block everything while the child shares our memory, so no handler of ours runs in it.
    pthread_sigmask(SIG_SETMASK, &all, &saved);

    volatile int child_step = TOCK_SPAWN_OK;
    volatile int child_errno = 0;
    pid_t pid = vfork();
    if (pid == 0) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        // The all-zero struct means SIG_DFL with no flags in both the kernel's and glibc's layout.
        for (int sig = 1; sig < NSIG && sig <= 64; sig++) {
            if (reset & (1ULL << (sig - 1))) syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(unsigned long) * 1);
        }
        setsid();
        int fds[3] = {r->stdin_fd, r->stdout_fd, r->stderr_fd};
        // Move the sources above 2 first, so dup2 onto 0-2 cannot clobber a source still needed.
        for (int i = 0; i < 3; i++) {
            if (fds[i] >= 0 && fds[i] < 3) {
                int moved = (int)syscall(SYS_fcntl, fds[i], F_DUPFD, 3);
                if (moved < 0) { child_step = TOCK_SPAWN_FDS; child_errno = errno; _exit(127); }
                fds[i] = moved;
            }
        }
        for (int i = 0; i < 3; i++) {
            if (fds[i] >= 0 && syscall(SYS_dup3, fds[i], i, 0) < 0) {
                child_step = TOCK_SPAWN_FDS; child_errno = errno; _exit(127);
            }
        }
        // Nothing else of the daemon's leaks into the job, whatever its CLOEXEC flags.
        if (syscall(SYS_close_range, 3, ~0U, 0) < 0) {
            for (int fd = 3; fd < 65536; fd++) syscall(SYS_close, fd);
        }
        if (r->working_dir && syscall(SYS_chdir, r->working_dir) < 0) {
            child_step = TOCK_SPAWN_CHDIR; child_errno = errno; _exit(127);
        }
        if (r->switch_user) {
            if (syscall(SYS_setgroups, (size_t)r->group_count, r->groups) < 0 ||
                syscall(SYS_setresgid, r->gid, r->gid, r->gid) < 0 ||
                syscall(SYS_setresuid, r->uid, r->uid, r->uid) < 0) {
                child_step = TOCK_SPAWN_USER; child_errno = errno; _exit(127);
            }
        }
        sigset_t none;
        sigemptyset(&none);
        syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(unsigned long) * 1);
        execve(r->path, r->argv, r->envp);
        child_step = TOCK_SPAWN_EXEC;
        child_errno = errno;
        _exit(127);
    }
    int saved_errno = errno;
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (pid < 0) {
        *error_out = saved_errno;
        return TOCK_SPAWN_FORK;
    }
    if (child_step != TOCK_SPAWN_OK) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        *error_out = child_errno;
        return child_step;
    }
    *pid_out = pid;
    return TOCK_SPAWN_OK;
}

int tock_pidfd_open(pid_t pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int tock_become_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

int tock_memfd_with_bytes(const void *bytes, size_t length) {
    int fd = memfd_create("tock-stdin", MFD_CLOEXEC);
    if (fd < 0) return -1;
    const char *p = bytes;
    size_t left = length;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            close(fd);
            return -1;
        }
        p += n;
        left -= (size_t)n;
    }
    if (lseek(fd, 0, SEEK_SET) < 0) { close(fd); return -1; }
    return fd;
}

int tock_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int tock_malloc_trim(void) {
    return malloc_trim(0);
}

int tock_set_mmap_threshold(int bytes) { return mallopt(M_MMAP_THRESHOLD, bytes); }

int tock_set_arena_max(int arenas) { return mallopt(M_ARENA_MAX, arenas); }
