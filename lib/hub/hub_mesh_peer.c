/* hub_mesh_peer.c — the accepting side of a mesh link: a hub_session on /mesh whose first
 * text message is a JWT signed with the peer secret (aud "nexus-mesh", exp within a minute
 * or so), then meshproto messages. Its routes go into hub->peer_routes, which the relay
 * handoff consults only when no local backend serves a key. */
#include "hub/hub_mesh_int.h"
#include "core/log.h"
#include "core/util.h"
#include "token/jws.h"
#include "wire/handoff.h"
#include "wire/meshproto.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

int hub_mesh_accepts(const struct nx_hub *hub) { return hub->mesh && hub->mesh->key; }

int hub_mesh_tls_server(struct nx_hub *hub, struct nx_tls *tls, char *err, size_t errlen)
{
	if (!hub->mesh || !hub->mesh->client_trust)
		return 0;
	return nx_tls_server_ask_client_cert(tls, hub->mesh->client_trust, err, errlen);
}

/* "*.mesh.example" matches exactly one label more; anything else matches itself. */
static int name_matches(const char *pat, const unsigned char *v, size_t n)
{
	if (pat[0] == '*' && pat[1] == '.') {
		const unsigned char *dot = memchr(v, '.', n);
		if (!dot || dot == v)
			return 0;
		n -= (size_t)(dot + 1 - v);
		v = dot + 1;
		pat += 2;
	}
	return strlen(pat) == n && strncasecmp(pat, (const char *)v, n) == 0;
}

struct name_hit {
	const char *pat;
	int hit;
};

static int on_name(void *arg, enum nx_x509_name_type type, const unsigned char *val, size_t len)
{
	struct name_hit *h = arg;
	if (type == NX_X509_DNS && name_matches(h->pat, val, len))
		h->hit = 1;
	return h->hit;
}

/* --peer-client-ca: the dialling peer showed a certificate of the CA with an allowed name. */
static int check_cert(struct hub_session *s, char *why, size_t whylen)
{
	const struct hub_mesh *m = s->hub->mesh;
	if (!m->client_trust)
		return 0;
	if (!nx_tls_peer_cert_verified(s->tls)) {
		snprintf(why, whylen, "peer certificate required");
		return -1;
	}
	if (!m->client_name[0])
		return 0;
	struct name_hit h = {m->client_name, 0};
	if (nx_tls_peer_cert_names(s->tls, on_name, &h) < 0 || !h.hit) {
		snprintf(why, whylen, "peer certificate has no name matching %.80s", m->client_name);
		return -1;
	}
	return 0;
}

size_t hub_mesh_peer_routes(const struct nx_hub *hub)
{
	return hub->peer_routes ? nx_routes_keys(hub->peer_routes) : 0;
}

struct hub_session *hub_mesh_pick(struct nx_hub *hub, const char *key)
{
	return hub->peer_routes ? nx_routes_pick(hub->peer_routes, key, NULL) : NULL;
}

void hub_mesh_session_gone(struct hub_session *s)
{
	if (s->hub->peer_routes)
		nx_routes_remove_backend(s->hub->peer_routes, s);
	hub_log(s->hub, NX_LOG_WARN, "peer link down", "session=%llu node=%s peer=%s",
	        (unsigned long long)s->id, s->claims.sub[0] ? s->claims.sub : "-", s->peer);
}

static int check_token(struct hub_session *s, const uint8_t *data, size_t len, char *why,
                       size_t whylen)
{
	json_t *claims = NULL;
	char err[NX_ERRLEN];
	if (nx_jws_verify(s->hub->mesh->key, (const char *)data, len, NULL, &claims, err,
	                  sizeof err) < 0) {
		snprintf(why, whylen, "peer token refused: %s", err);
		return -1;
	}
	int rc = -1;
	const char *aud = json_string_value(json_object_get(claims, "aud"));
	const char *sub = json_string_value(json_object_get(claims, "sub"));
	json_int_t exp = json_integer_value(json_object_get(claims, "exp"));
	int64_t now = (int64_t)time(NULL), leeway = s->hub->cfg.leeway_s;
	if (!aud || strcmp(aud, NX_MESH_AUD) != 0)
		snprintf(why, whylen, "peer token refused: aud is not %s", NX_MESH_AUD);
	else if (!json_is_integer(json_object_get(claims, "exp")) || exp + leeway < now)
		snprintf(why, whylen, "peer token refused: expired");
	else if (exp > now + 600 + leeway)
		snprintf(why, whylen, "peer token refused: lives too long");
	else if (!sub || !nx_mesh_node_ok(sub)) /* it names the peer in our logs and metrics */
		snprintf(why, whylen, "peer token refused: sub is not a node name");
	else {
		snprintf(s->claims.sub, sizeof s->claims.sub, "%s", sub);
		rc = 0;
	}
	json_decref(claims);
	return rc;
}

