/* sock.h — socket helpers: listen, dial, addresses, socket activation, sd_notify.
 * All sockets are created O_NONBLOCK | O_CLOEXEC. */
#ifndef NEXUS_SOCK_H
#define NEXUS_SOCK_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Split "host:port", "[v6]:port" or ":port" (host "" = 127.0.0.1 for listen) into parts.
 * host must hold at least 256 bytes. */
int nx_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port, char *err,
                      size_t errlen);
/* The same check alone, for an option's value at parse time: 0, or -1 with err. */
int nx_hostport_check(const char *s, char *err, size_t errlen);

/* Listening TCP socket on "host:port" (SO_REUSEADDR; port 0 picks one). Returns fd or -1. */
int nx_listen_tcp(const char *addr, int backlog, char *err, size_t errlen);
/* Bound UDP socket on "host:port" (port 0 picks one), with a large receive buffer. */
int nx_bind_udp(const char *addr, char *err, size_t errlen);

/* Listening unix stream/seqpacket socket at path, mode 0660 (nx_listen_unix_ex with
 * defaults). */
int nx_listen_unix(const char *path, int type, char *err, size_t errlen);

/* The file a unix socket was bound to, to tell later whether path is still ours. */
struct nx_unix_id {
	uint64_t dev, ino;
	int valid;
};
struct nx_unix_opts {
	unsigned mode;  /* permission bits of the socket file (0: 0660) */
	int set_gid;    /* chown the file to gid */
	uint32_t gid;
};
/* Listening unix socket at path. What is at path first: nothing → bind; a socket something
 * still listens on (connect succeeds, or its queue is full) → refused, left alone; a stale
 * socket (connect refused) → replaced; anything that is not a socket → refused, never
 * deleted. The file is created owner-only (umask around bind), then given its group and
 * mode, so it is never reachable with looser rights. *id (may be NULL) gets its identity. */
int nx_listen_unix_ex(const char *path, int type, const struct nx_unix_opts *o,
                      struct nx_unix_id *id, char *err, size_t errlen);
/* Remove path if it is still the socket file id names (same device and inode); 1 if
 * removed, 0 if it is something else now (left alone). */
int nx_unlink_unix_if_ours(const char *path, const struct nx_unix_id *id);

/* Connect to a unix socket (blocking connect, then non-blocking). */
int nx_dial_unix(const char *path, int type, char *err, size_t errlen);

/* Start a non-blocking TCP connect to "host:port" (name resolved with getaddrinfo, first
 * address that starts connecting wins). Returns fd; completion is signalled by writability,
 * then check with nx_connect_result(). */
int nx_dial_tcp(const char *addr, char *err, size_t errlen);
/* 0 if the pending connect on fd succeeded, else -1 with the reason in err. */
int nx_connect_result(int fd, char *err, size_t errlen);

/* The local port a socket is bound to (0 on error). */
uint16_t nx_local_port(int fd);

/* "ip:port" or "[v6]:port" of a sockaddr into buf (>= 64 bytes). ip/port also separately
 * when non-NULL (ip >= 48 bytes). */
const char *nx_fmt_addr(const struct sockaddr *sa, char *buf, size_t n, char *ip, uint16_t *port);
/* The same for the peer / local address of a connected socket. */
const char *nx_peer_addr(int fd, char *buf, size_t n, char *ip, uint16_t *port);
const char *nx_local_addr(int fd, char *buf, size_t n, char *ip, uint16_t *port);

int nx_set_nonblock(int fd, int on);
/* TCP keepalive: probes after idle_s quiet seconds, every intvl_s, cnt unanswered ones
 * end the connection (a peer that vanished without a FIN or RST). 0, or -1. */
int nx_set_keepalive(int fd, int idle_s, int intvl_s, int cnt);

/* Sockets passed by systemd (LISTEN_FDS, starting at fd 3), made non-blocking; 0 if none. */
int nx_listen_fds(void);

/* sd_notify wrappers; harmless without systemd. */
void nx_notify_ready(void);
void nx_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void nx_notify_stopping(void);

#endif
