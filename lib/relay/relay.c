/* relay.c — see relay.h. Sniffing, local routes, life cycle; the listeners are in
 * relay_listen.c, the hub side in relay_hub.c, the relay's own routes (parsing, lookup,
 * dialling, the pump) in relay_route.c.
 * One struct conn per client; its state says who owns its fd: SNIFF (we read), DIAL/PUMP
 * (local route), HUB_SEND/HUB_WAIT (queued for or sent to the hub), ABANDONED (the hub did
 * not answer in time: client told 503 and shut down, queue entry kept for the late reply),
 * ANSWER (we told the client "no" and drain its input until it closes). */
#include "relay/relay_int.h"
#include "wire/handoff.h"
#include "core/hostname.h"
#include "core/log.h"
#include "wire/pump.h"
#include "wire/sniff.h"
#include "core/sock.h"
#include "core/util.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void relay_log(struct nx_relay *r, int lvl, const char *msg, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	nx_log_vemit(r->cfg.log, r->cfg.log_arg, lvl, msg, fmt, ap);
	va_end(ap);
}

/* ---- connection end ---------------------------------------------------------------------- */

static void maybe_stop(struct nx_relay *r);

static const char *proto_name(enum conn_proto p)
{
	return p == P_TLS ? "tls" : p == P_HTTP ? "http" : p == P_TCP ? "tcp" : "unknown";
}

static void conn_log(struct conn *c)
{
	struct nx_relay *r = c->r;
	char qkey[300], qwhy[160], qvia[300], bytes[64] = "";
	/* bytes only where the relay carried them: a connection handed to the hub is counted
	 * by the hub (its stream log line and --metrics) */
	if (c->pump)
		snprintf(bytes, sizeof bytes, " up=%llu down=%llu", (unsigned long long)c->up,
		         (unsigned long long)c->down);
	relay_count_conn(r, c);
	relay_log(r, NX_LOG_INFO, "conn",
	          "client=%s port=%u proto=%s key=%s route=%s outcome=%s%s%s%s ms=%llu", c->peer,
	          c->port, proto_name(c->proto),
	          nx_log_q(qkey, sizeof qkey, c->key[0] ? c->key : "-"),
	          nx_log_q(qvia, sizeof qvia, c->via ? c->via : "-"),
	          c->outcome ? c->outcome : "closed", c->why ? " why=" : "",
	          c->why ? nx_log_q(qwhy, sizeof qwhy, c->why) : "", bytes,
	          (unsigned long long)(nx_loop_now(r->loop) - c->t0));
}

void conn_free(struct conn *c)
{
	struct nx_relay *r = c->r;
	conn_log(c);
	nx_timer_stop(r->loop, &c->timer);
	if (c->pump) {
		nx_pump_stop(c->pump);
		free(c->pump);
	}
	if (c->fd >= 0) {
		nx_loop_del(r->loop, c->fd);
		close(c->fd);
	}
	if (c->bfd >= 0) {
		nx_loop_del(r->loop, c->bfd);
		close(c->bfd);
	}
	free(c->in);
	relay_table_drop(c->tab);
	if (c->has_src)
		nx_srcmap_dec(r->srcmap, &c->src);
	if (c->prev)
		c->prev->next = c->next;
	else
		r->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	r->nconns--;
	free(c);
	relay_accept_resume(r);
	maybe_stop(r);
}

/* ---- answering "no" ---------------------------------------------------------------------- */

static void answer_timeout(struct nx_loop *loop, void *arg) { conn_free(arg); }

static void answer_drain(struct nx_loop *loop, int fd, unsigned events, void *arg)
{
	struct conn *c = arg;
	char sink[4096];
	ssize_t n = read(fd, sink, sizeof sink);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		conn_free(c);
}

/* Tell the client no in its protocol, then read and discard until it closes (closing with
 * unread input would send a RST that can destroy our answer before the client reads it). */