static void take_routes(struct hub_session *s, const struct nx_mesh_msg *m)
{
	struct nx_hub *hub = s->hub;
	if (m->version <= s->mesh_version)
		return; /* an old one */
	s->mesh_version = m->version;
	nx_routes_remove_backend(hub->peer_routes, s);
	char list[512] = "";
	size_t o = 0;
	for (size_t i = 0; i < m->n_routes; i++) {
		nx_routes_add(hub->peer_routes, m->routes[i], s, 1);
		if (o < sizeof list - 1)
			o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", o ? "," : "", m->routes[i]);
	}
	hub->mesh->routes_learned++;
	hub_log(hub, NX_LOG_INFO, "peer routes", "session=%llu node=%s version=%llu routes=%s",
	        (unsigned long long)s->id, s->claims.sub, (unsigned long long)m->version,
	        o ? list : "-");
}

void hub_mesh_on_text(struct hub_session *s, const uint8_t *data, size_t len)
{
	char why[NX_ERRLEN + 32];
	if (s->state == SESS_AUTH0) {
		if (check_cert(s, why, sizeof why) < 0 || check_token(s, data, len, why, sizeof why) < 0) {
			hub_session_fail(s, NX_WS_CLOSE_POLICY, why);
			return;
		}
		nx_timer_stop(s->hub->loop, &s->auth_timer);
		hub_session_unpend(s);
		s->state = SESS_LIVE;
		s->initial_window = 1; /* our connect stands for its first grant (§6) */
		/* An authenticated peer may announce up to NX_MESH_MAX_ROUTES keys in one message:
		 * more than a backend message holds, and only now that it is known. */
		s->ws.max_message = NX_MESH_MAX_MSG;
		s->live_since = (int64_t)time(NULL);
		hub_session_start_keepalive(s);
		char *hello = nx_mesh_hello_encode(s->hub->mesh->node, why, sizeof why);
		if (hello) /* the dialler's sign that its token was taken */
			hub_session_send(s, NX_WS_OP_TEXT, hello, strlen(hello), NULL, 0);
		free(hello);
		hub_log(s->hub, NX_LOG_INFO, "peer link up", "session=%llu node=%s peer=%s",
		        (unsigned long long)s->id, s->claims.sub, s->peer);
		return;
	}
	if (s->state != SESS_LIVE)
		return;
	struct nx_mesh_msg m;
	char err[NX_ERRLEN];
	if (nx_mesh_msg_parse((const char *)data, len, &m, err, sizeof err) < 0) {
		nx_mesh_msg_free(&m);
		hub_session_fail(s, NX_WS_CLOSE_PROTOCOL, err);
		return;
	}
	if (m.type == NX_MESH_ROUTES)
		take_routes(s, &m);
	nx_mesh_msg_free(&m);
}

void hub_mesh_no_route(struct hub_stream *st, const struct nx_hub_control *c)
{
	if (strcmp(c->reason, "no route") != 0 || st->down_bytes || st->q_head || st->fd < 0 ||
	    strncmp(st->route, "tcp:", 4) == 0)
		return;
	ssize_t n = hub_tell_user(st->fd, st->is_tls, st->route, 0, NX_HANDOFF_NO_ROUTE);
	if (n > 0)
		st->down_bytes += (uint64_t)n;
	hub_log_often(st->hub, NX_LOG_INFO, "peer has no route", "stream=%s route=%s", st->id_text,
	        st->route);
}
