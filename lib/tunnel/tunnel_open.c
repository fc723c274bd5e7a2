/* tunnel_open.c — a stream's start: where a connect goes, whether it may (--max-streams,
 * the per-source share), the local side it gets (a dial, a hook, an --exec child) with its
 * PROXY protocol header, and how a refusal reaches the end user. tunnel_stream.c runs the
 * stream from there. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/sock.h"
#include "core/spawn.h"
#include "core/util.h"
#include "tunnel/tunnel_int.h"
#include "wire/sniff.h"

/* ---- targets --------------------------------------------------------------------------- */

const char *tunnel_target_for(const struct tunnel *t, const char *hostname, uint16_t port)
{
	const struct nx_tunnel_cfg *c = t->cfg;
	if (c->exec_cmd)
		return c->exec_cmd;
	return nx_tunnel_route_lookup(c->map, c->n_map, hostname, port, c->to);
}

/* getaddrinfo blocks: names are looked up when a session starts (no stream exists then),
 * so a slow DNS server never holds up the streams; a name that does not resolve then is
 * tried again per stream. */
void streams_resolve_targets(struct tunnel *t)
{
	const struct nx_tunnel_cfg *c = t->cfg;
	if (!t->resolved || c->exec_cmd)
		return;
	for (size_t i = 0; i <= c->n_map; i++) {
		struct resolved_target *r = &t->resolved[i];
		r->target = i < c->n_map ? c->map[i].addr : c->to;
		r->numeric[0] = 0;
		char host[256], ip[64];
		uint16_t port;
		if (!r->target || nx_split_hostport(r->target, host, sizeof host, &port, NULL, 0) < 0)
			continue;
		struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
		int e = getaddrinfo(host, NULL, &hints, &res);
		if (e != 0) {
			tunnel_say(t, NX_LOG_WARN, "cannot resolve %s now (%s): trying per stream", host,
			           gai_strerror(e));
			continue;
		}
		if (getnameinfo(res->ai_addr, res->ai_addrlen, ip, sizeof ip, NULL, 0,
		                NI_NUMERICHOST) == 0)
			snprintf(r->numeric, sizeof r->numeric,
			         res->ai_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, port);
		freeaddrinfo(res);
	}
}

static const char *dial_target(const struct tunnel *t, const char *target)
{
	for (size_t i = 0; t->resolved && i <= t->cfg->n_map; i++)
		if (t->resolved[i].target == target && t->resolved[i].numeric[0])
			return t->resolved[i].numeric;
	return target;
}

/* ---- refusing a stream ----------------------------------------------------------------- */

/* A stream that gets no service: tell the end user in its own protocol before the
 * disconnect, as the relay does for "no route" (else curl sees an empty reply and a TLS
 * client a reset): a fatal internal_error alert for TLS, a short HTTP error response for
 * HTTP (the route key is a Host name), nothing for a raw TCP port claim. The hub writes
 * the frame to the end user, then FIN. */
void tunnel_tell_end_user(struct tunnel *t, const struct nx_uuid *id, bool is_tls,
                          const char *hostname, int http_status)
{
	uint8_t hdr[NX_HUB_DATA_HEADER], alert[7];
	char resp[256];
	const void *body;
	size_t len;
	t->stats.streams_refused++;
	if (is_tls) {
		len = nx_tls_alert(alert, 0, NX_TLS_ALERT_INTERNAL_ERROR);
		body = alert;
	} else if (hostname[0] && strncmp(hostname, "tcp:", 4) != 0 &&
	           strncmp(hostname, "udp:", 4) != 0) {
		len = nx_http_error_format(http_status,
		                           http_status == 503   ? "too many streams"
		                           : http_status == 504 ? "local service did not answer"
		                                                : "local service unreachable",
		                           resp, sizeof resp);
		body = resp;
	} else {
		return;
	}
	nx_hub_data_header(hdr, id);
	tunnel_send_frame(t, NX_WS_OP_BINARY, hdr, sizeof hdr, body, len);
}

void tunnel_send_disconnect(struct tunnel *t, const struct nx_uuid *id, const char *reason)
{
	uint8_t buf[256];
	int n = nx_hub_encode_disconnect(buf, sizeof buf, id, reason);
	if (n > 0)
		tunnel_send_frame(t, NX_WS_OP_BINARY, buf, (size_t)n, NULL, 0);
	tunnel_flush_soon(t);
}

