/* hub_udp.c — UDP port claims (shared/protocol.md §5).
 *
 * nexus-relay hands each of its UDP sockets (--listen-udp) over the relay socket once
 * (wire/handoff.h, "NXU1"); from then on the hub reads every datagram itself and answers
 * from the same socket, so replies leave from the address the client sent to. A flow is
 * (client ip:port, port): its first datagram picks a backend for "udp:N" and opens a stream
 * on it (connect with transport "udp", hostname "udp:N"); each datagram is one data frame
 * either way. A flow is a hub_stream without an fd of its own, so the session's table,
 * credits and disconnects work for it as for a TCP stream.
 *
 * UDP has no backpressure: a datagram the backend has no credit for, or that finds the
 * session's output queue full, is dropped (and counted), never queued. The backend's
 * datagrams are written at once and their credits go back as they are written (in batches,
 * §4), whatever sendto says, so a flow never stalls (the Nexus Proxy bug stalls after 64).
 * A flow idle for its route's flow_idle_timeout_seconds ends (disconnect to the backend).
 * Flows are bounded per port and, under that, per source address; every refusal and drop
 * is logged at most once per few seconds with a count, never once per datagram. */
#include "hub/hub_int.h"
#include "wire/handoff.h"
#include "core/accept.h"
#include "core/log.h"
#include "core/random.h"
#include "core/sock.h"
#include "core/util.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UDP_BUCKETS 256
#define UDP_READS_PER_ROUND 64
#define UDP_REPORT_MS 5000 /* drops and refusals are logged at most this often */

struct hub_udp_port {
	struct nx_hub *hub;
	struct hub_udp_port *next;
	int fd;
	uint16_t port;
	char local[64];
	char key[16]; /* "udp:N" */
	struct hub_relay_conn *from; /* the relay connection that handed fd over */
	struct hub_stream *flows[UDP_BUCKETS];
	size_t n_flows;
	struct nx_srcmap *per_src;
	struct nx_rate no_route, full, src_full, too_big, no_credit, send_fail;
};

static uint8_t dgram[65536]; /* the hub is single-threaded: one read buffer for every port */

static unsigned addr_hash(const struct sockaddr_storage *sa, socklen_t len)
{
	const uint8_t *p = (const uint8_t *)sa;
	uint32_t h = 2166136261u; /* FNV-1a over the address bytes */
	for (socklen_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h % UDP_BUCKETS;
}

/* The address bytes that identify a peer (no padding, no IPv6 flow info). */
static socklen_t addr_key(const struct sockaddr *in, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof *out);
	if (in->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)in;
		struct sockaddr_in *b = (void *)out;
		b->sin_family = AF_INET;
		b->sin_port = a->sin_port;
		b->sin_addr = a->sin_addr;
		return sizeof *b;
	}
	const struct sockaddr_in6 *a = (const void *)in;
	struct sockaddr_in6 *b = (void *)out;
	b->sin6_family = AF_INET6;
	b->sin6_port = a->sin6_port;
	b->sin6_addr = a->sin6_addr;
	b->sin6_scope_id = a->sin6_scope_id;
	return sizeof *b;
}

static void report(struct hub_udp_port *p, struct nx_rate *r, int level, const char *msg,
                   const char *client, const char *extra)
{
	uint64_t n = nx_rate_note(r, nx_loop_now(p->hub->loop), UDP_REPORT_MS);
	if (n)
		hub_log(p->hub, level, msg, "route=%s client=%s times=%llu%s", p->key, client,
		        (unsigned long long)n, extra ? extra : "");
}

/* ---- flows ------------------------------------------------------------------------------ */

static struct hub_stream *flow_find(struct hub_udp_port *p, const struct sockaddr_storage *k,
                                    socklen_t kl)
{
	for (struct hub_stream *st = p->flows[addr_hash(k, kl)]; st; st = st->udp_next)
		if (st->udp_peer_len == kl && memcmp(&st->udp_peer, k, kl) == 0)
			return st;
	return NULL;
}

