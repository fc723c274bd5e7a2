/* metrics_http.c — GET /metrics on the daemon's loop (see metrics_http.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/accept.h"
#include "core/promtext.h"
#include "core/sock.h"
#include "core/util.h"
#include "wire/http_req.h"
#include "wire/metrics_http.h"

#define REQ_MAX 4096

struct mconn {
	struct nx_metrics_srv *m;
	struct mconn *next;
	int fd;
	char in[REQ_MAX];
	size_t inlen;
	char *out; /* the whole response */
	size_t outlen, outoff;
	struct nx_timer timeout;
};

struct nx_metrics_srv {
	struct nx_loop *loop;
	int fd;
	char addr[64];
	nx_metrics_render_fn render;
	void *arg;
	struct mconn *conns;
	int nconns;
	struct {
		const char *path, *ctype;
		nx_metrics_render_fn render;
		void *arg;
	} routes[NX_METRICS_MAX_ROUTES];
	int nroutes;
	struct nx_timer retry; /* out of fds: the listener rests, then tries again */
};

static void conn_close(struct mconn *c)
{
	struct nx_metrics_srv *m = c->m;
	struct mconn **pp = &m->conns;
	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp)
		*pp = c->next;
	m->nconns--;
	nx_timer_stop(m->loop, &c->timeout);
	nx_loop_del(m->loop, c->fd);
	close(c->fd);
	free(c->out);
	free(c);
}

static void on_timeout(struct nx_loop *loop, void *arg) { conn_close(arg); }

static int respond(struct mconn *c, int status, const char *reason, const char *ctype,
                   const char *body, size_t blen)
{
	char head[256];
	int h = snprintf(head, sizeof head,
	                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                 "Connection: close\r\n\r\n",
	                 status, reason, ctype, blen);
	if (!(c->out = malloc((size_t)h + blen)))
		return -1;
	memcpy(c->out, head, (size_t)h);
	if (blen)
		memcpy(c->out + h, body, blen);
	c->outlen = (size_t)h + blen;
	c->outoff = 0;
	return 0;
}

static int answer(struct mconn *c, const struct nx_http_req *r)
{
	static const char text[] = "text/plain; charset=utf-8";
	struct nx_metrics_srv *m = c->m;
	nx_metrics_render_fn render = NULL;
	void *arg = NULL;
	const char *ctype = NX_PROM_CONTENT_TYPE;
	if (r->path.n == 8 && memcmp(r->path.p, "/metrics", 8) == 0) {
		render = m->render;
		arg = m->arg;
	}
	for (int i = 0; !render && i < m->nroutes; i++)
		if (r->path.n == strlen(m->routes[i].path) &&
		    memcmp(r->path.p, m->routes[i].path, r->path.n) == 0) {
			render = m->routes[i].render;
			arg = m->routes[i].arg;
			ctype = m->routes[i].ctype;
		}
	if (!render)
		return respond(c, 404, "Not Found", text, "try /metrics\n", 13);
	if (!(r->method.n == 3 && memcmp(r->method.p, "GET", 3) == 0))
		return respond(c, 405, "Method Not Allowed", text, "GET only\n", 9);
	char *body = malloc(NX_METRICS_BODY_MAX);
	if (!body)
		return -1;
	long n = render(arg, body, NX_METRICS_BODY_MAX);
	int rc = n < 0 ? respond(c, 500, "Internal Server Error", text, "too many metrics\n", 17)
	               : respond(c, 200, "OK", ctype, body, (size_t)n);
	free(body);
	return rc;
}

