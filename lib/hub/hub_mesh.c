/* hub_mesh.c — the links this hub dials (--peer wss://HOST:PORT/mesh): TLS client, the
 * WebSocket upgrade, the peer token, the announcement of our local route keys, keep-alive
 * with a read deadline, and reconnects with backoff. Streams the peer opens over a link are
 * in hub_mesh_stream.c. */
#include "hub/hub_mesh_int.h"
#include "core/log.h"
#include "core/random.h"
#include "core/sock.h"
#include "core/util.h"
#include "token/jws.h"
#include "token/keys.h"
#include "wire/meshproto.h"

#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000
#define TOKEN_LIFE_S 120
#define LINK_OUT_HIGH (256 * 1024)
#define LINK_OUT_LOW (64 * 1024)
#define LINK_OUT_KILL (8 * 1024 * 1024)
#define MESH_MAX_MESSAGE (NX_HUB_MAX_MESSAGE + 1024)

enum link_state { L_WAIT, L_DIAL, L_TLS, L_UPGRADE, L_AUTH, L_LIVE }; /* AUTH: token sent */

struct mesh_link {
	struct nx_hub *hub;
	char url[512];
	char host[300], dial[310], host_header[310], path[256];
	enum link_state state;
	int fd;
	struct nx_tls *tls;
	char ws_key[NX_WS_KEY_LEN + 1];
	struct hub_buf in, out;
	struct nx_ws_reader ws;
	int out_blocked, broken;
	uint64_t backoff_ms, last_rx, sent_version;
	struct nx_timer retry, ping, idle, again, kill;
	struct mesh_stream *streams;
	struct hub_creds *creds; /* our certificate, shown when the peer asks (mutual TLS) */
	char why[NX_ERRLEN];
	struct nx_rate refused; /* streams the peer asked for and we refused */
};

struct nx_hub *mesh_link_hub(const struct mesh_link *l) { return l->hub; }
struct mesh_stream **mesh_link_streams(struct mesh_link *l) { return &l->streams; }
struct nx_rate *mesh_link_refused(struct mesh_link *l) { return &l->refused; }

static void link_dial(struct nx_loop *loop, void *arg);
static void link_io(struct nx_loop *loop, int fd, unsigned events, void *arg);
static void read_again(struct nx_loop *loop, void *arg);

/* "wss://host[:port][/path]" (the path defaults to /mesh). */
static int parse_url(struct mesh_link *l, const char *url, char *err, size_t errlen)
{
	if (strncmp(url, "wss://", 6) != 0)
		return nx_err(err, errlen, "--peer %s: not a wss:// URL", url);
	const char *h = url + 6, *slash = strchr(h, '/');
	size_t hl = slash ? (size_t)(slash - h) : strlen(h);
	if (!hl || hl >= sizeof l->host_header)
		return nx_err(err, errlen, "--peer %s: no host", url);
	memcpy(l->host_header, h, hl);
	l->host_header[hl] = 0;
	snprintf(l->path, sizeof l->path, "%s", slash ? slash : NX_MESH_PATH);
	const char *port = NULL;
	if (l->host_header[0] == '[') {
		char *e = strchr(l->host_header, ']');
		if (!e)
			return nx_err(err, errlen, "--peer %s: bad IPv6 literal", url);
		snprintf(l->host, sizeof l->host, "%.*s", (int)(e - l->host_header - 1), l->host_header + 1);
		port = e[1] == ':' ? e + 2 : NULL;
	} else {
		char *c = strrchr(l->host_header, ':');
		snprintf(l->host, sizeof l->host, "%.*s",
		         (int)(c ? (size_t)(c - l->host_header) : hl), l->host_header);
		port = c ? c + 1 : NULL;
	}
	long p = port ? strtol(port, NULL, 10) : 443;
	if (p < 1 || p > 65535 || !l->host[0])
		return nx_err(err, errlen, "--peer %s: bad host or port", url);
	snprintf(l->dial, sizeof l->dial, strchr(l->host, ':') ? "[%s]:%ld" : "%s:%ld", l->host, p);
	return 0;
}

