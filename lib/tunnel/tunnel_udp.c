/* tunnel_udp.c — UDP port claims on the backend side (--udp-port N[:IDLE]=ADDR,
 * shared/protocol.md §5).
 *
 * The hub opens one stream per flow (connect with transport "udp", hostname "udp:N"); each
 * data frame is one datagram. A flow gets a UDP socket of its own connected to the local
 * ADDR, so the service's replies come back on it and go to the hub one frame per datagram.
 * Each datagram from the hub is written at once and its credit goes back as it is written
 * (in batches of 8, like a stream), whether the service took it or not: a flow never
 * stalls, where the Nexus Proxy client stops after 64 datagrams. UDP has no backpressure:
 * a reply the hub has no credit for, or that finds the session's output full, is dropped
 * and counted. The flow ends when the hub says disconnect (its idle timeout) or the
 * session ends. */
#include "tunnel/tunnel_int.h"
#include "core/sock.h"
#include "core/units.h"
#include "core/util.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct tunnel_udp_flow {
	struct tunnel_udp_flow *next; /* bucket chain */
	struct tunnel *t;
	struct nx_uuid id;
	char idtext[NX_UUID_TEXT + 1];
	int fd;
	uint16_t port;
	bool limited;
	int64_t credits;
	int unacked;
	uint64_t up, down, dropped;
};

int nx_tunnel_parse_udp(const char *spec, struct nx_tunnel_udp *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	const char *eq = strchr(spec, '=');
	if (!eq || eq == spec || !eq[1])
		return nx_err(err, errlen, "'%s': want PORT[:IDLE]=HOST:PORT", spec);
	char left[64];
	if ((size_t)(eq - spec) >= sizeof left)
		return nx_err(err, errlen, "'%.40s': bad port", spec);
	memcpy(left, spec, (size_t)(eq - spec));
	left[eq - spec] = '\0';
	char *colon = strchr(left, ':');
	if (colon)
		*colon = '\0';
	long long p;
	char e[NX_ERRLEN];
	if (nx_parse_int(left, 1, 65535, &p, e, sizeof e) < 0)
		return nx_err(err, errlen, "'%s': bad port: %s", spec, e);
	out->port = (uint16_t)p;
	if (colon) {
		uint64_t ms;
		if (nx_parse_duration(colon + 1, &ms, e, sizeof e) < 0)
			return nx_err(err, errlen, "'%s': bad idle time: %s", spec, e);
		if (ms < 1000 || ms % 1000)
			return nx_err(err, errlen, "'%s': idle time must be whole seconds", spec);
		out->idle_s = ms / 1000 > 65535 ? 65535 : (uint16_t)(ms / 1000);
	}
	char host[256];
	uint16_t port;
	if (strlen(eq + 1) >= sizeof out->addr ||
	    nx_split_hostport(eq + 1, host, sizeof host, &port, e, sizeof e) < 0 || !port)
		return nx_err(err, errlen, "'%s': bad address (want HOST:PORT)", spec);
	snprintf(out->addr, sizeof out->addr, "%s", eq + 1);
	return 0;
}

static unsigned bucket_of(const struct nx_uuid *id) { return id->b[15] % STREAM_BUCKETS; }

static struct tunnel_udp_flow *flow_find(struct tunnel *t, const struct nx_uuid *id)
{
	for (struct tunnel_udp_flow *f = t->udp_flows[bucket_of(id)]; f; f = f->next)
		if (nx_uuid_equal(&f->id, id))
			return f;
	return NULL;
}

static const struct nx_tunnel_udp *udp_target(const struct tunnel *t, uint16_t port)
{
	for (size_t i = 0; i < t->cfg->n_udp; i++)
		if (t->cfg->udp[i].port == port)
			return &t->cfg->udp[i];
	return NULL;
}

static void send_control(struct tunnel *t, const struct nx_uuid *id, const char *disc_reason,
                         int credits)
{
	uint8_t buf[256];
	int n = disc_reason ? nx_hub_encode_disconnect(buf, sizeof buf, id, disc_reason)
	                    : nx_hub_encode_resume(buf, sizeof buf, id, credits);
	if (n > 0)
		tunnel_send_frame(t, NX_WS_OP_BINARY, buf, (size_t)n, NULL, 0);
}

static void flow_close(struct tunnel_udp_flow *f, const char *reason)
{
	struct tunnel *t = f->t;
	if (reason && t->state == T_SERVING && !t->failing)
		send_control(t, &f->id, reason, 0);
	nx_loop_del(t->loop, f->fd);
	close(f->fd);
	struct tunnel_udp_flow **pp = &t->udp_flows[bucket_of(&f->id)];
	for (; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	t->n_udp_flows--;
	tunnel_say(t, NX_LOG_DEBUG, "udp flow %s closed (%s): up=%llu down=%llu dropped=%llu",
	           f->idtext, reason ? reason : "hub closed it", (unsigned long long)f->up,
	           (unsigned long long)f->down, (unsigned long long)f->dropped);
	free(f);
}

/* Datagrams from the local service: one frame each, while the hub has credit for them. */
static void on_flow_io(struct nx_loop *loop, int fd, unsigned events, void *arg)
{
	struct tunnel_udp_flow *f = arg;
	struct tunnel *t = f->t;
	uint8_t buf[65536];
	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(fd, buf, sizeof buf, MSG_TRUNC | MSG_DONTWAIT);
		if (n < 0) {
			/* ECONNREFUSED: the service is not there (yet); the flow stays */
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNREFUSED)
				tunnel_say(t, NX_LOG_DEBUG, "udp flow %s: %s", f->idtext, strerror(errno));
			break;
		}
		if ((size_t)n > NX_HUB_MAX_PAYLOAD) {
			f->dropped++;
			tunnel_say_often(t, NX_LOG_WARN, "udp flow %s: a %zd-byte datagram from the service is over "
			           "%d bytes, dropped", f->idtext, n, NX_HUB_MAX_PAYLOAD);
			continue;
		}
		if ((f->limited && f->credits <= 0) || t->out_blocked) {
			f->dropped++; /* no backpressure in UDP: the hub is not keeping up */
			continue;
		}
		uint8_t hdr[NX_HUB_DATA_HEADER];
		nx_hub_data_header(hdr, &f->id);
		if (tunnel_send_frame(t, NX_WS_OP_BINARY, hdr, sizeof hdr, buf, (size_t)n) < 0)
			break;
		if (f->limited)
			f->credits--;
		f->up += (uint64_t)n;
		t->stats.bytes_to_hub += (uint64_t)n;
	}
	tunnel_flush_soon(t);
}