static void on_conn(struct nx_loop *loop, int fd, unsigned events, void *arg)
{
	struct mconn *c = arg;
	if (!c->out) {
		ssize_t n = recv(fd, c->in + c->inlen, sizeof c->in - c->inlen, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			conn_close(c);
			return;
		}
		c->inlen += (size_t)n;
		struct nx_http_req r;
		int pr = nx_http_req_parse(c->in, c->inlen, &r);
		if (pr == NX_HTTP_MORE && c->inlen < sizeof c->in)
			return;
		int rc = pr == NX_HTTP_DONE ? answer(c, &r)
		                            : respond(c, 400, "Bad Request", "text/plain", "", 0);
		if (rc < 0) {
			conn_close(c);
			return;
		}
		nx_loop_mod(loop, fd, NX_EV_WRITE);
	}
	while (c->outoff < c->outlen) {
		ssize_t w = send(fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (w < 0) {
			conn_close(c);
			return;
		}
		c->outoff += (size_t)w;
	}
	conn_close(c);
}

static void accept_again(struct nx_loop *loop, void *arg)
{
	struct nx_metrics_srv *m = arg;
	nx_loop_mod(loop, m->fd, NX_EV_READ);
}

static void on_accept(struct nx_loop *loop, int fd, unsigned events, void *arg)
{
	struct nx_metrics_srv *m = arg;
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			/* Out of fds the scrape stays in the backlog and the (level-triggered) listener
			 * would wake the loop at once again: rest it, retry a little later. */
			if (nx_accept_shortage(errno)) {
				nx_loop_mod(loop, fd, 0);
				nx_timer_start(loop, &m->retry, NX_ACCEPT_RETRY_MS, accept_again, m);
			}
			return;
		}
		struct mconn *c = m->nconns < NX_METRICS_MAX_CONNS ? calloc(1, sizeof *c) : NULL;
		if (!c) {
			close(cfd);
			continue;
		}
		c->m = m;
		c->fd = cfd;
		if (nx_loop_add(loop, cfd, NX_EV_READ, on_conn, c) < 0) {
			close(cfd);
			free(c);
			continue;
		}
		c->next = m->conns;
		m->conns = c;
		m->nconns++;
		nx_timer_start(loop, &c->timeout, NX_METRICS_TIMEOUT_MS, on_timeout, c);
	}
}

struct nx_metrics_srv *nx_metrics_listen(struct nx_loop *loop, const char *addr,
                                         nx_metrics_render_fn render, void *arg, char *err,
                                         size_t errlen)
{
	struct nx_metrics_srv *m = calloc(1, sizeof *m);
	if (!m) {
		nx_err(err, errlen, "out of memory");
		return NULL;
	}
	m->loop = loop;
	m->render = render;
	m->arg = arg;
	char e[NX_ERRLEN];
	if ((m->fd = nx_listen_tcp(addr, 16, e, sizeof e)) < 0) {
		nx_err(err, errlen, "--metrics %s: %s", addr, e);
		free(m);
		return NULL;
	}
	nx_local_addr(m->fd, m->addr, sizeof m->addr, NULL, NULL);
	if (nx_loop_add(loop, m->fd, NX_EV_READ, on_accept, m) < 0) {
		nx_err(err, errlen, "--metrics %s: event loop refused the socket", addr);
		close(m->fd);
		free(m);
		return NULL;
	}
	return m;
}

int nx_metrics_route(struct nx_metrics_srv *m, const char *path, const char *ctype,
                     nx_metrics_render_fn render, void *arg)
{
	if (m->nroutes == NX_METRICS_MAX_ROUTES)
		return -1;
	m->routes[m->nroutes].path = path;
	m->routes[m->nroutes].ctype = ctype;
	m->routes[m->nroutes].render = render;
	m->routes[m->nroutes].arg = arg;
	m->nroutes++;
	return 0;
}

const char *nx_metrics_addr(const struct nx_metrics_srv *m) { return m->addr; }

void nx_metrics_free(struct nx_metrics_srv *m)
{
	if (!m)
		return;
	while (m->conns)
		conn_close(m->conns);
	nx_timer_stop(m->loop, &m->retry);
	nx_loop_del(m->loop, m->fd);
	close(m->fd);
	free(m);
}