void conn_answer(struct conn *c, const char *outcome, int http_status, uint8_t tls_alert)
{
	struct nx_relay *r = c->r;
	c->outcome = outcome;
	c->st = C_ANSWER;
	nx_timer_stop(r->loop, &c->timer);
	if (c->fd < 0)
		return conn_free(c);
	const void *msg = NULL;
	size_t len = 0;
	unsigned char alert[7];
	if (c->proto == P_TLS && tls_alert) {
		len = nx_tls_alert(alert, c->tls_version, tls_alert);
		msg = alert;
	} else if (c->proto == P_HTTP && http_status) {
		msg = nx_http_error_response(http_status, &len);
	}
	if (msg) {
		ssize_t n = send(c->fd, msg, len, MSG_NOSIGNAL);
		if (n > 0)
			c->down += (uint64_t)n;
	}
	shutdown(c->fd, SHUT_WR);
	nx_loop_del(r->loop, c->fd);
	if (nx_loop_add(r->loop, c->fd, NX_EV_READ, answer_drain, c) < 0)
		return conn_free(c);
	nx_timer_start(r->loop, &c->timer, NX_ANSWER_LINGER_MS, answer_timeout, c);
}

void answer_no_route(struct conn *c)
{
	conn_answer(c, "no-route", 502, NX_TLS_ALERT_UNRECOGNIZED_NAME);
}

void answer_busy(struct conn *c, const char *outcome)
{
	conn_answer(c, outcome, 503, NX_TLS_ALERT_INTERNAL_ERROR);
}

/* ---- sniffing ----------------------------------------------------------------------------- */

static void conn_route(struct conn *c)
{
	struct nx_relay *r = c->r;
	c->route = relay_route_find(r->tab, c->key);
	if (c->route) {
		c->tab = relay_table_hold(r->tab);
		c->via = c->route->addr;
		return relay_route_local(c);
	}
	if (r->cfg.hub_path) {
		c->via = "hub";
		return relay_hub_route(c);
	}
	/* A plain TCP client has no protocol to be told in: it gets a clean FIN (answer with no
	 * message, then drain), not the reset a close with unread input would send. */
	answer_no_route(c);
}

static void route_by_port(struct conn *c)
{
	if (c->proto == P_UNKNOWN)
		c->proto = P_TCP;
	snprintf(c->key, sizeof c->key, "tcp:%u", c->port);
	conn_route(c);
}

/* A name from the client: normalise it, or tell the client it names nothing we serve. */
static void route_by_name(struct conn *c, const struct nx_sniff *s)
{
	char err[NX_ERRLEN];
	if (nx_hostname_normalize(s->name, s->name_len, c->key, sizeof c->key, 0, err,
	                          sizeof err) < 0) {
		nx_sanitize(c->key, sizeof c->key, s->name, s->name_len);
		c->why = "bad host name";
		/* an IPv6 literal is a well-formed Host, just never a route key */
		if (c->proto == P_HTTP && s->name[0] != '[')
			return conn_answer(c, "invalid", 400, 0);
		return answer_no_route(c);
	}
	conn_route(c);
}

/* A client feeding its first bytes one per segment must not make us re-parse the whole
 * buffer each time (quadratic work, a cheap CPU attack): only parse again when the new bytes
 * can change the answer. TLS: once the ClientHello's length is known (nx_sniff.need). HTTP:
 * when the request line or the head has just ended (an LF in the new bytes), or while a read
 * brings any of the first 32 bytes (the method check decides within 17). Where the read
 * began is what counts: one read can take the buffer from 3 bytes to past 32. */
int relay_worth_parsing(struct conn *c, size_t old)
{
	if (c->proto == P_TLS)
		return c->inlen >= c->tls_need;
	if (c->proto != P_HTTP || old < 32)
		return 1;
	const unsigned char *b = c->in;
	for (size_t i = old; i < c->inlen; i++) {
		const unsigned char *nl = memchr(b + i, '\n', c->inlen - i);
		if (!nl)
			return 0;
		i = (size_t)(nl - b);
		if (!c->http_eol) {
			c->http_eol = 1;
			return 1;
		}
		if ((i >= 1 && b[i - 1] == '\n') || (i >= 2 && b[i - 1] == '\r' && b[i - 2] == '\n'))
			return 1;
	}
	return 0;
}