/* ---- output ---------------------------------------------------------------------------- */

static void link_kill_later(struct mesh_link *l, const char *why);

int mesh_link_send(struct mesh_link *l, int op, const void *a, size_t alen, const void *b,
                   size_t blen)
{
	if (l->state < L_UPGRADE)
		return -1;
	if (l->broken)
		return -1;
	if (hub_buf_pending(&l->out) > LINK_OUT_KILL) {
		link_kill_later(l, "peer does not read (output queue overflow)");
		return -1;
	}
	uint8_t mask[4];
	if (nx_random_mask(mask) < 0) {
		link_kill_later(l, "no randomness");
		return -1;
	}
	size_t plen = alen + blen;
	uint8_t *p = hub_buf_reserve(&l->out, nx_ws_frame_size(plen, 1));
	if (!p) {
		link_kill_later(l, "out of memory");
		return -1;
	}
	size_t hl = nx_ws_header_encode(p, 1, (enum nx_ws_opcode)op, plen, mask);
	if (alen) /* copied and masked in one pass */
		nx_ws_mask_copy(p + hl, a, alen, mask, 0);
	if (blen)
		nx_ws_mask_copy(p + hl + alen, b, blen, mask, alen);
	return 0;
}

int mesh_link_send_control(struct mesh_link *l, const struct nx_hub_control *c)
{
	uint8_t msg[1024];
	int n = nx_hub_control_encode(c, msg, sizeof msg);
	if (n < 0)
		return -1;
	return mesh_link_send(l, NX_WS_OP_BINARY, msg, (size_t)n, NULL, 0);
}

int mesh_link_out_full(const struct mesh_link *l)
{
	if (hub_buf_pending(&l->out) >= LINK_OUT_HIGH) {
		((struct mesh_link *)l)->out_blocked = 1;
		return 1;
	}
	return l->state != L_LIVE || l->broken;
}

static void set_interest(struct mesh_link *l)
{
	if (l->fd >= 0 && l->tls)
		nx_loop_mod(l->hub->loop, l->fd, nx_tls_want(l->tls));
}

void mesh_link_flush(struct mesh_link *l)
{
	if (l->fd < 0 || !l->tls || l->broken || l->state < L_UPGRADE)
		return;
	while (hub_buf_pending(&l->out)) {
		ssize_t n = nx_tls_write(l->tls, l->out.p + l->out.off, hub_buf_pending(&l->out));
		if (n == NX_TLS_AGAIN || n == 0)
			break;
		if (n < 0) {
			char why[NX_ERRLEN];
			snprintf(why, sizeof why, "write: %s", nx_tls_error(l->tls));
			link_kill_later(l, why);
			return;
		}
		hub_buf_consume(&l->out, (size_t)n);
	}
	set_interest(l);
	if (l->out_blocked && hub_buf_pending(&l->out) < LINK_OUT_LOW) {
		l->out_blocked = 0;
		mesh_streams_wake(l);
	}
}

/* ---- lifetime -------------------------------------------------------------------------- */

