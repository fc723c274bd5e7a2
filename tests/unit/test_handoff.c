/* Unit tests for lib/handoff: a connection's fd and prelude cross a SOCK_SEQPACKET pair;
 * malformed messages are refused and the fds they carried are closed, not leaked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wire/handoff.h"
#include "core/util.h"

static int fd_is_open(int fd) { return fcntl(fd, F_GETFD) != -1; }

/* Send raw bytes with `nfds` copies of fd attached. */
static void send_raw(int sock, const void *buf, size_t len, int fd, int nfds)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	union {
		struct cmsghdr a;
		char b[CMSG_SPACE(sizeof(int) * 2)];
	} ctl;
	memset(&ctl, 0, sizeof ctl);
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	if (nfds) {
		m.msg_control = ctl.b;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		for (int i = 0; i < nfds; i++)
			memcpy(CMSG_DATA(c) + i * sizeof(int), &fd, sizeof fd);
	}
	assert_true(sendmsg(sock, &m, 0) == (ssize_t)len);
}

static void passes_fd_and_prelude(void **state)
{
	int sp[2], client[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, client), 0);
	size_t plen = NX_HANDOFF_PRELUDE_MAX;
	unsigned char *prelude = malloc(plen);
	for (size_t i = 0; i < plen; i++)
		prelude[i] = (unsigned char)(i * 7);
	struct nx_handoff h = {.conn_port = 8443, .is_tls = 1, .prelude_len = plen,
	                       .prelude = prelude};
	strcpy(h.route_key, "app.test");
	strcpy(h.client_addr, "[::1]:51234");
	char err[NX_ERRLEN];
	int big = 4 * 1024 * 1024; /* the default unix buffer may be smaller than one 64 KiB message */
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	assert_int_equal(nx_handoff_send(sp[0], client[1], &h, err, sizeof err), 0);
	close(client[1]); /* the relay's copy goes; the hub's copy lives on */

	struct nx_handoff r;
	int fd = -1;
	assert_int_equal(nx_handoff_recv(sp[1], &fd, &r, err, sizeof err), 1);
	assert_true(fd >= 0);
	assert_string_equal(r.route_key, "app.test");
	assert_string_equal(r.client_addr, "[::1]:51234");
	assert_int_equal(r.conn_port, 8443);
	assert_int_equal(r.is_tls, 1);
	assert_int_equal(r.prelude_len, plen);
	assert_memory_equal(r.prelude, prelude, plen);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* the passed fd really is the client's connection */
	assert_int_equal(write(fd, "hi", 2), 2);
	char b[2];
	assert_int_equal(read(client[0], b, 2), 2);
	assert_memory_equal(b, "hi", 2);

	assert_int_equal(nx_handoff_reply(sp[1], NX_HANDOFF_NO_ROUTE), 0);
	enum nx_handoff_status st;
	assert_int_equal(nx_handoff_read_reply(sp[0], &st), 1);
	assert_int_equal(st, NX_HANDOFF_NO_ROUTE);

	/* empty prelude is allowed (a tcp: port claim from a silent client) */
	nx_handoff_clear(&r);
	struct nx_handoff e = {.conn_port = 2222};
	strcpy(e.route_key, "tcp:2222");
	assert_int_equal(nx_handoff_send(sp[0], client[0], &e, err, sizeof err), 0);
	int fd2;
	assert_int_equal(nx_handoff_recv(sp[1], &fd2, &r, err, sizeof err), 1);
	assert_int_equal(r.prelude_len, 0);
	assert_string_equal(r.route_key, "tcp:2222");
	assert_string_equal(r.client_addr, "");
	nx_handoff_clear(&r);

	/* EOF */
	close(sp[0]);
	assert_int_equal(nx_handoff_recv(sp[1], &fd2 + 0, &r, err, sizeof err), 0);
	assert_int_equal(nx_handoff_read_reply(sp[1], &st), 0);
	close(fd);
	close(fd2);
	close(sp[1]);
	close(client[0]);
	free(prelude);
}