/* Look at what we have (old: how much we had before the last read). Returns 1 when the
 * connection left the sniff state. */
static int sniff_decide(struct conn *c, int eof, size_t old)
{
	if (!eof && c->inlen < SNIFF_BUF && !relay_worth_parsing(c, old))
		return 0;
	struct nx_sniff s;
	enum nx_sniff_result t = nx_sniff_tls(c->in, c->inlen, &s);
	if (t != NX_SNIFF_NOT_THIS) {
		c->proto = P_TLS;
		c->tls_version = s.tls_version;
		switch (t) {
		case NX_SNIFF_DONE: route_by_name(c, &s); return 1;
		case NX_SNIFF_NO_NAME: route_by_port(c); return 1;
		case NX_SNIFF_INVALID:
			c->why = s.why;
			conn_answer(c, "invalid", 0, NX_TLS_ALERT_DECODE_ERROR);
			return 1;
		default: c->tls_need = s.need; break;
		}
	} else {
		enum nx_sniff_result h = nx_sniff_http(c->in, c->inlen, &s);
		switch (h) {
		case NX_SNIFF_NOT_THIS: route_by_port(c); return 1;
		case NX_SNIFF_DONE:
			c->proto = P_HTTP;
			if (!relay_acme_try(c, &s))
				route_by_name(c, &s);
			return 1;
		case NX_SNIFF_NO_NAME: c->proto = P_HTTP; route_by_port(c); return 1;
		case NX_SNIFF_INVALID:
			c->proto = P_HTTP;
			c->why = s.why;
			conn_answer(c, "invalid", 400, 0);
			return 1;
		default: c->proto = P_HTTP; break;
		}
	}
	/* need more */
	if (c->inlen == SNIFF_BUF) {
		c->why = "first bytes over the sniff buffer";
		conn_answer(c, "invalid", 400, NX_TLS_ALERT_DECODE_ERROR);
		return 1;
	}
	if (eof) {
		c->why = "client closed mid-head";
		c->outcome = "eof";
		conn_free(c);
		return 1;
	}
	return 0;
}

static void sniff_read(struct nx_loop *loop, int fd, unsigned events, void *arg)
{
	struct conn *c = arg;
	if (c->inlen == c->incap && c->incap < SNIFF_BUF) {
		/* Grow only for clients that need it: thousands of connections being sniffed
		 * should not each hold 64 KiB. */
		size_t cap = c->incap * 4 < SNIFF_BUF ? c->incap * 4 : SNIFF_BUF;
		unsigned char *in = realloc(c->in, cap);
		if (!in) {
			c->outcome = "out-of-memory";
			return conn_free(c);
		}
		c->in = in;
		c->incap = cap;
	}
	ssize_t n = read(fd, c->in + c->inlen, c->incap - c->inlen);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		c->outcome = "reset";
		return conn_free(c);
	}
	if (n == 0 && c->inlen == 0) {
		c->outcome = "eof";
		return conn_free(c);
	}
	size_t old = c->inlen;
	c->inlen += (size_t)n;
	sniff_decide(c, n == 0, old);
}

static void sniff_timeout(struct nx_loop *loop, void *arg)
{
	struct conn *c = arg;
	struct nx_relay *r = c->r;
	uint64_t elapsed = nx_loop_now(loop) - c->t0;
	if (c->inlen == 0)
		return route_by_port(c); /* a client that waits for the server to speak first */
	if (elapsed < r->cfg.header_ms) {
		nx_timer_start(loop, &c->timer, r->cfg.header_ms - elapsed, sniff_timeout, c);
		return;
	}
	c->why = "incomplete first bytes";
	conn_answer(c, "timeout", 408, NX_TLS_ALERT_DECODE_ERROR);
}

