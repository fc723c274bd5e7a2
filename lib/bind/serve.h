/* serve.h — the transport of nexus-bind serve: HTTP/1.1 connections (keep-alive, bounded
 * head and body, an idle timeout) answered by api.h, either one connection on a pair of
 * descriptors (inetd, systemd Accept=yes) or a listener that forks one process per
 * connection, at most max_conns at once and per_source from one address. */
#ifndef NEXUS_BIND_SERVE_H
#define NEXUS_BIND_SERVE_H
#include "bind/api.h"
#include "core/log.h"

struct nx_serve {
	struct nx_api *api;
	int idle_ms;            /* a request must arrive (and be read) within this */
	nx_log_sink_fn log;     /* one line per request, and refusals; may be NULL */
	void *log_arg;
	/* listener only */
	const char *db;         /* each connection's process opens its own store */
	int max_conns, per_source;
};

/* Serve requests read from `in` on `out` until the peer closes, asks to close, times out
 * or sends something unusable (answered first). 0, or -1 when reading/writing failed. */
int nx_serve_conn(struct nx_serve *s, int in, int out);

/* Accept on listening socket lfd until *stop; children are reaped as they end. */
int nx_serve_listen(struct nx_serve *s, int lfd, volatile int *stop, char *err, size_t errlen);

#endif