void hub_udp_flow_gone(struct hub_stream *st)
{
	struct hub_udp_port *p = st->udp;
	struct hub_stream **pp = &p->flows[addr_hash(&st->udp_peer, st->udp_peer_len)];
	for (; *pp; pp = &(*pp)->udp_next)
		if (*pp == st) {
			*pp = st->udp_next;
			p->n_flows--;
			break;
		}
	st->udp_next = NULL;
	if (st->has_src)
		nx_srcmap_dec(p->per_src, &st->src);
	st->has_src = 0;
}

static void flow_idle(struct nx_loop *loop, void *arg)
{
	struct hub_stream *st = arg;
	uint64_t quiet = nx_loop_now(loop) - st->last_active;
	if (quiet < st->udp_idle_ms) {
		nx_timer_start(loop, &st->idle_timer, st->udp_idle_ms - quiet, flow_idle, st);
		return;
	}
	struct hub_session *s = st->sess;
	hub_log_often(st->hub, NX_LOG_INFO, "udp flow idle timeout",
	        "stream=%s route=%s client=%s idle_s=%llu up=%llu down=%llu", st->id_text, st->route,
	        st->client, (unsigned long long)(st->udp_idle_ms / 1000),
	        (unsigned long long)st->up_bytes, (unsigned long long)st->down_bytes);
	hub_stream_kill(st, 1);
	if (s && !s->dead)
		hub_session_flush(s);
}

static uint64_t route_idle_ms(const struct hub_session *s, uint16_t port)
{
	for (size_t i = 0; i < s->claims.n_udp_routes; i++)
		if (s->claims.udp_routes[i].port == port)
			return (uint64_t)s->claims.udp_routes[i].idle_s * 1000;
	return (uint64_t)NX_UDP_IDLE_DEFAULT_S * 1000;
}

static struct hub_stream *flow_open(struct hub_udp_port *p, const struct sockaddr_storage *k,
                                    socklen_t kl, const char *client)
{
	struct nx_hub *hub = p->hub;
	const char *matched = NULL;
	struct hub_session *s = hub_pick_local(hub, p->key, &matched);
	if (!s) {
		report(p, &p->no_route, NX_LOG_INFO, "udp datagram dropped: no backend", client, NULL);
		return NULL;
	}
	size_t cap = hub->cfg.max_udp_flows ? hub->cfg.max_udp_flows : NX_HUB_MAX_UDP_FLOWS;
	size_t src_cap = hub->cfg.max_udp_flows_per_source ? hub->cfg.max_udp_flows_per_source
	                                                  : NX_HUB_MAX_UDP_FLOWS_PER_SOURCE;
	char extra[96];
	if (p->n_flows >= cap) {
		snprintf(extra, sizeof extra, " flows=%zu max_flows=%zu", p->n_flows, cap);
		report(p, &p->full, NX_LOG_WARN, "udp flow refused: too many flows on this port", client,
		       extra);
		return NULL;
	}
	struct nx_src src;
	int has_src = nx_src_of_sockaddr((const struct sockaddr *)k, &src) == 0;
	if (has_src && nx_srcmap_get(p->per_src, &src) >= src_cap) {
		snprintf(extra, sizeof extra, " max_flows_per_source=%zu", src_cap);
		report(p, &p->src_full, NX_LOG_WARN, "udp flow refused: too many flows from one source",
		       client, extra);
		return NULL;
	}
	if (s->max_streams && s->n_streams >= s->max_streams) { /* its --backends streams= */
		snprintf(extra, sizeof extra, " max_streams=%u", s->max_streams);
		report(p, &p->full, NX_LOG_WARN, "udp flow refused: backend at its streams= grant",
		       client, extra);
		return NULL;
	}
	uint8_t rnd[16];
	struct hub_stream *st = calloc(1, sizeof *st);
	if (!st || nx_random_small(rnd, sizeof rnd) < 0) {
		free(st);
		return NULL;
	}
	st->hub = hub;
	st->fd = -1;
	st->udp = p;
	st->udp_peer = *k;
	st->udp_peer_len = kl;
	snprintf(st->client, sizeof st->client, "%s", client);
	nx_uuid_v4(&st->id, rnd);
	nx_uuid_format(&st->id, st->id_text);
	nx_credits_init(&st->cr);
	if (s->initial_window)
		nx_credits_grant(&st->cr, NX_CREDITS_WINDOW);
	snprintf(st->route, sizeof st->route, "%s", p->key);
	st->last_active = nx_loop_now(hub->loop);
	st->udp_idle_ms = route_idle_ms(s, p->port);
	unsigned b = addr_hash(k, kl);
	st->udp_next = p->flows[b];
	p->flows[b] = st;
	p->n_flows++;
	if (has_src && nx_srcmap_inc(p->per_src, &src)) {
		st->src = src;
		st->has_src = 1;
	}
	st->next = hub->streams;
	if (st->next)
		st->next->prev = st;
	hub->streams = st;
	hub->n_streams++;
	hub_session_link(s, st);
	struct nx_hub_control c = {
	    .event = NX_HUB_EV_CONNECT,
	    .client_id = st->id,
	    .conn_port = p->port,
	    .credits = NX_HUB_CREDIT_WINDOW,
	};
	snprintf(c.client_ip, sizeof c.client_ip, "%s", client);
	snprintf(c.transport, sizeof c.transport, "udp");
	snprintf(c.hostname, sizeof c.hostname, "%s", p->key);
	if (hub_session_send_control(s, &c) < 0) {
		hub_stream_kill(st, 0);
		return NULL;
	}
	nx_timer_start(hub->loop, &st->idle_timer, st->udp_idle_ms, flow_idle, st);
	hub_log(hub, NX_LOG_DEBUG, "udp flow open", "stream=%s route=%s client=%s session=%llu",
	        st->id_text, p->key, client, (unsigned long long)s->id);
	return st;
}

