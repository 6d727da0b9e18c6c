#ifndef TOCK_SPAWN_H
#define TOCK_SPAWN_H

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/types.h>

/// What the child should be; every field is applied between vfork and exec.
typedef struct {
    const char *path;              // executable to exec (absolute, or resolved with PATH by the caller)
    char *const *argv;             // NULL-terminated
    char *const *envp;             // NULL-terminated
    const char *working_dir;       // NULL: inherit
    int stdin_fd, stdout_fd, stderr_fd;  // duplicated onto 0, 1, 2
    int switch_user;               // 1: set groups, gid and uid below
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    int group_count;
} tock_spawn_request;

/// Which step failed in the child, with errno in `*error_out`.
enum { TOCK_SPAWN_OK = 0, TOCK_SPAWN_FORK = 1, TOCK_SPAWN_CHDIR = 2, TOCK_SPAWN_USER = 3, TOCK_SPAWN_EXEC = 4, TOCK_SPAWN_FDS = 5 };

/// Starts the child in a new session (pid = pgid = sid), with default signal dispositions, an empty signal
/// mask and no descriptor but 0-2 open. Returns TOCK_SPAWN_OK and the pid, or the failing step and errno (the
/// failed child has then been reaped).
int tock_spawn(const tock_spawn_request *request, pid_t *pid_out, int *error_out);

/// pidfd_open(2): a descriptor that becomes readable when the process exits.
int tock_pidfd_open(pid_t pid);

/// Makes this process the reaper of its orphaned descendants (PR_SET_CHILD_SUBREAPER).
int tock_become_subreaper(void);

/// An anonymous in-memory file holding `length` bytes, positioned at 0, for a child's stdin.
int tock_memfd_with_bytes(const void *bytes, size_t length);

/// malloc_trim(0): hands memory freed after a big load (parsing jobs.d) back to the system.
int tock_malloc_trim(void);

/// mallopt(M_MMAP_THRESHOLD, bytes): allocations from this size up are mapped on their own and handed back when
/// freed (a fixed threshold also stops glibc from raising it, up to 32 MiB, after each large free).
int tock_set_mmap_threshold(int bytes);

/// mallopt(M_ARENA_MAX, arenas): at most this many malloc arenas (glibc makes up to 8 per core, one per thread
/// that meets contention, and memory freed in one is not reused by the others).
int tock_set_arena_max(int arenas);

/// pipe2(fds, O_CLOEXEC): both ends close-on-exec, so concurrent jobs never inherit each other's pipes.
int tock_pipe_cloexec(int fds[2]);

#endif