bool tunnel_udp_connect(struct tunnel *t, const struct nx_hub_control *c)
{
	if (strcmp(c->transport, "udp") != 0)
		return false;
	if (flow_find(t, &c->client_id))
		return true; /* a repeated connect */
	const struct nx_tunnel_udp *u = udp_target(t, (uint16_t)c->conn_port);
	size_t max = t->cfg->max_streams ? t->cfg->max_streams : 1024;
	const char *why = NULL;
	char host[256];
	uint16_t port = 0;
	char ports[8];
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV}, *res = NULL;
	int fd = -1;
	if (!u)
		why = "no --udp-port for it";
	else if (t->n_udp_flows >= max)
		why = "too many flows (--max-streams)";
	else if (nx_split_hostport(u->addr, host, sizeof host, &port, NULL, 0) < 0)
		why = "bad address";
	else {
		snprintf(ports, sizeof ports, "%u", port);
		if (getaddrinfo(host[0] ? host : "127.0.0.1", ports, &hints, &res) != 0 || !res)
			why = "cannot resolve the address";
		else if ((fd = socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
		         connect(fd, res->ai_addr, res->ai_addrlen) < 0)
			why = strerror(errno);
		if (res)
			freeaddrinfo(res);
	}
	struct tunnel_udp_flow *f = why ? NULL : calloc(1, sizeof *f);
	if (!why && !f)
		why = "out of memory";
	if (!why && nx_loop_add(t->loop, fd, NX_EV_READ, on_flow_io, f) < 0)
		why = "cannot watch the socket";
	if (why) {
		char h[64];
		nx_sanitize(h, sizeof h, c->hostname, strlen(c->hostname));
		tunnel_say_often(t, NX_LOG_WARN, "%s (port %u): udp flow refused: %s", h, c->conn_port, why);
		if (fd >= 0)
			close(fd);
		free(f);
		t->stats.streams_refused++;
		send_control(t, &c->client_id, NX_HUB_REASON_DIAL_FAILED, 0);
		tunnel_flush_soon(t);
		return true;
	}
	f->t = t;
	f->id = c->client_id;
	nx_uuid_format(&f->id, f->idtext);
	f->fd = fd;
	f->port = (uint16_t)c->conn_port;
	if (c->credits > 0) {
		f->limited = true;
		f->credits = c->credits > NX_HUB_CREDIT_CLAMP ? NX_HUB_CREDIT_CLAMP : c->credits;
	}
	unsigned b = bucket_of(&f->id);
	f->next = t->udp_flows[b];
	t->udp_flows[b] = f;
	t->n_udp_flows++;
	t->stats.streams_total++;
	/* The hub may send without limit until our first grant: give it the window now, as the
	 * reference client does for streams, then a credit back per datagram written. */
	send_control(t, &f->id, NULL, NX_HUB_CREDIT_WINDOW);
	tunnel_flush_soon(t);
	char ip[80];
	nx_sanitize(ip, sizeof ip, c->client_ip, strlen(c->client_ip));
	tunnel_say(t, NX_LOG_DEBUG, "udp flow %s from %s → %s", f->idtext, ip, u->addr);
	return true;
}

bool tunnel_udp_on_data(struct tunnel *t, const struct nx_uuid *id, const uint8_t *p, size_t n)
{
	struct tunnel_udp_flow *f = flow_find(t, id);
	if (!f)
		return false;
	ssize_t w = send(f->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (w < 0)
		f->dropped++; /* a full socket buffer or a refused port: the datagram is lost */
	else
		f->down += (uint64_t)w;
	t->stats.bytes_from_hub += n;
	if (++f->unacked >= NX_HUB_CREDIT_BATCH) {
		send_control(t, &f->id, NULL, f->unacked);
		f->unacked = 0;
		tunnel_flush_soon(t);
	}
	return true;
}

bool tunnel_udp_on_control(struct tunnel *t, const struct nx_hub_control *c)
{
	struct tunnel_udp_flow *f = flow_find(t, &c->client_id);
	if (!f)
		return false;
	if (c->event == NX_HUB_EV_DISCONNECT)
		flow_close(f, NULL);
	else if (c->event == NX_HUB_EV_RESUME_STREAM && f->limited)
		nx_hub_credit_add(&f->credits, c->credits);
	return true;
}

void tunnel_udp_close_all(struct tunnel *t, const char *reason)
{
	for (unsigned b = 0; b < STREAM_BUCKETS; b++)
		while (t->udp_flows[b])
			flow_close(t->udp_flows[b], reason);
}
