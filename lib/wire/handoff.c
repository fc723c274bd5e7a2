/* handoff.c — see handoff.h. One SOCK_SEQPACKET message per connection, so a message is
 * never split or merged and the fd travels with exactly the bytes that describe it. */
#include "wire/handoff.h"
#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void put16(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void put32(unsigned char *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static int build_and_send(int sock, int client_fd, const struct nx_handoff *h, char *err,
                          size_t errlen)
{
	int udp = h->kind == NX_HANDOFF_UDP;
	size_t klen = strnlen(h->route_key, sizeof h->route_key);
	size_t alen = strnlen(h->client_addr, sizeof h->client_addr);
	if (klen == 0 || klen > 255)
		return nx_err(err, errlen, "handoff: route key empty or too long");
	if (alen > 63)
		return nx_err(err, errlen, "handoff: client address too long");
	if (h->prelude_len > NX_HANDOFF_PRELUDE_MAX || (h->prelude_len && !h->prelude))
		return nx_err(err, errlen, "handoff: prelude too long");
	if (client_fd < 0)
		return nx_err(err, errlen, "handoff: no fd to pass");

	unsigned char hdr[NX_HANDOFF_HDR];
	memcpy(hdr, udp ? "NXU1" : "NXH1", 4);
	hdr[4] = h->is_tls && !udp ? 1 : 0;
	hdr[5] = (unsigned char)klen;
	hdr[6] = (unsigned char)alen;
	hdr[7] = 0;
	put16(hdr + 8, h->conn_port);
	put32(hdr + 10, (uint32_t)h->prelude_len);
	/* Gathered, not copied: the prelude may be 64 KiB. */
	struct iovec iov[4] = {
	    {.iov_base = hdr, .iov_len = sizeof hdr},
	    {.iov_base = (void *)h->route_key, .iov_len = klen},
	    {.iov_base = (void *)h->client_addr, .iov_len = alen},
	    {.iov_base = h->prelude, .iov_len = h->prelude_len},
	};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	memset(&ctl, 0, sizeof ctl);
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = h->prelude_len ? 4 : 3,
	                     .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &client_fd, sizeof(int));
	ssize_t n;
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 1;
		return nx_err(err, errlen, "handoff send: %s", strerror(errno));
	}
	return 0;
}

int nx_handoff_try_send(int sock, int client_fd, const struct nx_handoff *h, char *err,
                        size_t errlen)
{
	return build_and_send(sock, client_fd, h, err, errlen);
}

int nx_handoff_send_udp(int sock, int udp_fd, uint16_t port, const char *local_addr,
                        char *err, size_t errlen)
{
	struct nx_handoff h = {.kind = NX_HANDOFF_UDP, .conn_port = port};
	snprintf(h.route_key, sizeof h.route_key, "udp:%u", port);
	snprintf(h.client_addr, sizeof h.client_addr, "%s", local_addr ? local_addr : "");
	int rc = build_and_send(sock, udp_fd, &h, err, errlen);
	if (rc == 1)
		return nx_err(err, errlen, "handoff send: hub queue full");
	return rc;
}

int nx_handoff_send(int sock, int client_fd, const struct nx_handoff *h, char *err, size_t errlen)
{
	int rc = build_and_send(sock, client_fd, h, err, errlen);
	if (rc == 1)
		return nx_err(err, errlen, "handoff send: hub queue full");
	return rc;
}

/* Close every fd carried by msg's control data; returns how many there were. */
static int close_passed_fds(struct msghdr *msg, int *first)
{
	int count = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
			if (count == 0 && first)
				*first = fd;
			else
				close(fd);
			count++;
		}
	}
	return count;
}

