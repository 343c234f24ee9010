// C helpers for what Swift on Linux cannot express safely: fork/exec with descriptor placement and
// privilege drop (async-signal-safe only between fork and exec), prctl, capability checks, socket
// binding by address string. No libcurl here: the supervisor links this, and must not load it.
#ifndef SES_CSHIM_H
#define SES_CSHIM_H

#include <sys/types.h>
#include <stddef.h>

/// Identity a child is switched to before exec. `change_identity` = 0 keeps the caller's.
typedef struct {
    int change_identity;
    uid_t uid;
    gid_t gid;
} shim_identity;

/// Forks and execs `path`. `fds[i]` becomes descriptor 3+i in the child; every other descriptor above 2
/// is closed. Signal dispositions and mask are reset, PR_SET_NO_NEW_PRIVS is set, and the child gets
/// `pdeath_signal` when the parent dies. Returns the pid, or -errno (from the child's failed
/// setup or exec, reported through a close-on-exec pipe).
pid_t shim_spawn(const char *path, char *const argv[], char *const envp[],
                 const int *fds, int nfds, shim_identity identity, int pdeath_signal);

/// 1 when the calling process holds any effective, permitted or ambient capability; -1 on error.
int shim_has_capabilities(void);
int shim_set_dumpable(int dumpable);
int shim_disable_core_dumps(void);

/// Binds and listens on host:port (numeric or resolvable host; empty host = every address,
/// dual-stack where the kernel allows). Returns the descriptor (close-on-exec) or -errno;
/// for resolver failures returns -EADDRNOTAVAIL.
int shim_listen_tcp(const char *host, const char *port, int backlog);

/// 1 when `fd` is a listening TCP socket (IPv4 or IPv6), 0 when it is something else, -errno on error.
/// Also marks it close-on-exec: systemd hands it over inheritable, and only the worker may get it.
int shim_adopt_listening_tcp(int fd);

/// Local port of a bound socket, or -1.
int shim_local_port(int fd);

int shim_socketpair_stream(int fds[2]);

/// A close-on-exec SOCK_SEQPACKET socketpair: the descriptor channels over which the supervisor hands a
/// child new sockets (SCM_RIGHTS).
int shim_socketpair_seqpacket(int fds[2]);

/// Sends `fd` over `channel` with SCM_RIGHTS (one byte of payload). Returns 0 or -errno.
int shim_send_fd(int channel, int fd);

/// Blocks until a descriptor arrives on `channel` and returns it (close-on-exec), after checking that it
/// is a connected AF_UNIX stream socket. Returns -EPIPE when the peer closed the channel, -EBADMSG for a
/// message without exactly one descriptor or with one of another kind, or -errno.
int shim_recv_unix_stream_fd(int channel);

/// Peer credentials of a connected Unix socket (SO_PEERCRED).
int shim_peer_credentials(int fd, pid_t *pid, uid_t *uid, gid_t *gid);

/// Looks up a user with getpwnam_r. Returns 0 and fills uid/gid, 1 if absent, -errno on error.
int shim_lookup_user(const char *name, uid_t *uid, gid_t *gid);

/// Sends `message` to systemd's NOTIFY_SOCKET (a path, or @abstract). Returns 0 or -errno.
int shim_sd_notify(const char *socket_path, const char *message);

#endif
