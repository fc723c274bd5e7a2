/* sock.c — see sock.h. */
#include "core/sock.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

int nx_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port, char *err,
                      size_t errlen)
{
	const char *colon;
	size_t hl;
	const char *h = s;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':')
			return nx_err(err, errlen, "bad address '%s' (want [v6]:port)", s);
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return nx_err(err, errlen, "bad address '%s' (want host:port)", s);
		hl = (size_t)(colon - s);
	}
	if (hl >= hostlen)
		return nx_err(err, errlen, "host name too long in '%s'", s);
	char *end;
	errno = 0;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || p > 65535)
		return nx_err(err, errlen, "bad port in '%s'", s);
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (uint16_t)p;
	return 0;
}

int nx_hostport_check(const char *s, char *err, size_t errlen)
{
	char host[256];
	uint16_t port;
	return nx_split_hostport(s, host, sizeof host, &port, err, errlen);
}

static struct addrinfo *resolve(const char *addr, int passive, char *err, size_t errlen)
{
	char host[256], ports[8];
	uint16_t port;
	if (nx_split_hostport(addr, host, sizeof host, &port, err, errlen) < 0)
		return NULL;
	snprintf(ports, sizeof ports, "%u", port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                         .ai_flags = passive ? AI_PASSIVE : 0};
	hints.ai_flags |= AI_NUMERICSERV;
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host[0] ? host : "127.0.0.1", ports, &hints, &res);
	if (rc != 0) {
		nx_err(err, errlen, "%s: %s", addr, gai_strerror(rc));
		return NULL;
	}
	return res;
}

/* Try each address `addr` resolves to until `attempt` succeeds on a fresh non-blocking socket;
 * the fd, or -1 with "<what> <addr>: <last error>" in err. */
static int first_socket(const char *addr, int passive, const char *what,
                        int (*attempt)(int fd, const struct addrinfo *ai, int arg), int arg,
                        char *err, size_t errlen)
{
	struct addrinfo *res = resolve(addr, passive, err, errlen);
	if (!res)
		return -1;
	int fd = -1, e = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd >= 0 && attempt(fd, ai, arg) == 0)
			break;
		e = errno;
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return nx_err(err, errlen, "%s %s: %s", what, addr, strerror(e));
	return fd;
}

static int try_listen(int fd, const struct addrinfo *ai, int backlog)
{
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	return bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0 ? 0 : -1;
}

int nx_listen_tcp(const char *addr, int backlog, char *err, size_t errlen)
{
	return first_socket(addr, 1, "listen", try_listen, backlog, err, errlen);
}

int nx_bind_udp(const char *addr, char *err, size_t errlen)
{
	char host[256], ports[8];
	uint16_t port;
	if (nx_split_hostport(addr, host, sizeof host, &port, err, errlen) < 0)
		return -1;
	snprintf(ports, sizeof ports, "%u", port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host[0] ? host : "127.0.0.1", ports, &hints, &res);
	if (rc != 0)
		return nx_err(err, errlen, "%s: %s", addr, gai_strerror(rc));
	int fd = -1, e = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd >= 0 && bind(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		e = errno;
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return nx_err(err, errlen, "bind udp %s: %s", addr, strerror(e));
	int big = 4 << 20; /* bursts of datagrams wait here while the hub is busy */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	return fd;
}

static int unix_addr(const char *path, struct sockaddr_un *sun, char *err, size_t errlen)
{
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun->sun_path)
		return nx_err(err, errlen, "socket path too long: %s", path);
	strcpy(sun->sun_path, path);
	return 0;
}

/* What is at path: 0 free (nothing, or a stale socket now removed), -1 refused (err). */
static int unix_path_free(const char *path, int type, const struct sockaddr_un *sun, char *err,
                          size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return nx_err(err, errlen, "%s: %s", path, strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		return nx_err(err, errlen, "%s exists and is not a socket (not replaced)", path);
	int p = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p < 0)
		return nx_err(err, errlen, "socket: %s", strerror(errno));
	int rc = connect(p, (const struct sockaddr *)sun, sizeof *sun), e = errno;
	close(p);
	if (rc == 0 || e == EAGAIN || e == EINPROGRESS || e == EPROTOTYPE)
		return nx_err(err, errlen, "%s: another process is listening on it (not taken over)",
		              path);
	if (e == ENOENT)
		return 0; /* gone meanwhile */
	if (e != ECONNREFUSED)
		return nx_err(err, errlen, "%s: cannot tell whether it is in use: %s", path,
		              strerror(e));
	if (unlink(path) < 0 && errno != ENOENT) /* stale: nobody listens */
		return nx_err(err, errlen, "cannot remove stale socket %s: %s", path, strerror(errno));
	return 0;
}

