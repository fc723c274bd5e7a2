/* relay_route.c — the relay's own routes: parsing NAME=ADDR, lookup (exact, then the one
 * wildcard that could cover the name), resolving addresses once, dialling them, and the
 * pump that carries a routed connection (with its PROXY line) to its end. */
#include "relay/relay_int.h"
#include "core/hostname.h"
#include "wire/pump.h"
#include "wire/sniff.h"
#include "core/sock.h"
#include "core/units.h"
#include "core/util.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int nx_relay_parse_route(const char *spec, struct nx_relay_route *out, char *err, size_t errlen)
{
	const char *eq = strchr(spec, '=');
	if (!eq || eq == spec || !eq[1])
		return nx_err(err, errlen, "bad route '%s' (want NAME=HOST:PORT)", spec);
	size_t nlen = (size_t)(eq - spec);
	char e2[NX_ERRLEN];
	if (nlen > 4 && strncmp(spec, "tcp:", 4) == 0) {
		char num[8];
		long long port;
		if (nlen - 4 >= sizeof num)
			return nx_err(err, errlen, "bad port in route '%s'", spec);
		memcpy(num, spec + 4, nlen - 4);
		num[nlen - 4] = '\0';
		if (nx_parse_int(num, 1, 65535, &port, e2, sizeof e2) < 0)
			return nx_err(err, errlen, "route '%s': %s", spec, e2);
		snprintf(out->key, sizeof out->key, "tcp:%lld", port);
	} else if (nx_hostname_normalize(spec, nlen, out->key, sizeof out->key,
	                                 NX_HOSTNAME_WILDCARD_OK, e2, sizeof e2) < 0) {
		return nx_err(err, errlen, "route '%.*s': %s", (int)nlen, spec, e2);
	}
	char host[256];
	uint16_t port;
	if (nx_split_hostport(eq + 1, host, sizeof host, &port, e2, sizeof e2) < 0 || port == 0)
		return nx_err(err, errlen, "route '%s': bad address '%s'", spec, eq + 1);
	if (strlen(eq + 1) >= sizeof out->addr)
		return nx_err(err, errlen, "route '%s': address too long", spec);
	strcpy(out->addr, eq + 1);
	return 0;
}

const struct nx_relay_route *relay_route_find(const struct relay_table *t, const char *key)
{
	char wild[NX_HOSTNAME_MAX + 2];
	int have_wild = strncmp(key, "tcp:", 4) != 0 &&
	                nx_hostname_wildcard_of(key, wild, sizeof wild) == 0;
	const struct nx_relay_route *w = NULL;
	for (size_t i = 0; i < t->n; i++) {
		if (strcmp(t->routes[i].key, key) == 0)
			return &t->routes[i];
		if (have_wild && !w && strcmp(t->routes[i].key, wild) == 0)
			w = &t->routes[i];
	}
	return w;
}

struct relay_table *relay_table_new(const struct nx_relay_route *routes, size_t n, char *err,
                                    size_t errlen)
{
	struct relay_table *t = calloc(1, sizeof *t);
	if (!t || !(t->routes = calloc(n ? n : 1, sizeof *t->routes)) ||
	    !(t->targets = calloc(n ? n : 1, sizeof *t->targets))) {
		relay_table_drop(t);
		nx_err(err, errlen, "out of memory");
		return NULL;
	}
	t->refs = 1;
	t->n = n;
	if (n)
		memcpy(t->routes, routes, n * sizeof *routes);
	for (size_t i = 0; i < n; i++)
		if (relay_resolve_target(&t->routes[i], &t->targets[i], err, errlen) < 0) {
			relay_table_drop(t);
			return NULL;
		}
	return t;
}

struct relay_table *relay_table_hold(struct relay_table *t)
{
	t->refs++;
	return t;
}

void relay_table_drop(struct relay_table *t)
{
	if (t && (t->refs <= 1)) {
		free(t->routes);
		free(t->targets);
		free(t);
	} else if (t) {
		t->refs--;
	}
}


int relay_resolve_target(const struct nx_relay_route *rt, struct relay_target *t, char *err,
                         size_t errlen)
{
	char host[256], port[8];
	uint16_t p;
	if (nx_split_hostport(rt->addr, host, sizeof host, &p, err, errlen) < 0)
		return -1;
	snprintf(port, sizeof port, "%u", p);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host[0] ? host : "127.0.0.1", port, &hints, &res);
	if (rc != 0)
		return nx_err(err, errlen, "route %s: cannot resolve %s: %s", rt->key, rt->addr,
		              gai_strerror(rc));
	memcpy(&t->sa, res->ai_addr, res->ai_addrlen);
	t->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* Start a non-blocking connect to a resolved target. Returns the fd or -1. */
int relay_dial_target(const struct relay_target *t)
{
	int fd = socket(t->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)&t->sa, t->len) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

int nx_relay_check_routes(const struct nx_relay_route *routes, size_t n, char *err, size_t errlen)
{
	struct relay_table *t = relay_table_new(routes, n, err, errlen);
	relay_table_drop(t);
	return t ? 0 : -1;
}

/* ---- local route: dial and pump ---------------------------------------------------------- */