static void malformed_messages_rejected_fd_closed(void **state)
{
	int sp[2], pipefd[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	char err[NX_ERRLEN];
	struct nx_handoff r;
	int fd;
	unsigned char good[NX_HANDOFF_HDR + 3] = {'N', 'X', 'H', '1', 0, 3, 0, 0, 0x1f, 0x90,
	                                          0, 0, 0, 0, 'a', '.', 'b'};
	unsigned char m[sizeof good];
	struct {
		size_t off, len; /* bytes to use (truncation) */
		int poke, val;   /* byte to corrupt, -1 none */
		int nfds;
		const char *what;
	} cases[] = {
	    {0, sizeof good - 1, -1, 0, 1, "truncated"},
	    {0, 10, -1, 0, 1, "short header"},
	    {0, sizeof good, 0, 'X', 1, "bad magic"},
	    {0, sizeof good, 5, 0, 1, "empty route key"},
	    {0, sizeof good, 13, 9, 1, "prelude length beyond message"},
	    {0, sizeof good, 10, 0x7f, 1, "prelude length huge"},
	    {0, sizeof good, 4, 7, 1, "bad is_tls"},
	    {0, sizeof good, 15, 0, 1, "NUL in route key"},
	    {0, sizeof good, -1, 0, 0, "no fd"},
	    {0, sizeof good, -1, 0, 2, "two fds"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		assert_int_equal(pipe(pipefd), 0);
		memcpy(m, good, sizeof good);
		if (cases[i].poke >= 0)
			m[cases[i].poke] = (unsigned char)cases[i].val;
		send_raw(sp[0], m, cases[i].len, pipefd[1], cases[i].nfds);
		close(pipefd[1]);
		fd = -1;
		if (nx_handoff_recv(sp[1], &fd, &r, err, sizeof err) != -1)
			fail_msg("accepted: %s", cases[i].what);
		assert_int_equal(fd, -1);
		assert_int_equal(errno, EPROTO);
		/* every copy of the pipe's write end is closed: the reader sees EOF */
		char b;
		assert_int_equal(read(pipefd[0], &b, 1), 0);
		close(pipefd[0]);
	}
	/* a message longer than any valid one: truncated by the kernel, refused, fd closed */
	int big = 4 * 1024 * 1024;
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	size_t hugelen = NX_HANDOFF_MSG_MAX + 100;
	unsigned char *huge = calloc(1, hugelen);
	memcpy(huge, good, sizeof good);
	assert_int_equal(pipe(pipefd), 0);
	send_raw(sp[0], huge, hugelen, pipefd[1], 1);
	close(pipefd[1]);
	fd = -1;
	assert_int_equal(nx_handoff_recv(sp[1], &fd, &r, err, sizeof err), -1);
	assert_int_equal(errno, EPROTO);
	assert_non_null(strstr(err, "too long"));
	assert_int_equal(fd, -1);
	char eofb;
	assert_int_equal(read(pipefd[0], &eofb, 1), 0);
	close(pipefd[0]);
	free(huge);

	/* the good message is still accepted after all that */
	assert_int_equal(pipe(pipefd), 0);
	send_raw(sp[0], good, sizeof good, pipefd[1], 1);
	assert_int_equal(nx_handoff_recv(sp[1], &fd, &r, err, sizeof err), 1);
	assert_string_equal(r.route_key, "a.b");
	assert_int_equal(r.conn_port, 8080);
	assert_true(fd_is_open(fd));
	close(fd);
	nx_handoff_clear(&r);
	close(pipefd[0]);
	close(pipefd[1]);

	/* a bad reply byte */
	unsigned char bad = 9;
	assert_int_equal(write(sp[1], &bad, 1), 1);
	enum nx_handoff_status st;
	assert_int_equal(nx_handoff_read_reply(sp[0], &st), -1);
	assert_int_equal(errno, EPROTO);
	close(sp[0]);
	close(sp[1]);
}

/* A relay's UDP socket goes over as "NXU1" and comes out as a UDP handoff; the pure parser
 * refuses a UDP message whose key does not match its port or that carries a prelude. */
static void udp_listener_handoff(void **state)
{
	(void)state;
	int sp[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(u >= 0);
	char err[256];
	assert_int_equal(nx_handoff_send_udp(sp[0], u, 5353, "127.0.0.1:5353", err, sizeof err), 0);
	struct nx_handoff h;
	int fd = -1;
	assert_int_equal(nx_handoff_recv(sp[1], &fd, &h, err, sizeof err), 1);
	assert_true(fd >= 0);
	assert_int_equal(h.kind, NX_HANDOFF_UDP);
	assert_int_equal(h.conn_port, 5353);
	assert_string_equal(h.route_key, "udp:5353");
	assert_string_equal(h.client_addr, "127.0.0.1:5353");
	int type = 0;
	socklen_t tl = sizeof type;
	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl), 0);
	assert_int_equal(type, SOCK_DGRAM);
	close(fd);
	nx_handoff_clear(&h);

	unsigned char m[64] = "NXU1";
	memset(m + 4, 0, 10);
	m[5] = 8; /* "udp:5354" for port 5353 */
	m[8] = 5353 >> 8;
	m[9] = 5353 & 0xff;
	memcpy(m + 14, "udp:5354", 8);
	assert_int_equal(nx_handoff_parse(m, 22, &h, err, sizeof err), -1);
	memcpy(m + 14, "udp:5353", 8);
	assert_int_equal(nx_handoff_parse(m, 22, &h, err, sizeof err), 1);
	assert_int_equal(h.kind, NX_HANDOFF_UDP);
	m[13] = 1; /* a prelude byte */
	m[22] = 'x';
	assert_int_equal(nx_handoff_parse(m, 23, &h, err, sizeof err), -1);
	memcpy(m, "NXH1", 4); /* the same bytes as a connection are fine */
	assert_int_equal(nx_handoff_parse(m, 23, &h, err, sizeof err), 1);
	assert_int_equal(h.kind, NX_HANDOFF_CONN);
	assert_int_equal(h.prelude_len, 1);
	close(u);
	close(sp[0]);
	close(sp[1]);
}

static void send_refuses_bad_input(void **state)
{
	int sp[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	char err[NX_ERRLEN];
	struct nx_handoff h = {0};
	assert_int_equal(nx_handoff_send(sp[0], 0, &h, err, sizeof err), -1); /* no key */
	strcpy(h.route_key, "a.test");
	assert_int_equal(nx_handoff_send(sp[0], -1, &h, err, sizeof err), -1); /* no fd */
	h.prelude_len = NX_HANDOFF_PRELUDE_MAX + 1;
	unsigned char x;
	h.prelude = &x;
	assert_int_equal(nx_handoff_send(sp[0], 0, &h, err, sizeof err), -1);
	close(sp[0]);
	close(sp[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(passes_fd_and_prelude),
	    cmocka_unit_test(malformed_messages_rejected_fd_closed),
	    cmocka_unit_test(send_refuses_bad_input),
	    cmocka_unit_test(udp_listener_handoff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
