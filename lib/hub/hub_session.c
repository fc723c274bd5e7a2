/* hub_session.c — one backend connection: TLS, the WebSocket upgrade on /connect, keep-alive
 * (§1) and the bounded output queue every stream of the session shares. What the backend
 * says over the WebSocket is read in hub_sessmsg.c, the token handshake and re-auth (§2)
 * are in hub_auth.c. */
#include "hub/hub_int.h"
#include "hub/hub_mesh_int.h"
#include "core/log.h"
#include "core/sock.h"
#include "core/util.h"
#include "wire/ws_tls.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READS_PER_ROUND 64 /* then yield to other fds; a timer picks up what the engine holds */
#define CLOSE_GRACE_MS 2000

static void session_io(struct nx_loop *loop, int fd, unsigned events, void *arg);

static void set_interest(struct hub_session *s)
{
	if (!s->dead)
		nx_loop_mod(s->hub->loop, s->fd, s->tls ? nx_tls_want(s->tls) : NX_EV_READ);
}

/* ---- output ---------------------------------------------------------------------------- */

int hub_session_send(struct hub_session *s, enum nx_ws_opcode op, const void *a, size_t alen,
                     const void *b, size_t blen)
{
	if (s->dead || s->state == SESS_CLOSING)
		return -1;
	/* Before a session is live all it is sent is a challenge, a hello and pongs: a peer
	 * that pings without reading (any of a thousand pending connections) holds 64 KiB. */
	if (hub_buf_pending(&s->out) > (s->state == SESS_LIVE ? SESS_OUT_KILL : SESS_OUT_KILL_PENDING)) {
		hub_session_kill(s, "backend does not read (output queue overflow)");
		return -1;
	}
	struct nx_ws_out f;
	nx_ws_out_init(&f, op, a, alen, b, blen, NULL);
	size_t done = 0;
	/* nothing queued ahead of it: a big frame goes straight into the TLS records (one copy
	 * less), the rest to the queue (a write error is the next flush's to report) */
	if (alen + blen >= NX_WS_DIRECT_MIN && !hub_buf_pending(&s->out) && s->state != SESS_TLS &&
	    s->tls)
		nx_ws_out_tls(s->tls, &f, &done);
	if (done == f.total)
		return 0;
	uint8_t *p = hub_buf_reserve(&s->out, f.total - done);
	if (!p) {
		hub_session_kill(s, "out of memory");
		return -1;
	}
	nx_ws_out_copy(p, &f, done, f.total - done);
	return 0;
}

int hub_session_send_control(struct hub_session *s, const struct nx_hub_control *c)
{
	uint8_t msg[1024];
	int n = nx_hub_control_encode(c, msg, sizeof msg);
	if (n < 0)
		return -1;
	return hub_session_send(s, NX_WS_OP_BINARY, msg, (size_t)n, NULL, 0);
}

static void wake_streams(struct hub_session *s)
{
	s->out_blocked = 0;
	for (size_t i = 0; i < SESS_STREAM_BUCKETS && !s->dead; i++) {
		struct hub_stream *st = s->streams[i], *nx;
		for (; st; st = nx) {
			nx = st->sess_next;
			hub_stream_update(st);
			if (s->dead || hub_session_out_full(s))
				return;
		}
	}
}

void hub_session_flush(struct hub_session *s)
{
	if (s->dead || s->state == SESS_TLS)
		return;
	nx_timer_stop(s->hub->loop, &s->flush_timer);
	/* one contiguous queue: each write fills a record (sent with MSG_MORE when more
	 * follows) or takes the rest and seals it */
	while (hub_buf_pending(&s->out)) {
		ssize_t n = nx_tls_write(s->tls, s->out.p + s->out.off, hub_buf_pending(&s->out));
		if (n == NX_TLS_AGAIN || n == 0)
			break;
		if (n < 0) {
			char why[NX_ERRLEN];
			snprintf(why, sizeof why, "write: %s", nx_tls_error(s->tls));
			hub_session_kill(s, why);
			return;
		}
		hub_buf_consume(&s->out, (size_t)n);
	}
	if (s->state == SESS_CLOSING && !hub_buf_pending(&s->out)) {
		if (nx_tls_flush(s->tls) != NX_TLS_AGAIN) {
			hub_session_kill(s, NULL);
			return;
		}
	}
	if (s->out_blocked && hub_buf_pending(&s->out) < SESS_OUT_LOW)
		wake_streams(s);
	set_interest(s);
}