/* ---- exec ------------------------------------------------------------------------------ */

static int spawn_exec(struct tunnel *t, struct stream *s, const struct nx_hub_control *c)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	char ip[256] = "", port[8] = "", cport[8];
	uint16_t p = 0;
	if (nx_split_hostport(c->client_ip, ip, sizeof ip, &p, NULL, 0) == 0)
		snprintf(port, sizeof port, "%u", p);
	snprintf(cport, sizeof cport, "%u", c->conn_port);
	/* the stream on stdin/stdout and ucspi-tcp's environment */
	char e_ip[300], e_port[32], e_lport[32], e_host[300], e_id[64];
	snprintf(e_ip, sizeof e_ip, "TCPREMOTEIP=%s", ip);
	snprintf(e_port, sizeof e_port, "TCPREMOTEPORT=%s", port);
	snprintf(e_lport, sizeof e_lport, "TCPLOCALPORT=%s", cport);
	snprintf(e_host, sizeof e_host, "NEXUS_HOSTNAME=%s", c->hostname);
	snprintf(e_id, sizeof e_id, "NEXUS_CLIENT_ID=%s", s->idtext);
	char *env[] = {"PROTO=TCP", e_ip, e_port, e_lport, e_host, e_id,
	               c->is_tls ? "NEXUS_IS_TLS=1" : "NEXUS_IS_TLS=0", NULL};
	pid_t pid = nx_spawn_sh(t->cfg->exec_cmd, sv[1], sv[1], env, NULL, 0);
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	close(sv[1]);
	nx_set_nonblock(sv[0], 1);
	s->fd = sv[0];
	s->pid = pid;
	return 0;
}

/* ---- the connect ------------------------------------------------------------------------ */

/* The PROXY protocol version for a stream: its --map entry's, else --proxy-protocol. */
static enum nx_proxy_version proxy_for(const struct tunnel *t, const char *hostname,
                                       uint16_t port)
{
	const struct nx_tunnel_cfg *c = t->cfg;
	const struct nx_tunnel_route *r =
	    c->exec_cmd ? NULL : nx_tunnel_route_find(c->map, c->n_map, hostname, port);
	if (r && r->proxy != NX_TUNNEL_PROXY_INHERIT)
		return (enum nx_proxy_version)r->proxy;
	return c->proxy;
}

/* The end user's address as the hub saw it, the relay port it came in on (the relay's own
 * address is not known here: the unspecified one), the route key, the stream id and our
 * backend name. -1: it does not fit (a name over 255 bytes). */
static int make_proxy_header(struct tunnel *t, struct stream *s, const struct nx_hub_control *c)
{
	enum nx_proxy_version v = proxy_for(t, c->hostname, (uint16_t)c->conn_port);
	if (v == NX_PROXY_NONE)
		return 0;
	struct nx_proxy_info pi = {.src = c->client_ip,
	                           .dst_port = (uint16_t)c->conn_port,
	                           .authority = c->hostname,
	                           .unique_id = s->idtext,
	                           .backend = t->cfg->name};
	uint8_t buf[NX_PROXY_MAX];
	int n = nx_proxy_encode(v, &pi, buf, sizeof buf);
	if (n < 0 || !(s->pp = malloc((size_t)n)))
		return -1;
	memcpy(s->pp, buf, (size_t)n);
	s->pp_len = (size_t)n;
	s->pp_off = 0;
	return 0;
}

/* Turn a connect away: the end user hears it in its own protocol, the hub gets the
 * disconnect. */
static void refuse(struct tunnel *t, const struct nx_hub_control *c, int http_status,
                   const char *reason)
{
	tunnel_tell_end_user(t, &c->client_id, c->is_tls, c->hostname, http_status);
	tunnel_send_disconnect(t, &c->client_id, reason);
}