static void pump_done(struct nx_pump *p, int error, void *arg)
{
	struct conn *c = arg;
	c->up = p->dir[0].bytes;
	c->down = p->dir[1].bytes;
	c->outcome = error == 0 ? "ok" : error == ETIMEDOUT ? "idle" : "reset";
	if (error && !c->why)
		c->why = p->error_where;
	conn_free(c);
}

static void dial_failed(struct conn *c, const char *why)
{
	c->why = why;
	if (c->bfd >= 0) {
		nx_loop_del(c->r->loop, c->bfd);
		close(c->bfd);
		c->bfd = -1;
	}
	conn_answer(c, "dial-failed", 502, NX_TLS_ALERT_INTERNAL_ERROR);
}

static void dial_timeout(struct nx_loop *loop, void *arg) { dial_failed(arg, "connect timeout"); }

/* The PROXY protocol v1 line (haproxy's spec) telling a --route backend who the client is:
 * "PROXY TCP4 203.0.113.7 10.0.0.1 51234 443\r\n". Returns its length. */
static size_t proxy_line(int fd, char *buf, size_t n)
{
	struct sockaddr_storage peer, local;
	socklen_t pl = sizeof peer, ll = sizeof local;
	char pip[48], lip[48];
	uint16_t pport, lport;
	int len;
	if (getpeername(fd, (struct sockaddr *)&peer, &pl) < 0 ||
	    getsockname(fd, (struct sockaddr *)&local, &ll) < 0 ||
	    peer.ss_family != local.ss_family ||
	    (peer.ss_family != AF_INET && peer.ss_family != AF_INET6) ||
	    !nx_fmt_addr((struct sockaddr *)&peer, buf, n, pip, &pport) ||
	    !nx_fmt_addr((struct sockaddr *)&local, buf, n, lip, &lport))
		len = snprintf(buf, n, "PROXY UNKNOWN\r\n");
	else
		len = snprintf(buf, n, "PROXY TCP%c %s %s %u %u\r\n",
		               peer.ss_family == AF_INET ? '4' : '6', pip, lip, pport, lport);
	return len > 0 && (size_t)len < n ? (size_t)len : 0;
}

static void dial_ready(struct nx_loop *loop, int fd, unsigned events, void *arg)
{
	struct conn *c = arg;
	struct nx_relay *r = c->r;
	char err[NX_ERRLEN];
	if (nx_connect_result(fd, err, sizeof err) < 0)
		return dial_failed(c, "connect refused");
	nx_loop_del(loop, fd);
	nx_timer_stop(loop, &c->timer);
	c->pump = malloc(sizeof *c->pump);
	if (!c->pump)
		return dial_failed(c, "out of memory");
	nx_pump_init(c->pump, loop, c->fd, c->bfd, pump_done, c);
	if (r->cfg.proxy_protocol) {
		char line[128];
		size_t n = proxy_line(c->fd, line, sizeof line);
		if (nx_pump_preload(c->pump, 0, line, n) < 0 ||
		    c->inlen > NX_PUMP_BUFSZ - n) /* a full 64 KiB head leaves no room for it */
			return dial_failed(c, "no room for the PROXY line");
	}
	nx_pump_preload(c->pump, 0, c->in, c->inlen); /* fits: SNIFF_BUF == NX_PUMP_BUFSZ */
	nx_pump_set_idle(c->pump, r->cfg.idle_ms);
	nx_pump_set_splice(c->pump, r->cfg.splice);
	free(c->in);
	c->in = NULL;
	if (nx_pump_start(c->pump, err, sizeof err) < 0)
		return dial_failed(c, "pump start");
	c->st = C_PUMP;
}

/* With no --idle-timeout a routed connection lasts as long as both ends do: keepalive finds
 * the end that vanished (a phone off the network, a NAT that forgot) in about four
 * minutes, so its slot and buffers are given back. Not a TCP socket (--inetd on a pipe):
 * this fails, harmlessly. */
int relay_sockopts(int fd)
{
	int one = 1;
	int a = setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	int b = nx_set_keepalive(fd, RELAY_KEEPIDLE_S, RELAY_KEEPINTVL_S, RELAY_KEEPCNT);
	return a < 0 || b < 0 ? -1 : 0;
}

void relay_route_local(struct conn *c)
{
	struct nx_relay *r = c->r;
	c->st = C_DIAL;
	nx_timer_stop(r->loop, &c->timer);
	nx_loop_del(r->loop, c->fd); /* the pump takes the client fd over */
	c->bfd = relay_dial_target(&c->tab->targets[c->route - c->tab->routes]);
	if (c->bfd < 0)
		return dial_failed(c, "connect failed");
	/* A pump forwards whatever it has at once: Nagle would only add delay (TLS records
	 * already batch), so both sides go out without waiting. The client's socket usually
	 * has it from its listener already (relay_sockopts), keepalive too. */
	if (!c->sockopts)
		relay_sockopts(c->fd);
	relay_sockopts(c->bfd);
	if (nx_loop_add(r->loop, c->bfd, NX_EV_WRITE, dial_ready, c) < 0)
		return dial_failed(c, "epoll");
	nx_timer_start(r->loop, &c->timer, r->cfg.dial_ms, dial_timeout, c);
}
