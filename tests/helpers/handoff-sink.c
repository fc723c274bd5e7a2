/* handoff-sink — a stand-in hub for the relay's tests. Listens on a SOCK_SEQPACKET unix
 * socket, and for each handoff prints one line on stdout:
 *   key=K port=P client=ADDR tls=0|1 prelude=N first=HEX8
 * then replies by a rule: NO_ROUTE when the key contains "noroute", BUSY when it contains
 * "busy", else OK (after sleeping 2 s when it contains "stuck"); when it contains "vanish" it
 * exits without a reply (a hub that dies while the relay waits for its answer). On OK it writes a fixed
 * answer to the passed fd — "HTTP/1.1 200 OK ... sink:KEY:PRELUDE_LEN" for HTTP/tcp keys,
 * raw "sink:KEY:PRELUDE_LEN" for TLS — and closes it.
 * usage: handoff-sink SOCKET_PATH [--count N]  (exit after N handoffs; default: forever) */
#include "wire/handoff.h"
#include "core/sock.h"
#include "core/util.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void serve(int s, long *left)
{
	char err[NX_ERRLEN];
	for (;;) {
		struct pollfd p = {.fd = s, .events = POLLIN};
		if (poll(&p, 1, -1) < 0)
			return;
		struct nx_handoff h;
		int fd;
		int rc = nx_handoff_recv(s, &fd, &h, err, sizeof err);
		if (rc == 0)
			return;
		if (rc < 0) {
			fprintf(stderr, "handoff-sink: %s\n", err);
			if (strstr(err, "malformed")) {
				nx_handoff_reply(s, NX_HANDOFF_BUSY); /* one reply per message, in order */
				continue;
			}
			return;
		}
		char hex[17] = "";
		for (size_t i = 0; i < h.prelude_len && i < 8; i++)
			snprintf(hex + 2 * i, 3, "%02x", h.prelude[i]);
		printf("key=%s port=%u client=%s tls=%u prelude=%zu first=%s\n", h.route_key,
		       h.conn_port, h.client_addr, h.is_tls, h.prelude_len, hex);
		fflush(stdout);
		if (strstr(h.route_key, "vanish"))
			exit(0);
		if (strstr(h.route_key, "stuck"))
			sleep(2); /* a hub that hangs for a while, then takes the connection */
		if (strstr(h.route_key, "noroute")) {
			nx_handoff_reply(s, NX_HANDOFF_NO_ROUTE);
		} else if (strstr(h.route_key, "busy")) {
			nx_handoff_reply(s, NX_HANDOFF_BUSY);
		} else {
			nx_handoff_reply(s, NX_HANDOFF_OK);
			nx_set_nonblock(fd, 0);
			char body[512], msg[1024];
			int bl = snprintf(body, sizeof body, "sink:%s:%zu\n", h.route_key, h.prelude_len);
			int ml;
			if (h.is_tls)
				ml = snprintf(msg, sizeof msg, "%s", body);
			else
				ml = snprintf(msg, sizeof msg,
				              "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
				              bl, body);
			nx_write_all(fd, msg, (size_t)ml);
			shutdown(fd, SHUT_WR);
			/* let the client read before the close (unread input would reset it) */
			char sink[4096];
			struct pollfd q = {.fd = fd, .events = POLLIN};
			while (poll(&q, 1, 2000) > 0 && read(fd, sink, sizeof sink) > 0)
				;
		}
		if (fd >= 0)
			close(fd);
		nx_handoff_clear(&h);
		if (*left > 0 && --*left == 0)
			exit(0);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: handoff-sink SOCKET_PATH [--count N]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN); /* a client the relay already shut down must not kill us */
	long left = argc > 3 && !strcmp(argv[2], "--count") ? atol(argv[3]) : -1;
	char err[NX_ERRLEN];
	int l = nx_listen_unix(argv[1], SOCK_SEQPACKET, err, sizeof err);
	if (l < 0) {
		fprintf(stderr, "handoff-sink: %s\n", err);
		return 1;
	}
	nx_set_nonblock(l, 0);
	for (;;) {
		int s = accept(l, NULL, NULL);
		if (s < 0)
			continue;
		serve(s, &left);
		close(s);
	}
}