/* One datagram from a client. */
static void on_datagram(struct hub_udp_port *p, const struct sockaddr_storage *from,
                        size_t len, int truncated)
{
	struct sockaddr_storage k;
	socklen_t kl = addr_key((const struct sockaddr *)from, &k);
	char client[64];
	nx_fmt_addr((const struct sockaddr *)&k, client, sizeof client, NULL, NULL);
	if (truncated || len > NX_HUB_MAX_PAYLOAD) {
		char extra[64];
		snprintf(extra, sizeof extra, " size=%s%zu max=%d", truncated ? ">" : "", len,
		         NX_HUB_MAX_PAYLOAD);
		report(p, &p->too_big, NX_LOG_WARN, "udp datagram dropped: too large", client, extra);
		return;
	}
	struct hub_stream *st = flow_find(p, &k, kl);
	if (!st && !(st = flow_open(p, &k, kl, client)))
		return;
	struct hub_session *s = st->sess;
	if (!s || s->dead || s->state != SESS_LIVE)
		return;
	if (!nx_credits_can_send(&st->cr) || hub_session_out_full(s)) {
		report(p, &p->no_credit, NX_LOG_INFO,
		       "udp datagram dropped: backend not keeping up (no credit or queue full)", client,
		       NULL);
		return;
	}
	uint8_t hdr[NX_HUB_DATA_HEADER];
	nx_hub_data_header(hdr, &st->id);
	if (hub_session_send(s, NX_WS_OP_BINARY, hdr, sizeof hdr, dgram, len) < 0)
		return;
	nx_credits_sent(&st->cr);
	st->up_bytes += len;
	st->last_active = nx_loop_now(p->hub->loop);
	hub_session_flush(s);
}

static void udp_io(struct nx_loop *loop, int fd, unsigned events, void *arg)
{
	struct hub_udp_port *p = arg;
	(void)events;
	for (int i = 0; i < UDP_READS_PER_ROUND; i++) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(fd, dgram, sizeof dgram, MSG_TRUNC | MSG_DONTWAIT,
		                     (struct sockaddr *)&from, &fl);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				report(p, &p->send_fail, NX_LOG_WARN, "udp receive failed", "-", NULL);
			return;
		}
		if (from.ss_family != AF_INET && from.ss_family != AF_INET6)
			continue;
		on_datagram(p, &from, (size_t)n, (size_t)n > sizeof dgram);
	}
}

