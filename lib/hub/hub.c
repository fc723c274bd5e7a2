/* hub.c — the hub object: listeners (pausing when fds run short), route table, the
 * graveyard of dead sessions and streams. See hub.h. */
#include "hub/hub_int.h"
#include "hub/hub_mesh_int.h"
#include "token/keys.h"
#include "core/log.h"
#include "core/sock.h"
#include "core/util.h"

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- byte queue ------------------------------------------------------------------------ */

uint8_t *hub_buf_reserve(struct hub_buf *b, size_t n) /* n > 0 */
{
	if (b->off && b->off == b->len)
		b->off = b->len = 0;
	if (b->len + n > b->cap) {
		size_t pending = b->len - b->off;
		/* Slide the pending bytes down only when the consumed prefix is at least as large:
		 * each byte is then moved at most once per byte consumed (amortised O(1)), instead
		 * of a big queue being moved for every small append. */
		if (b->off >= pending && pending + n <= b->cap) {
			memmove(b->p, b->p + b->off, pending);
			b->len = pending;
			b->off = 0;
		} else {
			size_t nc = b->cap ? b->cap : 16384;
			while (nc < b->len + n)
				nc *= 2;
			uint8_t *np = realloc(b->p, nc);
			if (!np)
				return NULL;
			b->p = np;
			b->cap = nc;
		}
	}
	uint8_t *p = b->p + b->len;
	b->len += n;
	return p;
}

int hub_buf_append(struct hub_buf *b, const void *data, size_t n)
{
	if (n == 0)
		return 0;
	uint8_t *p = hub_buf_reserve(b, n);
	if (!p)
		return -1;
	memcpy(p, data, n);
	return 0;
}

void hub_buf_consume(struct hub_buf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len) {
		b->off = b->len = 0;
		/* A burst may have grown the queue: give the memory back once it is drained. */
		if (b->cap > 512 * 1024) {
			free(b->p);
			b->p = NULL;
			b->cap = 0;
		}
	}
}