static void on_flush_timer(struct nx_loop *loop, void *arg) { hub_session_flush(arg); }

void hub_session_flush_soon(struct hub_session *s)
{
	if (!s->dead && !nx_timer_active(&s->flush_timer))
		nx_timer_start(s->hub->loop, &s->flush_timer, 0, on_flush_timer, s);
}

/* ---- stream table ---------------------------------------------------------------------- */

static unsigned id_bucket(const struct nx_uuid *id)
{
	/* v4 ids are random: their first bytes are a fine hash. */
	return ((unsigned)id->b[0] << 8 | id->b[1]) % SESS_STREAM_BUCKETS;
}

struct hub_stream *hub_session_find(struct hub_session *s, const struct nx_uuid *id)
{
	for (struct hub_stream *st = s->streams[id_bucket(id)]; st; st = st->sess_next)
		if (nx_uuid_equal(&st->id, id))
			return st;
	return NULL;
}

void hub_session_link(struct hub_session *s, struct hub_stream *st)
{
	unsigned b = id_bucket(&st->id);
	st->sess_next = s->streams[b];
	s->streams[b] = st;
	st->sess = s;
	s->n_streams++;
}

/* The hub's list of its sessions (each thread's hub its own). */
void hub_sessions_add(struct nx_hub *hub, struct hub_session *s)
{
	s->prev = NULL;
	s->next = hub->sessions;
	if (s->next)
		s->next->prev = s;
	hub->sessions = s;
}

void hub_sessions_remove(struct nx_hub *hub, struct hub_session *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		hub->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
}

void hub_session_unlink(struct hub_session *s, struct hub_stream *st)
{
	struct hub_stream **pp = &s->streams[id_bucket(&st->id)];
	for (; *pp; pp = &(*pp)->sess_next) {
		if (*pp == st) {
			*pp = st->sess_next;
			s->n_streams--;
			break;
		}
	}
	st->sess = NULL;
	st->sess_next = NULL;
}

/* ---- lifetime -------------------------------------------------------------------------- */

void hub_session_free(struct hub_session *s)
{
	nx_ws_reader_free(&s->ws);
	hub_buf_free(&s->in);
	hub_buf_free(&s->out);
	hub_buf_free(&s->carry);
	nx_route_claims_free(&s->claims);
	free(s);
}

void hub_session_kill(struct hub_session *s, const char *why)
{
	if (s->dead)
		return;
	struct nx_hub *hub = s->hub;
	int was_live = s->state == SESS_LIVE;
	s->dead = 1;
	hub_worker_session_gone(s);
	hub_verify_cancel(s);
	hub_hs_failed(s, s->state == SESS_TLS       ? HS_TLS
	                 : s->state == SESS_UPGRADE ? HS_UPGRADE
	                                            : HS_CLOSED);
	hub_session_unpend(s);
	hub_sessions_release(s);
	if (was_live) {
		hub_unregister_routes(hub, s);
		if (!s->mesh) /* a peer link is not a backend */
			hub->n_live--;
		char q[NX_ERRLEN + 8], b[160], kv[128];
		hub_log(hub, why ? 1 : 2, "backend session ended", "session=%llu backend=%s%s streams=%zu%s%s",
		        (unsigned long long)s->id, nx_log_q(b, sizeof b, s->claims.sub[0] ? s->claims.sub : "-"),
		        hub_backend_kv(s, kv, sizeof kv), s->n_streams, why ? " reason=" : "",
		        why ? nx_log_q(q, sizeof q, why) : "");
	} else if (why) {
		char q[NX_ERRLEN + 8];
		hub_log(hub, 3, "backend connection closed", "session=%llu peer=%s reason=%s",
		        (unsigned long long)s->id, s->peer, nx_log_q(q, sizeof q, why));
	}
	struct nx_loop *loop = hub->loop;
	nx_timer_stop(loop, &s->auth_timer);
	nx_timer_stop(loop, &s->ping_timer);
	nx_timer_stop(loop, &s->idle_timer);
	nx_timer_stop(loop, &s->reauth_timer);
	nx_timer_stop(loop, &s->read_timer);
	nx_timer_stop(loop, &s->flush_timer);
	/* Every stream of the session ends: its end user gets what we hold, then FIN. */
	for (size_t i = 0; i < SESS_STREAM_BUCKETS; i++) {
		while (s->streams[i]) {
			struct hub_stream *st = s->streams[i];
			hub_session_unlink(s, st);
			hub_stream_backend_gone(st);
		}
	}
	nx_loop_del(loop, s->fd);
	nx_tls_free(s->tls);
	s->tls = NULL;
	hub_creds_drop(s->creds);
	s->creds = NULL;
	close(s->fd);
	s->fd = -1;
	hub_sessions_remove(hub, s);
	s->grave_next = hub->grave_sessions;
	hub->grave_sessions = s;
	hub_schedule_reap(hub);
}