void stream_on_connect(struct tunnel *t, const struct nx_hub_control *c)
{
	char err[NX_ERRLEN], host[160];
	nx_sanitize(host, sizeof host, c->hostname, strlen(c->hostname));
	if (stream_find(t, &c->client_id))
		return; /* a repeated connect: the stream exists */
	if (tunnel_udp_connect(t, c)) /* transport "udp": tunnel_udp.c */
		return;
	size_t max = t->cfg->max_streams ? t->cfg->max_streams : 1024;
	if (t->n_streams >= max) {
		/* fds (and with --exec, processes) are finite: refuse rather than fail later */
		tunnel_say_often(t, NX_LOG_WARN, "%s: %zu streams open (--max-streams), refusing another",
		           host, t->n_streams);
		refuse(t, c, 503, NX_HUB_REASON_LOCAL_ERROR);
		return;
	}
	/* One end user (or a few behind one address) must not take every stream: an eighth
	 * of --max-streams each by default, as the hub counts them (IPv6 by /64). */
	struct nx_src src;
	bool has_src = nx_src_of_text(c->client_ip, &src) == 0;
	size_t per = t->cfg->max_streams_per_source ? t->cfg->max_streams_per_source
	                                            : (max / 8 ? max / 8 : 1);
	if (has_src && !t->stream_src && !(t->stream_src = nx_srcmap_new()))
		has_src = false;
	if (has_src && nx_srcmap_get(t->stream_src, &src) >= per) {
		char cq[64];
		nx_sanitize(cq, sizeof cq, c->client_ip, strlen(c->client_ip));
		tunnel_say_often(t, NX_LOG_WARN,
		                 "%s: %zu streams open from %s (--max-streams-per-source), refusing another",
		                 host, per, cq);
		refuse(t, c, 503, NX_HUB_REASON_LOCAL_ERROR);
		return;
	}
	const char *target = tunnel_target_for(t, c->hostname, (uint16_t)c->conn_port);
	if (!target) {
		tunnel_say_often(t, NX_LOG_WARN, "%s (port %u): no target configured", host, c->conn_port);
		refuse(t, c, 502, NX_HUB_REASON_DIAL_FAILED);
		return;
	}
	struct stream *s = calloc(1, sizeof *s);
	if (!s) {
		refuse(t, c, 503, NX_HUB_REASON_LOCAL_ERROR);
		return;
	}
	s->t = t;
	s->id = c->client_id;
	nx_uuid_format(&s->id, s->idtext);
	s->fd = -1;
	s->conn_port = (uint16_t)c->conn_port;
	s->is_tls = c->is_tls;
	snprintf(s->hostname, sizeof s->hostname, "%s", host);
	snprintf(s->target, sizeof s->target, "%s", target);
	if (make_proxy_header(t, s, c) < 0) {
		tunnel_say_often(t, NX_LOG_WARN, "%s: cannot build the PROXY protocol header", host);
		free(s);
		refuse(t, c, 502, NX_HUB_REASON_LOCAL_ERROR);
		return;
	}
	if (c->credits > 0) {
		s->limited = true;
		s->credits = c->credits > NX_HUB_CREDIT_CLAMP ? NX_HUB_CREDIT_CLAMP : c->credits;
	}
	if (t->cfg->exec_cmd) {
		if (spawn_exec(t, s, c) < 0) {
			tunnel_say_often(t, NX_LOG_WARN, "%s: cannot start %s: %s", host, target, strerror(errno));
			free(s->pp);
			free(s);
			refuse(t, c, 502, NX_HUB_REASON_LOCAL_ERROR);
			return;
		}
	} else {
		int hooked = t->cfg->stream_hook
		                 ? t->cfg->stream_hook(t->cfg->stream_hook_arg, c->hostname, c->client_ip,
		                                       dial_target(t, target), c->is_tls, err, sizeof err)
		                 : -2;
		s->fd = hooked != -2 ? hooked : nx_dial_tcp(dial_target(t, target), err, sizeof err);
		if (s->fd < 0) {
			tunnel_say_often(t, NX_LOG_WARN, "%s: cannot reach %s: %s", host, target, err);
			free(s->pp);
			free(s);
			refuse(t, c, 502, NX_HUB_REASON_DIAL_FAILED);
			return;
		}
		s->connecting = true;
	}
	char client[80];
	nx_sanitize(client, sizeof client, c->client_ip, strlen(c->client_ip));
	tunnel_say(t, NX_LOG_DEBUG, "stream %s: %s from %s → %s", s->idtext, host, client, target);
	stream_attach(s, has_src ? &src : NULL);
}