int nx_handoff_parse(const unsigned char *buf, size_t n, struct nx_handoff *h, char *err,
                     size_t errlen)
{
	memset(h, 0, sizeof *h);
	if (n < NX_HANDOFF_HDR || (memcmp(buf, "NXH1", 4) != 0 && memcmp(buf, "NXU1", 4) != 0))
		return nx_err(err, errlen, "bad header");
	int udp = memcmp(buf, "NXU1", 4) == 0;
	size_t klen = buf[5], alen = buf[6];
	size_t plen = (size_t)buf[10] << 24 | (size_t)buf[11] << 16 | (size_t)buf[12] << 8 | buf[13];
	if (buf[4] > 1 || buf[7] != 0 || klen == 0 || alen > 63 || plen > NX_HANDOFF_PRELUDE_MAX)
		return nx_err(err, errlen, "bad header field");
	if (NX_HANDOFF_HDR + klen + alen + plen != n)
		return nx_err(err, errlen, "lengths do not add up to the message");
	if (memchr(buf + NX_HANDOFF_HDR, '\0', klen + alen))
		return nx_err(err, errlen, "NUL byte in route key or address");
	h->kind = udp ? NX_HANDOFF_UDP : NX_HANDOFF_CONN;
	h->is_tls = buf[4];
	h->conn_port = (uint16_t)(buf[8] << 8 | buf[9]);
	memcpy(h->route_key, buf + NX_HANDOFF_HDR, klen);
	memcpy(h->client_addr, buf + NX_HANDOFF_HDR + klen, alen);
	h->prelude_len = plen;
	h->prelude = (unsigned char *)buf + NX_HANDOFF_HDR + klen + alen;
	if (udp) {
		char want[16];
		snprintf(want, sizeof want, "udp:%u", h->conn_port);
		if (h->is_tls || plen || h->conn_port == 0 || strcmp(h->route_key, want) != 0) {
			memset(h, 0, sizeof *h);
			return nx_err(err, errlen, "bad UDP listener message");
		}
	}
	return 1;
}

int nx_handoff_recv(int sock, int *client_fd, struct nx_handoff *h, char *err, size_t errlen)
{
	memset(h, 0, sizeof *h);
	*client_fd = -1;
	unsigned char *buf = malloc(NX_HANDOFF_MSG_MAX);
	if (!buf)
		return nx_err(err, errlen, "out of memory");
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 8)]; /* room to see (and close) extra fds */
	} ctl;
	struct iovec iov = {.iov_base = buf, .iov_len = NX_HANDOFF_MSG_MAX};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
	                     .msg_controllen = sizeof ctl.buf};
	ssize_t n;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int e = errno;
		free(buf);
		nx_err(err, errlen, "handoff recv: %s", strerror(e));
		errno = e; /* callers test EAGAIN: set it last */
		return -1;
	}
	int fd = -1;
	int nfds = close_passed_fds(&msg, &fd);
	if (n == 0 && nfds == 0) {
		free(buf);
		return 0;
	}
	const char *bad = NULL;
	char why[NX_ERRLEN];
	if (msg.msg_flags & MSG_TRUNC)
		bad = "message too long";
	else if (msg.msg_flags & MSG_CTRUNC)
		bad = "control data truncated";
	else if (nfds != 1)
		bad = nfds ? "more than one fd" : "no fd attached";
	else if (nx_handoff_parse(buf, (size_t)n, h, why, sizeof why) < 0)
		bad = why;
	if (bad) {
		if (fd >= 0)
			close(fd);
		free(buf);
		memset(h, 0, sizeof *h);
		nx_err(err, errlen, "handoff recv: malformed message (%s)", bad);
		/* The kernel truncates the control data, installing nothing, when our fd table is
		 * full: that is our shortage, not the sender's mistake (too many fds for ctl is). */
		errno = (msg.msg_flags & MSG_CTRUNC) && nfds == 0 ? EMFILE : EPROTO;
		return -1;
	}
	const unsigned char *pre = h->prelude;
	h->prelude = malloc(h->prelude_len ? h->prelude_len : 1);
	if (!h->prelude) {
		close(fd);
		free(buf);
		memset(h, 0, sizeof *h);
		return nx_err(err, errlen, "out of memory");
	}
	memcpy(h->prelude, pre, h->prelude_len);
	free(buf);
	*client_fd = fd;
	return 1;
}

int nx_handoff_reply(int sock, enum nx_handoff_status st)
{
	unsigned char b = (unsigned char)st;
	ssize_t n;
	do
		n = send(sock, &b, 1, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -1;
}

int nx_handoff_read_reply(int sock, enum nx_handoff_status *st)
{
	unsigned char b[16];
	ssize_t n;
	do
		n = recv(sock, b, sizeof b, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n == 0)
		return 0;
	if (n != 1 || b[0] > NX_HANDOFF_DENIED) {
		errno = EPROTO;
		return -1;
	}
	*st = (enum nx_handoff_status)b[0];
	return 1;
}

void nx_handoff_clear(struct nx_handoff *h)
{
	free(h->prelude);
	memset(h, 0, sizeof *h);
}