void hub_buf_free(struct hub_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* ---- logging --------------------------------------------------------------------------- */

void hub_log(struct nx_hub *hub, int level, const char *msg, const char *kvfmt, ...)
{
	va_list ap;
	va_start(ap, kvfmt);
	nx_log_vemit(hub->cfg.log, hub->cfg.log_arg, level, msg, kvfmt, ap);
	va_end(ap);
}

void hub_log_often(struct nx_hub *hub, int level, const char *msg, const char *kvfmt, ...)
{
	uint64_t n = nx_rates_note(&hub->often, kvfmt, nx_loop_now(hub->loop), 1000, NX_RATES_BURST);
	va_list ap;
	va_start(ap, kvfmt);
	nx_log_vemit_times(hub->cfg.log, hub->cfg.log_arg, level, msg, n, kvfmt, ap);
	va_end(ap);
}

/* ---- routes ---------------------------------------------------------------------------- */

struct held_by {
	const struct hub_session *s, *other; /* the newcomer; a holder with another sub */
};

static void other_holder(void *backend, void *arg)
{
	struct held_by *hb = arg;
	const struct hub_session *o = backend;
	if (!hb->other && o != hb->s && strcmp(o->claims.sub, hb->s->claims.sub) != 0)
		hb->other = o;
}

/* Two backends with different names for one hostname share its clients: right for a fleet
 * of replicas, wrong when one is somebody's forgotten tunnel. Say so, naming both; with
 * --exclusive-hostnames the newcomer is refused instead. */
static int check_hostnames(struct nx_hub *hub, struct hub_session *s, char *why, size_t whylen)
{
	char b1[160], b2[160], h[300];
	/* The route table knows every registered session, on every worker; their claims do
	 * not change once registered. The caller holds the routes lock. */
	for (size_t i = 0; i < s->claims.n_hostnames; i++) {
		const char *name = s->claims.hostnames[i];
		struct held_by hb = {.s = s};
		nx_routes_each_backend(hub->routes, name, other_holder, &hb);
		const struct hub_session *o = hb.other;
		if (o) {
			nx_log_q(b1, sizeof b1, s->claims.sub[0] ? s->claims.sub : "-");
			nx_log_q(b2, sizeof b2, o->claims.sub[0] ? o->claims.sub : "-");
			nx_log_q(h, sizeof h, name);
			if (hub->cfg.exclusive_hostnames) {
				hub_log(hub, NX_LOG_WARN, "hostname held by another backend",
				        "session=%llu hostname=%s backend=%s held_by=%s held_session=%llu",
				        (unsigned long long)s->id, h, b1, b2, (unsigned long long)o->id);
				/* the reason goes to the newcomer: the hostname, not who holds it */
				snprintf(why, whylen, "hostname %.80s is held by another backend", name);
				return -1;
			}
			hub_log(hub, NX_LOG_WARN, "hostname shared by different backends",
			        "session=%llu hostname=%s backend=%s other=%s other_session=%llu",
			        (unsigned long long)s->id, h, b1, b2, (unsigned long long)o->id);
		} /* one line per hostname is enough */
	}
	return 0;
}

int hub_register_routes(struct nx_hub *hub, struct hub_session *s, char *why, size_t whylen)
{
	char key[NX_ROUTE_KEY_MAX], list[768] = "";
	size_t o = 0;
	hub_routes_lock(hub);
	if (check_hostnames(hub, s, why, whylen) < 0) {
		hub_routes_unlock(hub);
		return -1;
	}
	for (size_t i = 0; i < s->claims.n_hostnames; i++) {
		nx_routes_add(hub->routes, s->claims.hostnames[i], s, s->claims.weight);
		if (o < sizeof list)
			o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", o ? "," : "",
			                      s->claims.hostnames[i]);
	}
	for (size_t i = 0; i < s->claims.n_tcp_ports; i++) {
		snprintf(key, sizeof key, "tcp:%u", s->claims.tcp_ports[i]);
		nx_routes_add(hub->routes, key, s, s->claims.weight);
		if (o < sizeof list)
			o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", o ? "," : "", key);
	}
	for (size_t i = 0; i < s->claims.n_udp_routes; i++) {
		snprintf(key, sizeof key, "udp:%u", s->claims.udp_routes[i].port);
		nx_routes_add(hub->routes, key, s, s->claims.weight);
		if (o < sizeof list)
			o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", o ? "," : "", key);
	}
	hub_mesh_local_changed(hub);
	hub_routes_unlock(hub);
	hub->ctr.sessions_total++;
	s->live_since = (int64_t)time(NULL);
	char b[160], kv[128];
	hub_log(hub, 2, "backend registered", "session=%llu backend=%s%s peer=%s weight=%d routes=%s%s%s worker=%u",
	        (unsigned long long)s->id, nx_log_q(b, sizeof b, s->claims.sub[0] ? s->claims.sub : "-"),
	        hub_backend_kv(s, kv, sizeof kv), s->peer, s->claims.weight, list,
	        s->half_close ? " half_close=1" : "", s->initial_window ? " initial_window=1" : "",
	        hub->worker_index);
	return 0;
}

void hub_unregister_routes(struct nx_hub *hub, struct hub_session *s)
{
	if (s->mesh) {
		hub_mesh_session_gone(s);
		return;
	}
	hub_routes_lock(hub);
	nx_routes_remove_backend(hub->routes, s);
	hub_mesh_local_changed(hub);
	hub_routes_unlock(hub);
}

/* ---- graveyard ------------------------------------------------------------------------- */

static void reap(struct nx_loop *loop, void *arg)
{
	struct nx_hub *hub = arg;
	while (hub->grave_streams) {
		struct hub_stream *st = hub->grave_streams;
		hub->grave_streams = st->grave_next;
		hub_stream_free(st);
	}
	struct hub_session *wait = NULL; /* handoffs still on their way to it (hub_worker.c) */
	while (hub->grave_sessions) {
		struct hub_session *s = hub->grave_sessions;
		hub->grave_sessions = s->grave_next;
		if (__atomic_load_n(&s->refs, __ATOMIC_ACQUIRE)) {
			s->grave_next = wait;
			wait = s;
			continue;
		}
		hub_session_free(s);
	}
	hub->grave_sessions = wait;
}