int relay_conn_start(struct nx_relay *r, int fd, const struct sockaddr *peer, uint16_t port,
                     const struct nx_src *src, unsigned flags, char *err, size_t errlen)
{
	struct conn *c = calloc(1, sizeof *c);
	unsigned char *in = malloc(SNIFF_BUF_FIRST);
	if (!c || !in) {
		free(c);
		free(in);
		close(fd);
		return nx_err(err, errlen, "out of memory");
	}
	c->r = r;
	c->fd = fd;
	c->bfd = -1;
	c->in = in;
	c->incap = SNIFF_BUF_FIRST;
	c->st = C_SNIFF;
	c->t0 = nx_loop_now(r->loop);
	c->port = port ? port : nx_local_port(fd);
	c->sockopts = (flags & RELAY_CONN_SOCKOPTS) != 0;
	if (!(peer ? nx_fmt_addr(peer, c->peer, sizeof c->peer, NULL, NULL)
	           : nx_peer_addr(fd, c->peer, sizeof c->peer, NULL, NULL)))
		strcpy(c->peer, "-");
	if (!c->peer[0])
		strcpy(c->peer, "-");
	c->next = r->conns;
	if (r->conns)
		r->conns->prev = c;
	r->conns = c;
	r->nconns++;
	if (src && nx_srcmap_inc(r->srcmap, src)) {
		c->src = *src;
		c->has_src = 1;
	}
	/* Known to the loop but not yet watched: under load the first bytes are often there
	 * by the time the connection is accepted, and one read then decides it without an
	 * epoll_ctl pair and a wake-up. Only a connection still sniffing after it is watched.
	 * Not before the loop runs (--inetd): an end decided then would stop a loop that has
	 * not started, and the relay would never exit. */
	if (nx_loop_add(r->loop, fd, 0, sniff_read, c) < 0) {
		c->outcome = "out-of-memory";
		conn_free(c);
		return nx_err(err, errlen, "out of memory");
	}
	if (flags & RELAY_CONN_READ_NOW)
		sniff_read(r->loop, fd, NX_EV_READ, c);
	if (!nx_loop_watches(r->loop, fd, sniff_read, c))
		return 0; /* decided (routed, answered or gone): c may be freed */
	if (nx_loop_mod(r->loop, fd, NX_EV_READ) < 0) {
		c->outcome = "epoll-failed";
		conn_free(c);
		return nx_err(err, errlen, "epoll: %s", strerror(errno));
	}
	nx_timer_start(r->loop, &c->timer,
	               r->cfg.first_bytes_ms < r->cfg.header_ms ? r->cfg.first_bytes_ms
	                                                        : r->cfg.header_ms,
	               sniff_timeout, c);
	return 0;
}

int nx_relay_add_conn(struct nx_relay *r, int fd, char *err, size_t errlen)
{
	nx_set_nonblock(fd, 1); /* accepted fds already are (accept4), inherited ones may not be */
	return relay_conn_start(r, fd, NULL, 0, NULL, 0, err, errlen); /* loop not running yet */
}

/* ---- life cycle --------------------------------------------------------------------------- */

static void with_defaults(struct nx_relay_config *c)
{
	if (!c->first_bytes_ms)
		c->first_bytes_ms = 1000;
	if (!c->header_ms)
		c->header_ms = 10000;
	if (!c->dial_ms)
		c->dial_ms = 5000;
	if (!c->hub_reply_ms)
		c->hub_reply_ms = 5000;
	if (!c->max_conns)
		c->max_conns = 4096;
	if (!c->max_conns_per_source)
		c->max_conns_per_source = 256;
}

