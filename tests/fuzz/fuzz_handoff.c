/* libFuzzer target: the hub's side of the relay handoff (nx_handoff_recv). The input is one
 * SOCK_SEQPACKET message, sent with one fd attached; whatever the bytes, the parser either
 * returns a consistent message or refuses it, and never leaks the passed fd. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wire/handoff.h"

static int sp[2] = {-1, -1};

static void send_with_fd(const uint8_t *data, size_t size, int fd)
{
	struct iovec iov = {.iov_base = (void *)data, .iov_len = size};
	union {
		struct cmsghdr a;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	memset(&ctl, 0, sizeof ctl);
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
	                   .msg_controllen = sizeof ctl.b};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	if (sendmsg(sp[0], &m, 0) != (ssize_t)size)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (sp[0] < 0) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) < 0)
			abort();
		int big = 1 << 20;
		setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	}
	if (size == 0 || size > NX_HANDOFF_MSG_MAX)
		return 0; /* an empty message is EOF-like; larger ones cannot be sent in one piece */
	int pass = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (pass < 0)
		abort();
	send_with_fd(data, size, pass);
	close(pass);
	int fd = -1;
	struct nx_handoff h;
	char err[256];
	int rc = nx_handoff_recv(sp[1], &fd, &h, err, sizeof err);
	if (rc == 1) {
		if (fd < 0 || h.route_key[0] == '\0' || strlen(h.route_key) > 255 ||
		    strlen(h.client_addr) > 63 || h.prelude_len > NX_HANDOFF_PRELUDE_MAX)
			abort();
		close(fd);
		nx_handoff_clear(&h);
	} else if (fd != -1) {
		abort(); /* a refused message must not hand out an fd */
	}
	/* the fd passed in is closed either way: the lowest free fd is the one we just freed */
	int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (probe != pass)
		abort();
	close(probe);
	return 0;
}