void hub_schedule_reap(struct nx_hub *hub)
{
	if (!nx_timer_active(&hub->reap_timer))
		nx_timer_start(hub->loop, &hub->reap_timer, 0, reap, hub);
}

/* ---- listeners ------------------------------------------------------------------------ */

static void listener_retry(struct nx_loop *loop, void *arg);

/* Short of fds (or memory): a level-triggered listener would wake us again at once, so stop
 * watching it; the kernel's backlog holds the connections until the timer tries again. */
void hub_listener_pause(struct nx_hub *hub, struct hub_listener *l, const char *why)
{
	if (!l->paused) {
		nx_loop_mod(hub->loop, l->fd, 0);
		l->paused = 1;
	}
	if (!nx_timer_active(&l->retry))
		nx_timer_start(hub->loop, &l->retry, NX_ACCEPT_RETRY_MS, listener_retry, l);
	hub_report_shortage(hub, l->name, why);
}

void hub_report_shortage(struct nx_hub *hub, const char *what, const char *why)
{
	uint64_t n = nx_accept_guard_note(&hub->fdg, nx_loop_now(hub->loop));
	if (n)
		hub_log(hub, 1, "not accepting for now", "listener=%s reason=\"%s\" times=%llu "
		        "fd_limit=%lu fd_reserve=%lu retry_ms=%u", what, why, (unsigned long long)n,
		        hub->fdg.limit, hub->fdg.reserve, NX_ACCEPT_RETRY_MS);
}

static void listener_retry(struct nx_loop *loop, void *arg)
{
	struct hub_listener *l = arg;
	struct nx_hub *hub = l->hub;
	/* The backend listener waits until the reserve is free again; the relay socket only
	 * needs one fd for a new relay. */
	if (l == &hub->backend_l && !nx_accept_guard_room(&hub->fdg, l->fd)) {
		hub_listener_pause(hub, l, "fd reserve in use");
		return;
	}
	l->paused = 0;
	nx_loop_mod(loop, l->fd, NX_EV_READ);
}

/* Accept on a listener. Returns the fd, or -1 when there is nothing (more) to take now (a
 * shortage pauses the listener). */
int hub_accept(struct nx_hub *hub, struct hub_listener *l)
{
	int c = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c >= 0)
		return c;
	if (nx_accept_shortage(errno))
		hub_listener_pause(hub, l, strerror(errno));
	else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
		hub_log_often(hub, 1, "accept failed", "listener=%s error=\"%s\"", l->name,
		              strerror(errno));
	return -1;
}

static void backend_accept(struct nx_loop *loop, int fd, unsigned events, void *arg)
{
	struct nx_hub *hub = arg;
	for (int i = 0; i < 64; i++) {
		int c = hub_accept(hub, &hub->backend_l);
		if (c < 0)
			return;
		hub_session_accept(hub, c);
		/* Into the reserve: the fds left are for relay handoffs and live backends. */
		if (nx_accept_guard_low(&hub->fdg, c)) {
			hub_listener_pause(hub, &hub->backend_l, "fd reserve reached");
			return;
		}
	}
}

/* ---- the hub --------------------------------------------------------------------------- */

void hub_config_defaults(struct nx_hub_config *c)
{
#define DEFAULT(field, value) \
	do { \
		if (!c->field) \
			c->field = (value); \
	} while (0)
	DEFAULT(auth_timeout_ms, NX_HUB_STAGE_TIMEOUT_MS);
	DEFAULT(handshake_timeout_ms, NX_HUB_HANDSHAKE_TIMEOUT_MS);
	DEFAULT(max_pending, NX_HUB_MAX_PENDING);
	DEFAULT(max_pending_per_source, NX_HUB_MAX_PENDING_PER_SOURCE);
	DEFAULT(max_streams, NX_HUB_MAX_STREAMS);
	DEFAULT(max_buffered, NX_HUB_MAX_BUFFERED);
	DEFAULT(max_streams_per_source, NX_HUB_MAX_STREAMS_PER_SOURCE);
	DEFAULT(max_sessions, NX_HUB_MAX_SESSIONS);
	DEFAULT(max_sessions_per_backend, NX_HUB_MAX_SESSIONS_PER_BACKEND);
	DEFAULT(verify_timeout_ms, NX_HUB_VERIFY_TIMEOUT_MS);
	DEFAULT(max_verify, NX_HUB_MAX_VERIFY);
	DEFAULT(relay_socket_mode, NX_HUB_RELAY_SOCKET_MODE);
	DEFAULT(ping_ms, NX_HUB_PING_MS);
	DEFAULT(silent_ms, NX_HUB_IDLE_MS);
	DEFAULT(idle_timeout_ms, 300000);
#undef DEFAULT
}