int nx_relay_reload(struct nx_relay *r, const struct nx_relay_config *cfg, char *err,
                    size_t errlen)
{
	struct relay_table *t = relay_table_new(cfg->routes, cfg->nroutes, err, errlen);
	if (!t) {
		r->ctr.reload_failures++;
		return -1;
	}
	r->ctr.reloads++;
	relay_table_drop(r->tab); /* connections on an old route keep it */
	r->tab = t;
	struct nx_relay_config nc = *cfg;
	with_defaults(&nc);
	struct nx_relay_config *c = &r->cfg;
	c->first_bytes_ms = nc.first_bytes_ms;
	c->header_ms = nc.header_ms;
	c->dial_ms = nc.dial_ms;
	c->idle_ms = nc.idle_ms;
	c->hub_reply_ms = nc.hub_reply_ms;
	c->max_conns = nc.max_conns;
	c->max_conns_per_source = nc.max_conns_per_source;
	c->splice = nc.splice;
	c->proxy_protocol = nc.proxy_protocol;
	c->routes = NULL; /* the caller's array may go now */
	c->nroutes = t->n;
	relay_accept_resume(r); /* a higher --max-conns may let the listeners back in */
	return 0;
}

struct nx_relay *nx_relay_new(struct nx_loop *loop, const struct nx_relay_config *cfg, char *err,
                              size_t errlen)
{
	struct nx_relay *r = calloc(1, sizeof *r);
	if (!r) {
		nx_err(err, errlen, "out of memory");
		return NULL;
	}
	r->loop = loop;
	r->cfg = *cfg;
	with_defaults(&r->cfg);
	nx_accept_guard_init(&r->fdg, 16);
	r->srcmap = nx_srcmap_new();
	if (!r->srcmap) {
		free(r);
		nx_err(err, errlen, "out of memory");
		return NULL;
	}
	if (!(r->tab = relay_table_new(cfg->routes, cfg->nroutes, err, errlen))) {
		nx_srcmap_free(r->srcmap);
		free(r);
		return NULL;
	}
	if (relay_metrics_open(r, err, errlen) < 0) {
		relay_table_drop(r->tab);
		nx_srcmap_free(r->srcmap);
		free(r);
		return NULL;
	}
	r->hub_fd = -1;
	r->hub_backoff = HUB_BACKOFF_MIN_MS;
	r->accepting = 1;
	nx_loop_on_wake(loop, relay_hub_wake, r);
	if (r->cfg.hub_path)
		relay_hub_connect(r);
	return r;
}

size_t nx_relay_active(const struct nx_relay *r) { return r->nconns; }

static void maybe_stop(struct nx_relay *r)
{
	if ((r->stopping || (r->cfg.exit_when_idle && r->nlisteners == 0)) && r->nconns == 0)
		nx_loop_stop(r->loop);
}

static void grace_over(struct nx_loop *loop, void *arg)
{
	struct nx_relay *r = arg;
	while (r->conns) {
		struct conn *c = r->conns;
		/* a queued handoff is still in the hub queue: unlink it first */
		relay_hub_unlink(c);
		if (!c->outcome)
			c->outcome = "shutdown";
		conn_free(c);
	}
	nx_loop_stop(loop);
}

void nx_relay_shutdown(struct nx_relay *r, uint64_t grace_ms)
{
	if (r->stopping)
		return;
	r->stopping = 1;
	for (size_t i = 0; i < r->nlisteners; i++) {
		nx_loop_del(r->loop, r->listeners[i]);
		close(r->listeners[i]);
	}
	r->nlisteners = 0;
	r->accepting = 0;
	nx_timer_stop(r->loop, &r->hub_timer);
	if (r->nconns == 0)
		nx_loop_stop(r->loop);
	else
		nx_timer_start(r->loop, &r->grace, grace_ms, grace_over, r);
}

void nx_relay_free(struct nx_relay *r)
{
	if (!r)
		return;
	r->cfg.log = NULL;
	r->stopping = 1;
	grace_over(r->loop, r);
	nx_timer_stop(r->loop, &r->grace);
	nx_timer_stop(r->loop, &r->accept_retry);
	for (size_t i = 0; i < r->nlisteners; i++) {
		nx_loop_del(r->loop, r->listeners[i]);
		close(r->listeners[i]);
	}
	relay_hub_close(r);
	nx_loop_on_wake(r->loop, NULL, NULL);
	relay_udp_close(r);
	relay_metrics_close(r);
	relay_table_drop(r->tab);
	nx_srcmap_free(r->srcmap);
	free(r);
}
