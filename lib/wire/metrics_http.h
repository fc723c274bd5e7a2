/* metrics_http.h — a small HTTP/1.x responder on a daemon's event loop for --metrics: GET
 * /metrics answers the Prometheus text the caller renders at that moment (core/promtext.h);
 * more paths can be added (nx_metrics_route); anything else gets 404 / 405. One request per connection, then close; at most
 * NX_METRICS_MAX_CONNS connections at once (more are closed at accept), each given
 * NX_METRICS_TIMEOUT_MS to send its request. Meant for a local address (127.0.0.1:9101):
 * there is no authentication. */
#ifndef NEXUS_METRICS_HTTP_H
#define NEXUS_METRICS_HTTP_H
#include <stddef.h>

#include "core/loop.h"

#define NX_METRICS_MAX_CONNS 16
#define NX_METRICS_TIMEOUT_MS 5000
#define NX_METRICS_BODY_MAX (256 * 1024)

/* Write the exposition into buf (cap bytes); return its length, or -1 (too small). */
typedef long (*nx_metrics_render_fn)(void *arg, char *buf, size_t cap);

struct nx_metrics_srv;

/* Listen on addr ("host:port"; port 0 picks one) on loop. NULL with err on failure. */
struct nx_metrics_srv *nx_metrics_listen(struct nx_loop *loop, const char *addr,
                                         nx_metrics_render_fn render, void *arg, char *err,
                                         size_t errlen);
/* Also answer GET path (e.g. "/backends") with what render writes, as ctype (e.g.
 * "application/json"). At most NX_METRICS_MAX_ROUTES; path must outlive m. 0 or -1. */
#define NX_METRICS_MAX_ROUTES 4
int nx_metrics_route(struct nx_metrics_srv *m, const char *path, const char *ctype,
                     nx_metrics_render_fn render, void *arg);
/* "ip:port" actually bound (for port 0). */
const char *nx_metrics_addr(const struct nx_metrics_srv *m);
/* Close the listener and every connection. NULL is fine. */
void nx_metrics_free(struct nx_metrics_srv *m);

#endif