/* Refuse: a close frame with code and reason (≤ 123 bytes, cut by the encoder), then close
 * once it is out (or after a short grace, whichever first). */
void hub_session_fail(struct hub_session *s, uint16_t code, const char *reason)
{
	if (s->dead || s->state == SESS_CLOSING)
		return;
	hub_verify_cancel(s);
	hub_hs_failed(s, HS_REFUSED);
	hub_sessions_release(s); /* closing: it carries nothing any more */
	/* Anyone can knock and fail the handshake as often as they like: refusals before a
	 * session is live are hub_log_often; a live backend's refusal is always told. */
	char q[NX_ERRLEN + 8], kv[128];
	(s->state == SESS_LIVE ? hub_log : hub_log_often)(
	    s->hub, 1, "backend refused", "session=%llu peer=%s%s code=%u reason=%s",
	    (unsigned long long)s->id, s->peer, hub_backend_kv(s, kv, sizeof kv), code,
	    nx_log_q(q, sizeof q, reason));
	uint8_t frame[NX_WS_MAX_HEADER + NX_WS_MAX_CONTROL];
	size_t n = nx_ws_close_encode(frame, sizeof frame, code, reason, NULL);
	if (n)
		hub_buf_append(&s->out, frame, n);
	if (s->state == SESS_LIVE) {
		/* Leaving LIVE: take the routes away now, the streams go with the session. */
		for (size_t i = 0; i < SESS_STREAM_BUCKETS; i++) {
			while (s->streams[i]) {
				struct hub_stream *st = s->streams[i];
				hub_session_unlink(s, st);
				hub_stream_backend_gone(st);
			}
		}
		hub_unregister_routes(s->hub, s);
		if (!s->mesh)
			s->hub->n_live--;
	}
	s->state = SESS_CLOSING;
	nx_timer_stop(s->hub->loop, &s->ping_timer);
	nx_timer_stop(s->hub->loop, &s->idle_timer);
	nx_timer_stop(s->hub->loop, &s->reauth_timer);
	nx_timer_start(s->hub->loop, &s->auth_timer, CLOSE_GRACE_MS, hub_auth_deadline, s);
	hub_session_flush(s);
}

/* ---- timers ---------------------------------------------------------------------------- */

static void ping_tick(struct nx_loop *loop, void *arg)
{
	struct hub_session *s = arg;
	if (hub_session_send(s, NX_WS_OP_PING, NULL, 0, NULL, 0) == 0)
		hub_session_flush(s);
	if (!s->dead && s->state == SESS_LIVE)
		nx_timer_start(loop, &s->ping_timer, s->hub->cfg.ping_ms, ping_tick, s);
}

static void idle_check(struct nx_loop *loop, void *arg)
{
	struct hub_session *s = arg;
	uint64_t now = nx_loop_now(loop), quiet = now - s->last_rx;
	if (quiet >= s->hub->cfg.silent_ms) {
		hub_session_kill(s, "backend silent (keep-alive timeout)");
		return;
	}
	nx_timer_start(loop, &s->idle_timer, s->hub->cfg.silent_ms - quiet, idle_check, s);
}

