#define _GNU_SOURCE
#include "CShim.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

// Between fork and exec only async-signal-safe calls are allowed (the parent is multi-threaded):
// no malloc, no stdio, no locks. Errors go back to the parent as an errno on a close-on-exec pipe.
static void child_fail(int report_fd, int err) {
    ssize_t ignored = write(report_fd, &err, sizeof err);
    (void)ignored;
    _exit(127);
}

pid_t shim_spawn(const char *path, char *const argv[], char *const envp[],
                 const int *fds, int nfds, shim_identity identity, int pdeath_signal) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return -errno;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(report[0]);
        close(report[1]);
        return -err;
    }
    if (pid == 0) {
        sigset_t empty;
        sigemptyset(&empty);
        sigprocmask(SIG_SETMASK, &empty, NULL);
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL);

        // Move every descriptor to place, and the report pipe, above the target slots 3..3+nfds-1
        // first, so that placing fds[i] at 3+i never overwrites one that is still to be placed.
        int first_free = 3 + nfds;
        int moved[16];
        if (nfds > 16) child_fail(report[1], E2BIG);
        int report_fd = fcntl(report[1], F_DUPFD_CLOEXEC, first_free);
        if (report_fd < 0) child_fail(report[1], errno);
        for (int i = 0; i < nfds; i++) {
            moved[i] = fcntl(fds[i], F_DUPFD, first_free);
            if (moved[i] < 0) child_fail(report_fd, errno);
        }
        for (int i = 0; i < nfds; i++) {
            if (dup2(moved[i], 3 + i) < 0) child_fail(report_fd, errno);
        }
        // Everything else the supervisor had open (sockets, files, the moved copies) must not reach
        // the child; the report pipe is close-on-exec and goes at exec.
        if (report_fd > first_free) syscall(SYS_close_range, (unsigned)first_free, (unsigned)(report_fd - 1), 0);
        if (syscall(SYS_close_range, (unsigned)(report_fd + 1), ~0U, 0) != 0) child_fail(report_fd, errno);
        if (identity.change_identity) {
            if (setgroups(0, NULL) != 0) child_fail(report_fd, errno);
            if (setresgid(identity.gid, identity.gid, identity.gid) != 0) child_fail(report_fd, errno);
            if (setresuid(identity.uid, identity.uid, identity.uid) != 0) child_fail(report_fd, errno);
        }
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail(report_fd, errno);
        // Set after the uid change, which clears it; then check the parent did not die before.
        if (pdeath_signal > 0) {
            if (prctl(PR_SET_PDEATHSIG, pdeath_signal, 0, 0, 0) != 0) child_fail(report_fd, errno);
            if (getppid() != parent) _exit(1);
        }
        execve(path, argv, envp);
        child_fail(report_fd, errno);
    }
    close(report[1]);
    int err = 0;
    ssize_t got;
    do {
        got = read(report[0], &err, sizeof err);
    } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == (ssize_t)sizeof err) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        return -err;
    }
    return pid;
}

int shim_has_capabilities(void) {
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &header, data) != 0) return -1;
    for (int i = 0; i < 2; i++) {
        if (data[i].effective || data[i].permitted) return 1;
    }
    for (int cap = 0; cap <= 63; cap++) {
        int r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);
        if (r == 1) return 1;
        if (r < 0 && errno == EINVAL) break;
    }
    return 0;
}

int shim_set_dumpable(int dumpable) {
    return prctl(PR_SET_DUMPABLE, dumpable, 0, 0, 0) == 0 ? 0 : -errno;
}

int shim_disable_core_dumps(void) {
    struct rlimit none = {0, 0};
    return setrlimit(RLIMIT_CORE, &none) == 0 ? 0 : -errno;
}