static void link_down(struct mesh_link *l, const char *why)
{
	struct nx_hub *hub = l->hub;
	struct nx_loop *loop = hub->loop;
	if (l->state == L_LIVE) {
		char q[NX_ERRLEN + 8];
		hub_log(hub, NX_LOG_WARN, "peer link down", "peer=%s reason=%s", l->url,
		        nx_log_q(q, sizeof q, why ? why : "closed"));
		l->backoff_ms = 0; /* it was up: try again soon */
	} else if (why) {
		char q[NX_ERRLEN + 8];
		hub_log(hub, NX_LOG_WARN, "peer link failed", "peer=%s reason=%s", l->url,
		        nx_log_q(q, sizeof q, why));
	}
	mesh_streams_close_all(l);
	nx_timer_stop(loop, &l->ping);
	nx_timer_stop(loop, &l->idle);
	nx_timer_stop(loop, &l->again);
	nx_timer_stop(loop, &l->kill);
	if (l->fd >= 0) {
		nx_loop_del(loop, l->fd);
		nx_tls_free(l->tls);
		l->tls = NULL;
		close(l->fd);
		l->fd = -1;
	}
	hub_creds_drop(l->creds);
	l->creds = NULL;
	hub_buf_free(&l->in);
	hub_buf_free(&l->out);
	nx_ws_reader_free(&l->ws);
	l->broken = 0;
	l->out_blocked = 0;
	l->state = L_WAIT;
	l->backoff_ms = l->backoff_ms ? l->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (l->backoff_ms > BACKOFF_MAX_MS)
		l->backoff_ms = BACKOFF_MAX_MS;
	uint8_t r = 0;
	nx_random_bytes(&r, 1, NULL, 0);
	nx_timer_start(loop, &l->retry, l->backoff_ms + (l->backoff_ms * r) / 1024, link_dial, l);
}

static void kill_now(struct nx_loop *loop, void *arg)
{
	struct mesh_link *l = arg;
	link_down(l, l->why);
}

/* Never tear a link down under a caller's feet: a stream sending on it would then touch
 * freed memory. The teardown runs from a zero-delay timer. */
static void link_kill_later(struct mesh_link *l, const char *why)
{
	if (l->broken)
		return;
	l->broken = 1;
	snprintf(l->why, sizeof l->why, "%s", why);
	nx_timer_start(l->hub->loop, &l->kill, 0, kill_now, l);
}

/* ---- announcements --------------------------------------------------------------------- */

struct keys {
	const char **v;
	size_t n, cap;
};

static void collect(const char *key, void *arg)
{
	struct keys *k = arg;
	if (strncmp(key, "udp:", 4) == 0) /* the mesh carries TCP streams only */
		return;
	if (k->n == k->cap) {
		size_t nc = k->cap ? k->cap * 2 : 32;
		const char **nv = realloc(k->v, nc * sizeof *nv);
		if (!nv)
			return;
		k->v = nv;
		k->cap = nc;
	}
	k->v[k->n++] = key;
}

static void announce(struct mesh_link *l)
{
	struct hub_mesh *m = l->hub->mesh;
	if (l->state != L_LIVE || l->sent_version == m->version)
		return;
	struct keys k = {0};
	hub_routes_lock(l->hub);
	nx_routes_each_key(l->hub->routes, collect, &k);
	hub_routes_unlock(l->hub);
	char err[NX_ERRLEN];
	char *msg = nx_mesh_routes_encode(m->version, k.v, k.n > NX_MESH_MAX_ROUTES ? NX_MESH_MAX_ROUTES : k.n,
	                                  err, sizeof err);
	free(k.v);
	if (!msg) {
		char q[NX_ERRLEN + 8];
		hub_log(l->hub, NX_LOG_ERROR, "cannot announce routes", "peer=%s reason=%s", l->url,
		        nx_log_q(q, sizeof q, err));
		return;
	}
	if (mesh_link_send(l, NX_WS_OP_TEXT, msg, strlen(msg), NULL, 0) == 0) {
		l->sent_version = m->version;
		hub_log(l->hub, NX_LOG_DEBUG, "routes announced", "peer=%s version=%llu routes=%zu",
		        l->url, (unsigned long long)m->version, k.n);
	}
	free(msg);
	mesh_link_flush(l);
}

static void announce_all(struct nx_loop *loop, void *arg)
{
	struct nx_hub *hub = arg;
	for (size_t i = 0; i < hub->mesh->n_links; i++)
		announce(&hub->mesh->links[i]);
}

void hub_mesh_local_changed(struct nx_hub *hub)
{
	struct hub_mesh *m = hub->mesh;
	if (!m || !m->n_links)
		return;
	m->version++;
	if (!nx_timer_active(&m->announce))
		nx_timer_start(hub->loop, &m->announce, 0, announce_all, hub);
}