void hub_session_start_keepalive(struct hub_session *s)
{
	nx_timer_start(s->hub->loop, &s->ping_timer, s->hub->cfg.ping_ms, ping_tick, s);
	nx_timer_start(s->hub->loop, &s->idle_timer, s->hub->cfg.silent_ms, idle_check, s);
}

/* ---- upgrade --------------------------------------------------------------------------- */

static void on_upgrade_bytes(struct hub_session *s, const uint8_t *buf, size_t len)
{
	if (hub_buf_append(&s->in, buf, len) < 0) {
		hub_session_kill(s, "out of memory");
		return;
	}
	struct nx_ws_request req;
	char err[NX_ERRLEN], resp[512];
	int r = nx_ws_server_parse_request((const char *)s->in.p + s->in.off, hub_buf_pending(&s->in),
	                                   NX_HUB_PATH, &req, err, sizeof err);
	if (r == NX_WS_DONE && req.status == 404 && hub_mesh_accepts(s->hub) &&
	    nx_ws_server_parse_request((const char *)s->in.p + s->in.off, hub_buf_pending(&s->in),
	                               NX_MESH_PATH, &req, err, sizeof err) == NX_WS_DONE)
		s->mesh = req.status == 101; /* a peer hub (hub_mesh_peer.c) */
	if (r == NX_WS_NEED)
		return;
	if (r == NX_WS_INVALID) {
		memset(&req, 0, sizeof req);
		req.status = 400;
	}
	int n = nx_ws_server_response(resp, sizeof resp, &req);
	if (n > 0)
		hub_buf_append(&s->out, resp, (size_t)n);
	if (req.status != 101) {
		hub_log(s->hub, 3, "upgrade refused", "session=%llu peer=%s status=%d",
		        (unsigned long long)s->id, s->peer, req.status);
		hub_hs_failed(s, HS_UPGRADE);
		s->state = SESS_CLOSING;
		nx_timer_start(s->hub->loop, &s->auth_timer, CLOSE_GRACE_MS, hub_auth_deadline, s);
		return;
	}
	s->state = SESS_AUTH0;
	nx_timer_start(s->hub->loop, &s->auth_timer, s->hub->cfg.auth_timeout_ms, hub_auth_deadline, s);
	size_t rest = hub_buf_pending(&s->in) - req.head_len;
	const uint8_t *after = s->in.p + s->in.off + req.head_len;
	if (rest)
		hub_session_on_ws(s, after, rest);
	if (!s->dead)
		hub_buf_free(&s->in);
}

/* ---- I/O ------------------------------------------------------------------------------- */

static void continue_read(struct nx_loop *loop, void *arg);

static void session_read(struct hub_session *s)
{
	for (int i = 0; i < READS_PER_ROUND && !s->dead && !s->moving; i++) {
		const uint8_t *buf; /* in the engine: the WebSocket reader copies what it keeps */
		ssize_t n = nx_tls_peek(s->tls, &buf);
		if (n == NX_TLS_AGAIN)
			return;
		if (n <= 0) {
			if (s->state == SESS_CLOSING)
				hub_session_kill(s, NULL);
			else if (n == NX_TLS_EOF)
				hub_session_kill(s, s->state == SESS_LIVE ? "backend closed the connection" : "peer closed");
			else {
				char why[NX_ERRLEN];
				snprintf(why, sizeof why, "tls: %s", nx_tls_error(s->tls));
				hub_session_kill(s, why);
			}
			return;
		}
		s->last_rx = nx_loop_now(s->hub->loop);
		if (s->state == SESS_UPGRADE)
			on_upgrade_bytes(s, buf, (size_t)n);
		else if (s->state != SESS_CLOSING)
			hub_session_on_ws(s, buf, (size_t)n);
		if (s->tls) /* not killed meanwhile (that frees it) */
			nx_tls_consume(s->tls, (size_t)n);
	}
	/* A busy backend: let other fds run, then continue with what the engine holds. */
	if (!s->dead && !s->moving && nx_tls_pending(s->tls))
		nx_timer_start(s->hub->loop, &s->read_timer, 0, continue_read, s);
}