int nx_listen_unix_ex(const char *path, int type, const struct nx_unix_opts *o,
                      struct nx_unix_id *id, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	unsigned mode = o && o->mode ? o->mode & 07777 : 0660;
	if (id)
		memset(id, 0, sizeof *id);
	if (unix_addr(path, &sun, err, errlen) < 0)
		return -1;
	if (unix_path_free(path, type, &sun, err, errlen) < 0)
		return -1;
	int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return nx_err(err, errlen, "socket: %s", strerror(errno));
	/* Owner-only from the moment it exists; group and mode are set before listen(), so
	 * nobody connects through rights the file was never meant to have. */
	mode_t old = umask(0177);
	int rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	int e = errno;
	umask(old);
	struct stat st;
	const char *what = "bind";
	if (rc == 0) {
		if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
			rc = -1, e = errno ? errno : EEXIST, what = "stat";
		else if (o && o->set_gid && chown(path, (uid_t)-1, (gid_t)o->gid) < 0)
			rc = -1, e = errno, what = "chown";
		else if (chmod(path, (mode_t)mode) < 0)
			rc = -1, e = errno, what = "chmod";
		else if (listen(fd, 128) < 0)
			rc = -1, e = errno, what = "listen";
		if (rc < 0)
			unlink(path);
	}
	if (rc < 0) {
		close(fd);
		return nx_err(err, errlen, "%s %s: %s", what, path, strerror(e));
	}
	if (id) {
		id->dev = (uint64_t)st.st_dev;
		id->ino = (uint64_t)st.st_ino;
		id->valid = 1;
	}
	return fd;
}

int nx_listen_unix(const char *path, int type, char *err, size_t errlen)
{
	return nx_listen_unix_ex(path, type, NULL, NULL, err, errlen);
}

int nx_unlink_unix_if_ours(const char *path, const struct nx_unix_id *id)
{
	struct stat st;
	if (!id || !id->valid || lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    (uint64_t)st.st_dev != id->dev || (uint64_t)st.st_ino != id->ino)
		return 0;
	return unlink(path) == 0;
}

int nx_dial_unix(const char *path, int type, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	if (unix_addr(path, &sun, err, errlen) < 0)
		return -1;
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return nx_err(err, errlen, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		int e = errno;
		close(fd);
		return nx_err(err, errlen, "%s: %s", path, strerror(e));
	}
	nx_set_nonblock(fd, 1);
	return fd;
}

static int try_connect(int fd, const struct addrinfo *ai, int unused)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS ? 0 : -1;
}

int nx_dial_tcp(const char *addr, char *err, size_t errlen)
{
	return first_socket(addr, 0, "connect", try_connect, 0, err, errlen);
}

int nx_connect_result(int fd, char *err, size_t errlen)
{
	int e = 0;
	socklen_t l = sizeof e;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0)
		e = errno;
	if (e)
		return nx_err(err, errlen, "%s", strerror(e));
	return 0;
}

const char *nx_fmt_addr(const struct sockaddr *sa, char *buf, size_t n, char *ip, uint16_t *port)
{
	char a[INET6_ADDRSTRLEN] = "?";
	uint16_t p = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof a);
		p = ntohs(s4->sin_port);
		snprintf(buf, n, "%s:%u", a, p);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof a);
		p = ntohs(s6->sin6_port);
		snprintf(buf, n, "[%s]:%u", a, p);
	} else {
		snprintf(buf, n, "unix");
		strcpy(a, "unix");
	}
	if (ip)
		snprintf(ip, 48, "%s", a);
	if (port)
		*port = p;
	return buf;
}

const char *nx_peer_addr(int fd, char *buf, size_t n, char *ip, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;
	if (getpeername(fd, (struct sockaddr *)&ss, &l) < 0)
		ss.ss_family = AF_UNSPEC;
	return nx_fmt_addr((struct sockaddr *)&ss, buf, n, ip, port);
}

const char *nx_local_addr(int fd, char *buf, size_t n, char *ip, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &l) < 0)
		ss.ss_family = AF_UNSPEC;
	return nx_fmt_addr((struct sockaddr *)&ss, buf, n, ip, port);
}

uint16_t nx_local_port(int fd)
{
	char b[80];
	uint16_t p = 0;
	nx_local_addr(fd, b, sizeof b, NULL, &p);
	return p;
}

int nx_set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -1;
	int want = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return want == fl ? 0 : fcntl(fd, F_SETFL, want); /* a handed-over fd mostly is already */
}

int nx_set_keepalive(int fd, int idle_s, int intvl_s, int cnt)
{
	int on = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl_s, sizeof intvl_s) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt) < 0)
		return -1;
	return 0;
}

int nx_listen_fds(void)
{
	int n = sd_listen_fds(1);
	for (int i = 0; i < n; i++)
		nx_set_nonblock(SD_LISTEN_FDS_START + i, 1);
	return n < 0 ? 0 : n;
}

void nx_notify_ready(void) { sd_notify(0, "READY=1"); }
void nx_notify_stopping(void) { sd_notify(0, "STOPPING=1"); }

void nx_notify_status(const char *fmt, ...)
{
	char msg[512];
	int o = snprintf(msg, sizeof msg, "STATUS=");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg + o, sizeof msg - (size_t)o, fmt, ap);
	va_end(ap);
	sd_notify(0, msg);
}