size_t hub_mesh_links_up(const struct nx_hub *hub)
{
	size_t n = 0;
	if (hub->mesh)
		for (size_t i = 0; i < hub->mesh->n_links; i++)
			n += hub->mesh->links[i].state == L_LIVE;
	return n;
}

/* ---- keep-alive ------------------------------------------------------------------------ */

static void ping_tick(struct nx_loop *loop, void *arg)
{
	struct mesh_link *l = arg;
	if (mesh_link_send(l, NX_WS_OP_PING, NULL, 0, NULL, 0) == 0)
		mesh_link_flush(l);
	nx_timer_start(loop, &l->ping, l->hub->cfg.ping_ms, ping_tick, l);
}

static void idle_check(struct nx_loop *loop, void *arg)
{
	struct mesh_link *l = arg;
	uint64_t quiet = nx_loop_now(loop) - l->last_rx;
	if (quiet >= l->hub->cfg.silent_ms) {
		link_down(l, "peer silent (keep-alive timeout)");
		return;
	}
	nx_timer_start(loop, &l->idle, l->hub->cfg.silent_ms - quiet, idle_check, l);
}

/* ---- input ----------------------------------------------------------------------------- */

static void on_binary(struct mesh_link *l, const uint8_t *data, size_t len)
{
	struct nx_hub_msg m;
	char err[NX_ERRLEN];
	if (nx_hub_msg_parse(data, len, &m, err, sizeof err) < 0) {
		link_kill_later(l, err);
		return;
	}
	if (m.type != NX_HUB_MSG_CONTROL) {
		mesh_stream_on_data(l, &m.id, m.data, m.len);
		return;
	}
	struct nx_hub_control c;
	if (nx_hub_control_parse(m.data, m.len, &c, err, sizeof err) < 0)
		return;
	if (c.event == NX_HUB_EV_CONNECT)
		mesh_stream_connect(l, &c);
	else
		mesh_stream_on_control(l, &c);
}

/* The peer's hello says it took our token: the link is up. 0, or -1 (link down). */
static int on_text(struct mesh_link *l, const uint8_t *data, size_t len)
{
	struct nx_mesh_msg m;
	char err[NX_ERRLEN];
	if (nx_mesh_msg_parse((const char *)data, len, &m, err, sizeof err) < 0) {
		nx_mesh_msg_free(&m);
		link_down(l, err);
		return -1;
	}
	if (m.type == NX_MESH_HELLO && l->state == L_AUTH) {
		l->state = L_LIVE;
		l->backoff_ms = 0;
		hub_log(l->hub, NX_LOG_INFO, "peer link up", "peer=%s node=%s", l->url, m.node);
		announce(l);
		nx_timer_start(l->hub->loop, &l->ping, l->hub->cfg.ping_ms, ping_tick, l);
	}
	nx_mesh_msg_free(&m);
	return 0;
}

/* 0, or -1 when the link went down */
static int on_ws_bytes(struct mesh_link *l, const uint8_t *buf, size_t len)
{
	char err[NX_ERRLEN];
	while (len && !l->broken) {
		size_t used = 0;
		struct nx_ws_msg msg;
		int ev = nx_ws_reader_feed(&l->ws, buf, len, &used, &msg, err, sizeof err);
		buf += used;
		len -= used;
		switch (ev) {
		case NX_WS_EV_ERROR:
			link_down(l, err);
			return -1;
		case NX_WS_EV_NEED:
			if (!used)
				return 0;
			break;
		case NX_WS_EV_BINARY:
			on_binary(l, msg.data, msg.len);
			break;
		case NX_WS_EV_PING:
			mesh_link_send(l, NX_WS_OP_PONG, msg.data, msg.len, NULL, 0);
			break;
		case NX_WS_EV_CLOSE: {
			char why[NX_ERRLEN + 160];
			snprintf(why, sizeof why, "peer closed the link (%u: %.*s)", msg.close_code,
			         (int)(msg.len > 2 ? msg.len - 2 : 0), msg.len > 2 ? (const char *)msg.data + 2 : "");
			link_down(l, why);
			return -1;
		}
		case NX_WS_EV_TEXT:
			if (on_text(l, msg.data, msg.len) < 0)
				return -1;
			break;
		default: /* pong */
			break;
		}
	}
	return 0;
}