static void continue_read(struct nx_loop *loop, void *arg)
{
	struct hub_session *s = arg;
	if (s->dead)
		return;
	session_read(s);
	hub_session_flush(s);
}

static void session_io(struct nx_loop *loop, int fd, unsigned events, void *arg)
{
	struct hub_session *s = arg;
	if (s->state == SESS_TLS) {
		if (events & NX_EV_READ) { /* not idle: the handshake is moving */
			s->last_rx = nx_loop_now(loop);
			s->spoke = 1;
		}
		if (!s->tls) {
			char err[NX_ERRLEN];
			if (!(s->tls = nx_tls_server_new(s->creds->c, fd, NULL, err, sizeof err)) ||
			    hub_mesh_tls_server(s->hub, s->tls, err, sizeof err) < 0) {
				char why[NX_ERRLEN + 16];
				snprintf(why, sizeof why, "tls setup: %s", err);
				hub_session_kill(s, why);
				return;
			}
		}
		int r = nx_tls_handshake(s->tls);
		if (r == NX_TLS_AGAIN) {
			set_interest(s);
			return;
		}
		if (r != 1) {
			char why[NX_ERRLEN];
			snprintf(why, sizeof why, "tls handshake: %s", nx_tls_error(s->tls));
			hub_session_kill(s, why);
			return;
		}
		s->state = SESS_UPGRADE;
	}
	session_read(s);
	if (!s->dead)
		hub_session_flush(s);
}

void hub_session_adopt(struct nx_hub *hub, struct hub_session *s)
{
	s->hub = hub;
	s->moving = 0;
	hub_sessions_add(hub, s);
	s->last_rx = nx_loop_now(hub->loop);
	if (nx_loop_add(hub->loop, s->fd, NX_EV_READ, session_io, s) < 0) {
		hub_session_kill(s, "cannot watch the connection");
		return;
	}
	set_interest(s);
	hub_auth_live(s);
	if (!s->dead && hub_buf_pending(&s->carry)) {
		struct hub_buf b = s->carry;
		memset(&s->carry, 0, sizeof s->carry);
		hub_session_on_ws(s, b.p + b.off, hub_buf_pending(&b));
		hub_buf_free(&b);
	}
	if (!s->dead) { /* what the TLS engine holds already, then the socket */
		nx_timer_start(hub->loop, &s->read_timer, 0, continue_read, s);
		hub_session_flush(s);
	}
}

void hub_session_accept(struct nx_hub *hub, int fd)
{
	if (!hub->creds) { /* --acme-directory without --cert: no certificate yet */
		hub_log(hub, NX_LOG_DEBUG, "tls setup failed",
		        "reason=\"no certificate yet (ACME has not got one)\"");
		close(fd);
		return;
	}
	struct nx_src src;
	int has_src = nx_src_of_fd(fd, &src) == 0;
	if (hub_admit(hub, fd, &src, has_src) < 0) {
		close(fd);
		return;
	}
	struct hub_session *s = calloc(1, sizeof *s);
	if (!s) {
		close(fd);
		return;
	}
	s->hub = hub;
	s->fd = fd;
	s->id = ++hub->next_session_id;
	/* Many small frames (credit grants, short replies) share this socket: without NODELAY,
	 * Nagle and delayed ACKs hold them back for tens of milliseconds. */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	nx_peer_addr(fd, s->peer, sizeof s->peer, NULL, NULL);
	/* The TLS engine and its 33 KiB of buffers wait for the first byte (session_io): a
	 * connection that never speaks costs only this struct and the kernel's socket. */
	nx_ws_reader_init(&s->ws, NX_WS_SERVER, NX_HUB_MAX_MESSAGE);
	s->last_rx = nx_loop_now(hub->loop);
	if (nx_loop_add(hub->loop, fd, NX_EV_READ, session_io, s) < 0) {
		close(fd);
		free(s);
		return;
	}
	s->creds = hub_creds_hold(hub->creds);
	hub_sessions_add(hub, s);
	hub_session_pend(s, has_src ? &src : NULL);
	/* TLS and the upgrade together get one (short) deadline; each token stage its own. */
	nx_timer_start(hub->loop, &s->auth_timer, hub->cfg.handshake_timeout_ms, hub_auth_deadline, s);
}