void hub_udp_flow_on_data(struct hub_stream *st, const uint8_t *data, size_t len)
{
	nx_credits_received(&st->cr);
	struct hub_udp_port *p = st->udp;
	ssize_t n = p->fd < 0 ? -1 : sendto(p->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL,
	                   (const struct sockaddr *)&st->udp_peer, st->udp_peer_len);
	if (n < 0)
		report(p, &p->send_fail, NX_LOG_INFO, "udp reply dropped: send failed", st->client,
		       NULL);
	else
		st->down_bytes += (uint64_t)n;
	st->last_active = nx_loop_now(st->hub->loop);
	/* Written or dropped, the datagram is done with: its credit goes back either way. */
	uint32_t k = nx_credits_delivered(&st->cr);
	if (k && st->sess) {
		struct nx_hub_control c = {.event = NX_HUB_EV_RESUME_STREAM, .client_id = st->id,
		                           .credits = k};
		hub_session_send_control(st->sess, &c);
	}
}

/* ---- sockets from the relay ---------------------------------------------------------------- */

static int port_allowed(const struct nx_hub *hub, uint16_t port)
{
	for (size_t i = 0; i < hub->cfg.n_allow_udp_ports; i++)
		if (hub->cfg.allow_udp_ports[i] == port)
			return 1;
	if (hub->backends) /* --backends grants may name UDP ports of their own */
		return 1;
	return 0;
}

int hub_udp_take(struct nx_hub *hub, struct hub_relay_conn *from, int fd,
                 const struct nx_handoff *h)
{
	int type = 0;
	socklen_t tl = sizeof type;
	char q[80];
	nx_log_q(q, sizeof q, h->client_addr);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_DGRAM) {
		hub_log(hub, NX_LOG_WARN, "udp listener refused: not a datagram socket", "port=%u",
		        h->conn_port);
		close(fd);
		return NX_HANDOFF_BUSY;
	}
	if (!port_allowed(hub, h->conn_port)) {
		hub_log(hub, NX_LOG_WARN, "udp listener refused: port not allowed",
		        "port=%u addr=%s hint=\"--allow-udp-port %u\"", h->conn_port, q, h->conn_port);
		close(fd);
		return NX_HANDOFF_NO_ROUTE;
	}
	nx_set_nonblock(fd, 1);
	struct hub_udp_port *p = hub->udp_ports;
	while (p && p->port != h->conn_port)
		p = p->next;
	if (p) { /* a relay (re)connected: keep the flows, take the new socket */
		if (p->fd >= 0) {
			nx_loop_del(hub->loop, p->fd);
			close(p->fd);
		}
		p->fd = fd;
	} else {
		p = calloc(1, sizeof *p);
		if (!p || !(p->per_src = nx_srcmap_new())) {
			free(p);
			close(fd);
			return NX_HANDOFF_BUSY;
		}
		p->hub = hub;
		p->fd = fd;
		p->port = h->conn_port;
		snprintf(p->key, sizeof p->key, "udp:%u", p->port);
		p->next = hub->udp_ports;
		hub->udp_ports = p;
	}
	snprintf(p->local, sizeof p->local, "%s", h->client_addr);
	p->from = from;
	if (nx_loop_add(hub->loop, fd, NX_EV_READ, udp_io, p) < 0) {
		close(fd);
		p->fd = -1;
		p->from = NULL;
		return NX_HANDOFF_BUSY;
	}
	hub_log(hub, NX_LOG_INFO, "udp listener taken", "route=%s addr=%s", p->key, q);
	return NX_HANDOFF_OK;
}

void hub_udp_relay_gone(struct nx_hub *hub, struct hub_relay_conn *rc)
{
	for (struct hub_udp_port *p = hub->udp_ports; p; p = p->next) {
		if (p->from != rc || p->fd < 0)
			continue;
		nx_loop_del(hub->loop, p->fd);
		close(p->fd);
		p->fd = -1;
		p->from = NULL;
		hub_log(hub, NX_LOG_INFO, "udp listener released: its relay is gone", "route=%s flows=%zu",
		        p->key, p->n_flows);
	}
}

void hub_udp_close_all(struct nx_hub *hub)
{
	while (hub->udp_ports) {
		struct hub_udp_port *p = hub->udp_ports;
		hub->udp_ports = p->next;
		if (p->fd >= 0) {
			nx_loop_del(hub->loop, p->fd);
			close(p->fd);
		}
		nx_srcmap_free(p->per_src);
		free(p);
	}
}