static int send_token(struct mesh_link *l)
{
	struct hub_mesh *m = l->hub->mesh;
	int64_t now = (int64_t)time(NULL);
	json_t *claims = json_pack("{s:s,s:s,s:s,s:I,s:I}", "iss", "nexus-hub", "sub", m->node,
	                           "aud", NX_MESH_AUD, "iat", (json_int_t)now, "exp",
	                           (json_int_t)(now + TOKEN_LIFE_S));
	char *tok = NULL, err[NX_ERRLEN];
	int rc = claims ? nx_jws_sign(m->key, NX_ALG_HS256, NULL, claims, &tok, err, sizeof err) : -1;
	json_decref(claims);
	if (rc < 0)
		return -1;
	rc = mesh_link_send(l, NX_WS_OP_TEXT, tok, strlen(tok), NULL, 0);
	nx_wipe(tok, strlen(tok));
	free(tok);
	if (rc < 0)
		return -1;
	char *hello = nx_mesh_hello_encode(m->node, err, sizeof err);
	if (hello)
		mesh_link_send(l, NX_WS_OP_TEXT, hello, strlen(hello), NULL, 0);
	free(hello);
	return 0;
}

static int on_upgrade_bytes(struct mesh_link *l, const uint8_t *buf, size_t len)
{
	if (hub_buf_append(&l->in, buf, len) < 0) {
		link_down(l, "out of memory");
		return -1;
	}
	size_t hl = 0;
	int status = 0;
	char err[NX_ERRLEN];
	int r = nx_ws_client_parse_response((const char *)l->in.p + l->in.off, hub_buf_pending(&l->in),
	                                    l->ws_key, &hl, &status, err, sizeof err);
	if (r == NX_WS_NEED)
		return 0;
	if (r != NX_WS_DONE) {
		link_down(l, err);
		return -1;
	}
	l->state = L_AUTH;
	l->sent_version = 0;
	if (send_token(l) < 0) {
		link_down(l, "cannot sign the peer token");
		return -1;
	}
	size_t rest = hub_buf_pending(&l->in) - hl;
	int rc = 0;
	if (rest) {
		uint8_t *tmp = malloc(rest);
		if (tmp) {
			memcpy(tmp, l->in.p + l->in.off + hl, rest);
			hub_buf_free(&l->in);
			rc = on_ws_bytes(l, tmp, rest);
			free(tmp);
			return rc;
		}
	}
	hub_buf_free(&l->in);
	return rc;
}

static void link_read(struct mesh_link *l)
{
	uint8_t buf[16384];
	for (int i = 0; i < 64 && !l->broken; i++) {
		ssize_t n = nx_tls_read(l->tls, buf, sizeof buf);
		if (n == NX_TLS_AGAIN)
			return;
		if (n <= 0) {
			char why[NX_ERRLEN];
			snprintf(why, sizeof why, "%s", n == NX_TLS_EOF ? "peer closed the connection"
			                                                : nx_tls_error(l->tls));
			link_down(l, why);
			return;
		}
		l->last_rx = nx_loop_now(l->hub->loop);
		int rc = l->state == L_UPGRADE ? on_upgrade_bytes(l, buf, (size_t)n)
		                               : on_ws_bytes(l, buf, (size_t)n);
		if (rc < 0)
			return;
	}
	if (!l->broken && l->tls && nx_tls_pending(l->tls))
		nx_timer_start(l->hub->loop, &l->again, 0, read_again, l);
}