struct nx_hub *nx_hub_new(struct nx_loop *loop, const struct nx_hub_config *cfg, char *err,
                          size_t errlen)
{
	struct nx_hub *hub = calloc(1, sizeof *hub);
	if (!hub) {
		nx_err(err, errlen, "out of memory");
		return NULL;
	}
	hub->loop = loop;
	hub->cfg = *cfg;
	pthread_mutex_init(&hub->routes_lock, NULL);
	pthread_mutex_init(&hub->streams_mu, NULL);
	pthread_mutex_init(&hub->live_mu, NULL);
	hub->routes_mu = &hub->routes_lock;
	hub->resume_efd = -1;
	hub->backend_l.fd = hub->relay_l.fd = -1;
	hub->backend_l.name = "backend";
	hub->relay_l.name = "relay";
	hub->backend_l.hub = hub->relay_l.hub = hub;
	nx_accept_guard_init(&hub->fdg, NX_ACCEPT_RESERVE_AUTO);
	hub_config_defaults(&hub->cfg);
	char why[NX_ERRLEN];
	hub->routes = nx_routes_new();
	hub->pending_src = nx_srcmap_new();
	hub->stream_src = nx_srcmap_new();
	hub->peer_routes = nx_routes_new();
	hub->live_names = hub_names_new();
	if (!hub->routes || !hub->pending_src || !hub->stream_src || !hub->peer_routes ||
	    !hub->live_names) {
		nx_err(err, errlen, "out of memory");
		goto fail;
	}
	if (cfg->cert_file || !cfg->acme_directory) {
		struct nx_tls_server_creds *creds =
		    nx_tls_server_creds_load(cfg->cert_file, cfg->key_file, why, sizeof why);
		if (!creds || !(hub->creds = hub_creds_new(creds))) {
			nx_err(err, errlen, "%s", why);
			goto fail;
		}
	}
	if (hub_acme_open(hub, err, errlen) < 0)
		goto fail;
	const char *kf = cfg->secret_file ? cfg->secret_file : cfg->verify_key;
	if (hub_backends_open(hub, why, sizeof why) < 0) {
		nx_err(err, errlen, "%s", why);
		goto fail;
	}
	if (kf && nx_key_load_file(kf, &hub->key, why, sizeof why) < 0) {
		nx_err(err, errlen, "%s", why); /* it names the file */
		goto fail;
	}
	if (cfg->secret_file && nx_key_type(hub->key) != NX_KEY_HMAC) {
		nx_err(err, errlen, "%s: not an HMAC secret (use --verify-key for public keys)", kf);
		goto fail;
	}
	if (cfg->verify_key && nx_key_type(hub->key) == NX_KEY_HMAC) {
		nx_err(err, errlen, "%s: not a public key (use --secret-file for HMAC secrets)", kf);
		goto fail;
	}
	/* As nexus-token issue warns: HS256 wants a key of at least its hash size. */
	if (hub->key && nx_key_type(hub->key) == NX_KEY_HMAC && nx_key_bits(hub->key) < 256) {
		char q[300];
		hub_log(hub, NX_LOG_WARN, "HMAC secret shorter than 32 bytes, the minimum for HS256 "
		        "(RFC 7518 3.2)", "file=%s bytes=%u", nx_log_q(q, sizeof q, kf),
		        nx_key_bits(hub->key) / 8);
	}
	if (hub_verify_open(hub, why, sizeof why) < 0) {
		nx_err(err, errlen, "%s", why);
		goto fail;
	}
	if (strlen(cfg->relay_socket) >= sizeof hub->relay_path) {
		nx_err(err, errlen, "relay socket path too long");
		goto fail;
	}
	/* The relay socket first: a second hub started by mistake must stop here, before it
	 * takes the backend port or anything else from the live one. */
	if (hub_relay_open(hub, err, errlen) < 0)
		goto fail;
	if (cfg->listen_fd >= 0) {
		hub->backend_l.fd = cfg->listen_fd;
	} else {
		hub->backend_l.fd = nx_listen_tcp(cfg->listen, 256, why, sizeof why);
		if (hub->backend_l.fd < 0) {
			nx_err(err, errlen, "%s", why);
			goto fail;
		}
	}
	if (nx_loop_add(loop, hub->backend_l.fd, NX_EV_READ, backend_accept, hub) < 0) {
		nx_err(err, errlen, "cannot watch the listener");
		goto fail;
	}
	if (hub_metrics_open(hub, err, errlen) < 0)
		goto fail;
	if (hub_mesh_open(hub, err, errlen) < 0)
		goto fail;
	if (hub_workers_open(hub, err, errlen) < 0)
		goto fail;
	return hub;
fail:
	nx_hub_free(hub);
	return NULL;
}