static int listen_on(const struct sockaddr *addr, socklen_t len, int family, int backlog, int dual_stack) {
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual_stack ? &zero : &one, sizeof one);
    }
    if (bind(fd, addr, len) != 0 || listen(fd, backlog) != 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

int shim_listen_tcp(const char *host, const char *port, int backlog) {
    struct addrinfo hints, *found = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int wildcard = host == NULL || host[0] == '\0';
    if (wildcard) {
        // Like Go's ":2500": every address, IPv4 and IPv6, through one dual-stack socket.
        struct sockaddr_in6 any6;
        memset(&any6, 0, sizeof any6);
        any6.sin6_family = AF_INET6;
        any6.sin6_addr = in6addr_any;
        char *end = NULL;
        long p = strtol(port, &end, 10);
        if (end == port || *end != '\0' || p < 0 || p > 65535) return -EINVAL;
        any6.sin6_port = htons((uint16_t)p);
        int fd = listen_on((struct sockaddr *)&any6, sizeof any6, AF_INET6, backlog, 1);
        if (fd != -EAFNOSUPPORT) return fd;
        struct sockaddr_in any4;
        memset(&any4, 0, sizeof any4);
        any4.sin_family = AF_INET;
        any4.sin_addr.s_addr = htonl(INADDR_ANY);
        any4.sin_port = htons((uint16_t)p);
        return listen_on((struct sockaddr *)&any4, sizeof any4, AF_INET, backlog, 0);
    }
    int rc = getaddrinfo(host, port, &hints, &found);
    if (rc != 0 || found == NULL) return rc == EAI_SERVICE ? -EINVAL : -EADDRNOTAVAIL;
    int fd = listen_on(found->ai_addr, found->ai_addrlen, found->ai_family, backlog, 0);
    freeaddrinfo(found);
    return fd;
}

int shim_adopt_listening_tcp(int fd) {
    int listening = 0, domain = 0, type = 0;
    socklen_t length = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) != 0) return -errno;
    length = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) != 0) return -errno;
    length = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0) return -errno;
    if (!listening || type != SOCK_STREAM || (domain != AF_INET && domain != AF_INET6)) return 0;
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0) return -errno;
    return 1;
}

int shim_local_port(int fd) {
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0) return -1;
    if (addr.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&addr)->sin_port);
    if (addr.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    return -1;
}

int shim_socketpair_stream(int fds[2]) {
    return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0 ? 0 : -errno;
}

int shim_socketpair_seqpacket(int fds[2]) {
    return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0 ? 0 : -errno;
}

int shim_send_fd(int channel, int fd) {
    char byte = 'F';
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        struct cmsghdr align;
        char buffer[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buffer,
                             .msg_controllen = sizeof control.buffer};
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(header), &fd, sizeof(int));
    ssize_t sent;
    do {
        sent = sendmsg(channel, &message, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    return sent == 1 ? 0 : -errno;
}

int shim_recv_unix_stream_fd(int channel) {
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        struct cmsghdr align;
        char buffer[CMSG_SPACE(4 * sizeof(int))];
    } control;
    struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buffer,
                             .msg_controllen = sizeof control.buffer};
    ssize_t got;
    do {
        got = recvmsg(channel, &message, MSG_CMSG_CLOEXEC);
    } while (got < 0 && errno == EINTR);
    if (got < 0) return -errno;
    if (got == 0) return -EPIPE;
    // Close whatever arrived before judging it, so nothing unexpected stays open in this process.
    int received[4], count = 0;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header != NULL; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
        size_t n = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n && count < 4; i++) memcpy(&received[count++], CMSG_DATA(header) + i * sizeof(int), sizeof(int));
    }
    int ok = count == 1 && !(message.msg_flags & MSG_CTRUNC);
    if (ok) {
        int domain = 0, type = 0;
        socklen_t length = sizeof(int);
        ok = getsockopt(received[0], SOL_SOCKET, SO_DOMAIN, &domain, &length) == 0 && domain == AF_UNIX;
        length = sizeof(int);
        ok = ok && getsockopt(received[0], SOL_SOCKET, SO_TYPE, &type, &length) == 0 && type == SOCK_STREAM;
    }
    if (!ok) {
        for (int i = 0; i < count; i++) close(received[i]);
        return -EBADMSG;
    }
    return received[0];
}

int shim_peer_credentials(int fd, pid_t *pid, uid_t *uid, gid_t *gid) {
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -errno;
    *pid = cred.pid;
    *uid = cred.uid;
    *gid = cred.gid;
    return 0;
}

int shim_lookup_user(const char *name, uid_t *uid, gid_t *gid) {
    struct passwd pw, *result = NULL;
    char buffer[4096];
    int rc = getpwnam_r(name, &pw, buffer, sizeof buffer, &result);
    if (rc != 0) return -rc;
    if (result == NULL) return 1;
    *uid = pw.pw_uid;
    *gid = pw.pw_gid;
    return 0;
}


#include <sys/un.h>

int shim_sd_notify(const char *socket_path, const char *message) {
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    size_t length = strlen(socket_path);
    if (length == 0 || length >= sizeof addr.sun_path) return -EINVAL;
    memcpy(addr.sun_path, socket_path, length);
    if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    socklen_t addr_length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + length);
    ssize_t sent = sendto(fd, message, strlen(message), MSG_NOSIGNAL, (struct sockaddr *)&addr, addr_length);
    int err = sent < 0 ? errno : 0;
    close(fd);
    return -err;
}