static void read_again(struct nx_loop *loop, void *arg)
{
	struct mesh_link *l = arg;
	if (l->state < L_UPGRADE || l->broken)
		return;
	link_read(l);
	if (l->fd >= 0 && !l->broken)
		mesh_link_flush(l);
}

static void link_io(struct nx_loop *loop, int fd, unsigned events, void *arg)
{
	struct mesh_link *l = arg;
	char err[NX_ERRLEN];
	if (l->broken)
		return;
	if (l->state == L_DIAL) {
		if (nx_connect_result(fd, err, sizeof err) < 0) {
			link_down(l, err);
			return;
		}
		l->tls = nx_tls_client_new(l->hub->mesh->trust, fd, l->host, NULL, err, sizeof err);
		if (!l->tls) {
			link_down(l, err);
			return;
		}
		/* our hub certificate doubles as the client certificate (none yet with ACME) */
		if (l->hub->creds && l->hub->creds->c) {
			l->creds = hub_creds_hold(l->hub->creds);
			nx_tls_client_cert(l->tls, l->creds->c, err, sizeof err);
		}
		l->state = L_TLS;
	}
	if (l->state == L_TLS) {
		int r = nx_tls_handshake(l->tls);
		if (r == NX_TLS_AGAIN) {
			set_interest(l);
			return;
		}
		if (r != 1) {
			char why[NX_ERRLEN + 16];
			snprintf(why, sizeof why, "tls: %s", nx_tls_error(l->tls));
			link_down(l, why);
			return;
		}
		uint8_t nonce[16];
		char req[1024];
		nx_random_bytes(nonce, sizeof nonce, NULL, 0);
		nx_ws_make_key(nonce, l->ws_key);
		int n = nx_ws_client_request(req, sizeof req, l->host_header, l->path, l->ws_key,
		                             "nexus-hub");
		l->state = L_UPGRADE;
		if (n < 0 || hub_buf_append(&l->out, req, (size_t)n) < 0) {
			link_down(l, "cannot build the upgrade request");
			return;
		}
	}
	link_read(l);
	if (l->fd >= 0 && !l->broken)
		mesh_link_flush(l);
}

static void link_dial(struct nx_loop *loop, void *arg)
{
	struct mesh_link *l = arg;
	char err[NX_ERRLEN];
	l->fd = nx_dial_tcp(l->dial, err, sizeof err);
	if (l->fd < 0) {
		link_down(l, err);
		return;
	}
	int one = 1;
	setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	nx_ws_reader_init(&l->ws, NX_WS_CLIENT, MESH_MAX_MESSAGE);
	l->last_rx = nx_loop_now(loop);
	if (nx_loop_add(loop, l->fd, NX_EV_WRITE, link_io, l) < 0) {
		close(l->fd);
		l->fd = -1;
		link_down(l, "cannot watch the socket");
		return;
	}
	l->state = L_DIAL;
	/* a handshake that hangs counts as silence */
	nx_timer_start(loop, &l->idle, l->hub->cfg.silent_ms, idle_check, l);
}

/* ---- setup ----------------------------------------------------------------------------- */