void nx_hub_free(struct nx_hub *hub)
{
	if (!hub)
		return;
	hub_workers_close(hub); /* their sessions leave the route table first */
	hub_mesh_close(hub);
	while (hub->sessions)
		hub_session_kill(hub->sessions, NULL);
	while (hub->streams)
		hub_stream_kill(hub->streams, 0);
	nx_timer_stop(hub->loop, &hub->reap_timer);
	nx_timer_stop(hub->loop, &hub->backends_timer);
	reap(hub->loop, hub);
	hub_udp_close_all(hub);
	hub_verify_close(hub);
	nx_timer_stop(hub->loop, &hub->backend_l.retry);
	if (hub->backend_l.fd >= 0) {
		nx_loop_del(hub->loop, hub->backend_l.fd);
		close(hub->backend_l.fd);
	}
	hub_relay_close_all(hub);
	hub_metrics_close(hub);
	hub_acme_close(hub);
	nx_srcmap_free(hub->pending_src);
	nx_routes_free(hub->peer_routes);
	if (!hub->main_hub) { /* a worker's hub borrows these */
		nx_routes_free(hub->routes);
		hub_creds_drop(hub->creds);
		nx_key_free(hub->key);
		nx_backends_free(hub->backends);
		pthread_mutex_destroy(&hub->routes_lock);
		pthread_mutex_destroy(&hub->streams_mu);
		nx_srcmap_free(hub->stream_src);
		pthread_mutex_destroy(&hub->live_mu);
		hub_names_free(hub->live_names);
	}
	for (int i = 0; i < HUB_OWNED; i++)
		free(hub->owned[i]);
	free(hub);
}

void hub_stats(struct nx_hub *hub, struct nx_hub_stats *st)
{
	memset(st, 0, sizeof *st);
	hub_routes_lock(hub);
	st->routes = nx_routes_keys(hub->routes);
	hub_routes_unlock(hub);
	struct nx_hub *h;
	for (size_t i = 0; (h = hub_each(hub, i)); i++) {
		st->sessions += h->n_live;
		st->streams += h->n_streams;
		st->buffered += h->buffered;
		for (const struct hub_session *s = h->sessions; s; s = s->next)
			st->buffered += hub_buf_pending(&s->out);
	}
}

void nx_hub_get_stats(struct nx_hub *hub, struct nx_hub_stats *st)
{
	hub_workers_lock(hub);
	hub_stats(hub, st);
	hub_workers_unlock(hub);
}

uint16_t nx_hub_port(const struct nx_hub *hub) { return nx_local_port(hub->backend_l.fd); }

unsigned nx_hub_workers(const struct nx_hub *hub) { return (unsigned)hub->n_workers; }