int hub_mesh_open(struct nx_hub *hub, char *err, size_t errlen)
{
	const struct nx_hub_config *cfg = &hub->cfg;
	if (!cfg->peer_secret_file && !cfg->n_peers)
		return 0;
	if (!cfg->peer_secret_file)
		return nx_err(err, errlen, "--peer needs --peer-secret-file");
	struct hub_mesh *m = calloc(1, sizeof *m);
	if (!m)
		return nx_err(err, errlen, "out of memory");
	hub->mesh = m;
	char why[NX_ERRLEN];
	if (nx_key_load_file(cfg->peer_secret_file, &m->key, why, sizeof why) < 0)
		return nx_err(err, errlen, "%s", why);
	if (nx_key_type(m->key) != NX_KEY_HMAC)
		return nx_err(err, errlen, "%s: not an HMAC secret", cfg->peer_secret_file);
	if (cfg->node_name)
		snprintf(m->node, sizeof m->node, "%s", cfg->node_name);
	else if (gethostname(m->node, sizeof m->node - 1) < 0)
		snprintf(m->node, sizeof m->node, "hub");
	for (char *p = m->node; *p; p++) /* meshproto: [A-Za-z0-9._-] */
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '_' || *p == '-'))
			*p = '-';
	if (cfg->peer_client_ca &&
	    !(m->client_trust = nx_tls_trust_load(cfg->peer_client_ca, why, sizeof why)))
		return nx_err(err, errlen, "--peer-client-ca: %s", why);
	if (cfg->peer_client_name)
		snprintf(m->client_name, sizeof m->client_name, "%s", cfg->peer_client_name);
	if (!cfg->n_peers)
		return 0;
	if (!(m->trust = nx_tls_trust_load(cfg->peer_ca, why, sizeof why)))
		return nx_err(err, errlen, "--peer-ca: %s", why);
	if (!(m->links = calloc(cfg->n_peers, sizeof *m->links)))
		return nx_err(err, errlen, "out of memory");
	m->n_links = cfg->n_peers;
	m->version = 1;
	for (size_t i = 0; i < cfg->n_peers; i++) {
		struct mesh_link *l = &m->links[i];
		l->hub = hub;
		l->fd = -1;
		snprintf(l->url, sizeof l->url, "%s", cfg->peers[i]); /* cfg's strings go on SIGHUP */
		if (parse_url(l, cfg->peers[i], err, errlen) < 0)
			return -1;
		nx_timer_start(hub->loop, &l->retry, 0, link_dial, l);
	}
	return 0;
}

int hub_mesh_check(const struct nx_hub_config *cfg, char *err, size_t errlen)
{
	if (!cfg->peer_secret_file && !cfg->n_peers)
		return 0;
	if (!cfg->peer_secret_file)
		return nx_err(err, errlen, "--peer needs --peer-secret-file");
	struct nx_key *k = NULL;
	char why[NX_ERRLEN];
	if (nx_key_load_file(cfg->peer_secret_file, &k, why, sizeof why) < 0)
		return nx_err(err, errlen, "%s", why);
	int hmac = nx_key_type(k) == NX_KEY_HMAC;
	nx_key_free(k);
	if (!hmac)
		return nx_err(err, errlen, "%s: not an HMAC secret", cfg->peer_secret_file);
	if (cfg->peer_client_ca) {
		struct nx_tls_trust *t = nx_tls_trust_load(cfg->peer_client_ca, why, sizeof why);
		if (!t)
			return nx_err(err, errlen, "--peer-client-ca: %s", why);
		nx_tls_trust_free(t);
	}
	if (cfg->n_peers) {
		struct nx_tls_trust *t = nx_tls_trust_load(cfg->peer_ca, why, sizeof why);
		if (!t)
			return nx_err(err, errlen, "--peer-ca: %s", why);
		nx_tls_trust_free(t);
	}
	struct mesh_link *l = calloc(1, sizeof *l);
	if (!l)
		return nx_err(err, errlen, "out of memory");
	int rc = 0;
	for (size_t i = 0; i < cfg->n_peers && rc == 0; i++)
		rc = parse_url(l, cfg->peers[i], err, errlen);
	free(l);
	return rc;
}

void hub_mesh_close(struct nx_hub *hub)
{
	struct hub_mesh *m = hub->mesh;
	if (!m)
		return;
	for (size_t i = 0; i < m->n_links; i++) {
		struct mesh_link *l = &m->links[i];
		if (l->hub) {
			l->state = L_WAIT; /* no "link down" line at exit */
			link_down(l, NULL);
			nx_timer_stop(hub->loop, &l->retry);
		}
	}
	nx_timer_stop(hub->loop, &m->announce);
	free(m->links);
	nx_tls_trust_free(m->trust);
	nx_tls_trust_free(m->client_trust);
	nx_key_free(m->key);
	free(m);
	hub->mesh = NULL;
}
