/* tunnel.c — nexus-tunnel's session with the hub: dial, TLS, upgrade, keep-alive,
 * backoff, SIGHUP and SIGUSR1. What the hub says (the two-stage auth, stream messages) is
 * read in tunnel_hubmsg.c, streams start in tunnel_open.c and run in tunnel_stream.c,
 * tokens are made in tunnel_token.c. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "token/keys.h"
#include "core/promtext.h"
#include "core/random.h"
#include "core/sock.h"
#include "tunnel/tunnel_int.h"
#include "core/units.h"
#include "core/util.h"
#include "wire/metrics_http.h"
#include "wire/ws_tls.h"

#define DEFAULT_BACKOFF_MIN_MS 1000
#define DEFAULT_BACKOFF_MAX_MS 30000
/* A session that served this long resets the backoff and is followed by a reconnect at
 * once: the next failure is a new story. */
#define BACKOFF_RESET_AFTER_MS 5000

static const char *const CLIENT_ALPN[] = {"http/1.1", NULL};

/* ---- small helpers --------------------------------------------------------------------- */

static void say(struct tunnel *t, enum nx_log_level lvl, uint64_t times, const char *fmt,
                va_list ap)
{
	char line[1024];
	int n = 0;
	if (t->index > 0) /* --connections: which one speaks (the first is the voice) */
		n = snprintf(line, sizeof line, "connection %zu/%zu: ", t->index + 1, t->grp->n);
	n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	if (times > 1 && (size_t)n < sizeof line)
		snprintf(line + n, sizeof line - (size_t)n, " (%llu times)", (unsigned long long)times);
	t->cfg->log(t->cfg->log_arg, lvl, line, NULL);
}

void tunnel_say(struct tunnel *t, enum nx_log_level lvl, const char *fmt, ...)
{
	if (!t->cfg->log)
		return;
	va_list ap;
	va_start(ap, fmt);
	say(t, lvl, 1, fmt, ap);
	va_end(ap);
}

void tunnel_say_often(struct tunnel *t, enum nx_log_level lvl, const char *fmt, ...)
{
	uint64_t times = nx_rates_note(&t->often, fmt, nx_loop_now(t->loop), 1000, NX_RATES_BURST);
	if (!t->cfg->log || !times)
		return;
	va_list ap;
	va_start(ap, fmt);
	say(t, lvl, times, fmt, ap);
	va_end(ap);
}

int tunnel_random(void *buf, size_t n) { return nx_random_bytes(buf, n, NULL, 0); }

/* ---- output to the hub ----------------------------------------------------------------- */

int tunnel_send_frame(struct tunnel *t, enum nx_ws_opcode op, const void *a, size_t alen,
                      const void *b, size_t blen)
{
	if (t->fd < 0 || t->state < T_UPGRADE || t->write_dead)
		return -1;
	uint8_t mask[4];
	if (nx_random_mask(mask) < 0) {
		tunnel_fail(t, "no random bytes for a WebSocket mask");
		return -1;
	}
	struct nx_ws_out f;
	nx_ws_out_init(&f, op, a, alen, b, blen, mask);
	size_t done = 0;
	/* nothing queued ahead of it: a big frame goes straight into the TLS records (one copy
	 * less), the rest, if the socket does not take it all, to the queue (a write error is
	 * the queue's next write to report) */
	if (alen + blen >= NX_WS_DIRECT_MIN && nx_chunkq_empty(&t->out) && t->tls)
		nx_ws_out_tls(t->tls, &f, &done);
	if (done == f.total)
		return 0;
	uint8_t *p = nx_chunkq_push(&t->out, f.total - done);
	if (!p) {
		tunnel_fail(t, "out of memory");
		return -1;
	}
	nx_ws_out_copy(p, &f, done, f.total - done); /* copied and masked in one pass */
	if (t->out.bytes > TUNNEL_OUT_HIGH)
		t->out_blocked = true;
	return 0;
}

static void set_interest(struct tunnel *t)
{
	if (t->fd < 0)
		return;
	unsigned ev = t->state == T_DIALING ? NX_EV_WRITE : t->tls ? nx_tls_want(t->tls) : 0;
	nx_loop_mod(t->loop, t->fd, ev);
}

void tunnel_flush(struct tunnel *t)
{
	if (t->fd < 0 || !t->tls)
		return;
	nx_timer_stop(t->loop, &t->flush_timer);
	const uint8_t *p;
	size_t n;
	while ((n = nx_chunkq_front(&t->out, &p)) > 0) {
		/* frames share records; the last one of the queue seals the record (AGAIN comes
		 * only while a sealed record waits, so nothing is left unsealed) */
		ssize_t w = nx_tls_write_more(t->tls, p, n, t->out.bytes > n);
		if (w == NX_TLS_AGAIN)
			break;
		if (w < 0) {
			/* the hub may have hung up after saying why (close 1008 + reason): keep
			 * reading, that reason is what the user needs; the read side ends it */
			if (!t->write_dead)
				snprintf(t->write_err, sizeof t->write_err, "%s", nx_tls_error(t->tls));
			t->write_dead = true;
			nx_chunkq_clear(&t->out);
			set_interest(t);
			if (!nx_tls_want(t->tls))
				tunnel_fail(t, t->write_err);
			return;
		}
		nx_chunkq_consume(&t->out, (size_t)w);
	}
	if (t->out_blocked && t->out.bytes < TUNNEL_OUT_LOW) {
		t->out_blocked = false;
		streams_resume_reading(t);
	}
	set_interest(t);
}

static void on_flush_timer(struct nx_loop *loop, void *arg) { tunnel_flush(arg); }

void tunnel_flush_soon(struct tunnel *t)
{
	if (t->fd >= 0 && t->tls && !nx_timer_active(&t->flush_timer))
		nx_timer_start(t->loop, &t->flush_timer, 0, on_flush_timer, t);
}

/* ---- session life ---------------------------------------------------------------------- */

static void on_hub_io(struct nx_loop *loop, int fd, unsigned events, void *arg);

static void on_reconnect(struct nx_loop *loop, void *arg) { tunnel_session_start(arg); }

static void schedule_reconnect(struct tunnel *t)
{
	if (t->backoff_ms == 0 && t->ever_served) {
		/* the session that just ended had served a while: no reason to wait */
		tunnel_say(t, NX_LOG_INFO, "reconnecting now");
		nx_notify_status("not connected, reconnecting");
		nx_timer_start(t->loop, &t->reconnect, 0, on_reconnect, t);
		t->backoff_ms = 1; /* the next failure before serving waits the minimum */
		return;
	}
	uint64_t min = t->cfg->backoff_min_ms ? t->cfg->backoff_min_ms : DEFAULT_BACKOFF_MIN_MS;
	uint64_t max = t->cfg->backoff_max_ms ? t->cfg->backoff_max_ms : DEFAULT_BACKOFF_MAX_MS;
	if (t->backoff_ms < min)
		t->backoff_ms = min;
	/* jitter: somewhere in the upper half, so a fleet that lost its hub does not return
	 * in lockstep */
	uint32_t r = 0;
	tunnel_random(&r, sizeof r);
	uint64_t half = t->backoff_ms / 2;
	uint64_t delay = half + (half ? r % (half + 1) : 0);
	char d[32];
	tunnel_say(t, NX_LOG_INFO, "reconnecting in %s", nx_fmt_duration(d, sizeof d, delay));
	nx_notify_status("not connected, next attempt in %s", d);
	nx_timer_start(t->loop, &t->reconnect, delay, on_reconnect, t);
	t->backoff_ms = t->backoff_ms * 2 > max ? max : t->backoff_ms * 2;
}

/* Tear the session down now. Only from timer/IO callbacks of the session itself (never
 * from inside a stream callback: those go through tunnel_fail). */
static void session_end(struct tunnel *t)
{
	uint64_t now = nx_loop_now(t->loop);
	if (t->state == T_SERVING && now - t->serving_since >= BACKOFF_RESET_AFTER_MS)
		t->backoff_ms = 0;
	streams_close_all(t);
	token_cancel(t);
	nx_timer_stop(t->loop, &t->ping);
	nx_timer_stop(t->loop, &t->idle);
	nx_timer_stop(t->loop, &t->endtimer);
	nx_timer_stop(t->loop, &t->flush_timer);
	if (t->fd >= 0) {
		nx_loop_del(t->loop, t->fd);
		close(t->fd);
		t->fd = -1;
	}
	nx_tls_free(t->tls);
	t->tls = NULL;
	nx_ws_reader_free(&t->rd);
	nx_chunkq_clear(&t->out);
	t->out_blocked = false;
	t->state = T_IDLE;
	t->failing = false;
	if (t->stopping)
		tunnel_group_stopped(t);
	else
		schedule_reconnect(t);
}

static void on_end_timer(struct nx_loop *loop, void *arg) { session_end(arg); }

void tunnel_refused(struct tunnel *t, const char *why, const char *hint)
{
	if (t->failing || t->state == T_IDLE)
		return;
	if (t->ever_served || t->cfg->retry || t->stopping) {
		char line[sizeof t->fatal];
		snprintf(line, sizeof line, "%s: %s", why, hint);
		tunnel_fail(t, line);
		return;
	}
	/* never served: this tunnel's configuration is wrong, retrying forever hides it */
	snprintf(t->fatal, sizeof t->fatal, "%s: %s (--retry keeps trying)", why, hint);
	t->exit_code = 1;
	t->stopping = true;
	tunnel_fail(t, NULL);
}

void tunnel_fail(struct tunnel *t, const char *why)
{
	if (t->failing || t->state == T_IDLE)
		return;
	t->failing = true;
	if (why && *why)
		tunnel_say(t, t->stopping ? NX_LOG_DEBUG : NX_LOG_WARN, "session ended: %s", why);
	if (t->fd >= 0)
		nx_loop_mod(t->loop, t->fd, 0);
	/* the end runs from a fresh loop round: whoever called us may still hold a stream */
	nx_timer_start(t->loop, &t->endtimer, 0, on_end_timer, t);
}

static void on_idle(struct nx_loop *loop, void *arg)
{
	struct tunnel *t = arg;
	char d[32];
	uint64_t idle = t->cfg->idle_ms ? t->cfg->idle_ms : NX_TUNNEL_IDLE_MS;
	char why[96];
	snprintf(why, sizeof why, "hub silent for %s", nx_fmt_duration(d, sizeof d, idle));
	tunnel_fail(t, t->write_dead ? t->write_err : why);
}

static void on_ping(struct nx_loop *loop, void *arg)
{
	struct tunnel *t = arg;
	if (t->failing)
		return;
	tunnel_send_frame(t, NX_WS_OP_PING, NULL, 0, NULL, 0);
	tunnel_flush(t);
	nx_timer_start(loop, &t->ping, t->cfg->ping_ms ? t->cfg->ping_ms : NX_TUNNEL_PING_MS,
	               on_ping, t);
}

static void touch_idle(struct tunnel *t)
{
	nx_timer_start(t->loop, &t->idle, t->cfg->idle_ms ? t->cfg->idle_ms : NX_TUNNEL_IDLE_MS,
	               on_idle, t);
}

void tunnel_session_start(struct tunnel *t)
{
	char err[NX_ERRLEN];
	t->stats.dials++;
	streams_resolve_targets(t);
	t->fd = nx_dial_tcp(t->url.dial, err, sizeof err);
	if (t->fd < 0) {
		tunnel_say(t, NX_LOG_WARN, "cannot reach the hub at %s: %s", t->url.dial, err);
		schedule_reconnect(t);
		return;
	}
	t->state = T_DIALING;
	t->head_len = 0;
	t->half_close = false;
	t->initial_window = false;
	t->confirm_pending = false;
	t->write_dead = false;
	nx_ws_reader_init(&t->rd, NX_WS_CLIENT, tunnel_max_frame(t));
	if (nx_loop_add(t->loop, t->fd, NX_EV_WRITE, on_hub_io, t) < 0) {
		tunnel_say(t, NX_LOG_ERROR, "event loop refused the hub socket");
		close(t->fd);
		t->fd = -1;
		t->state = T_IDLE;
		schedule_reconnect(t);
		return;
	}
	touch_idle(t); /* also bounds the dial, TLS and upgrade time */
}

/* ---- the WebSocket upgrade ------------------------------------------------------------ */

static void on_upgrade_bytes(struct tunnel *t, const uint8_t *p, size_t n)
{
	size_t room = sizeof t->head - t->head_len;
	size_t take = n < room ? n : room;
	memcpy(t->head + t->head_len, p, take);
	t->head_len += take;
	size_t hl;
	int status = 0;
	char err[NX_ERRLEN];
	int r = nx_ws_client_parse_response(t->head, t->head_len, t->ws_key, &hl, &status, err,
	                                    sizeof err);
	if (r == NX_WS_NEED)
		return;
	if (r == NX_WS_INVALID) {
		if (nx_tunnel_http_permanent(status))
			tunnel_refused(t, err, nx_tunnel_hint_http(status));
		else
			tunnel_fail(t, err);
		return;
	}
	t->state = T_AUTH0;
	nx_timer_start(t->loop, &t->ping, t->cfg->ping_ms ? t->cfg->ping_ms : NX_TUNNEL_PING_MS,
	               on_ping, t);
	if (token_start(t, STAGE_HANDSHAKE, "") < 0) {
		tunnel_fail(t, "cannot start the handshake token");
		return;
	}
	/* bytes after the head are already frames (and beyond what fit, still unread) */
	size_t extra = t->head_len - hl;
	if (extra)
		tunnel_feed_ws(t, (const uint8_t *)t->head + hl, extra);
	if (take < n)
		tunnel_feed_ws(t, p + take, n - take);
}

static void send_upgrade(struct tunnel *t)
{
	uint8_t nonce[16];
	char req[1024];
	tunnel_random(nonce, sizeof nonce);
	nx_ws_make_key(nonce, t->ws_key);
	int n = nx_ws_client_request(req, sizeof req, t->url.host_header, t->url.path, t->ws_key,
	                             NULL);
	if (n < 0 || nx_chunkq_push_copy(&t->out, req, (size_t)n) < 0) {
		tunnel_fail(t, "cannot build the upgrade request");
		return;
	}
	t->state = T_UPGRADE;
	tunnel_flush(t);
}

static void hub_read(struct tunnel *t)
{
	while (!t->failing) {
		const uint8_t *buf; /* in the engine (a failing session frees it a round later) */
		ssize_t n = nx_tls_peek(t->tls, &buf);
		if (n == NX_TLS_AGAIN)
			return;
		if (n == NX_TLS_EOF) {
			tunnel_fail(t, t->state == T_UPGRADE
			                   ? "hub closed the connection instead of answering the upgrade"
			               : t->state < T_SERVING
			                   ? "hub closed the connection during the handshake (token refused?)"
			                   : "hub closed the connection");
			return;
		}
		if (n < 0) {
			tunnel_fail(t, nx_tls_error(t->tls));
			return;
		}
		touch_idle(t);
		if (t->state == T_UPGRADE)
			on_upgrade_bytes(t, buf, (size_t)n);
		else
			tunnel_feed_ws(t, buf, (size_t)n);
		nx_tls_consume(t->tls, (size_t)n);
	}
}

static void on_hub_io(struct nx_loop *loop, int fd, unsigned events, void *arg)
{
	struct tunnel *t = arg;
	char err[NX_ERRLEN];
	if (t->failing)
		return;
	if (t->state == T_DIALING) {
		if (nx_connect_result(fd, err, sizeof err) < 0) {
			char why[NX_ERRLEN + 400];
			snprintf(why, sizeof why, "cannot reach the hub at %s: %s", t->url.dial, err);
			tunnel_fail(t, why);
			return;
		}
		const char *name = t->cfg->server_name ? t->cfg->server_name : t->url.host;
		t->tls = nx_tls_client_new(t->trust, fd, name, CLIENT_ALPN, err, sizeof err);
		if (!t->tls) {
			tunnel_fail(t, err);
			return;
		}
		t->state = T_TLS;
	}
	if (t->state == T_TLS) {
		int r = nx_tls_handshake(t->tls);
		if (r == NX_TLS_AGAIN) {
			set_interest(t);
			return;
		}
		if (r != 1) {
			char why[NX_ERRLEN + 400];
			snprintf(why, sizeof why, "TLS with %s failed: %s", t->url.dial,
			         nx_tls_error(t->tls));
			int e = nx_tls_last_br_error(t->tls);
			if (nx_tunnel_cert_permanent(e))
				tunnel_refused(t, why, nx_tunnel_hint_cert(e));
			else
				tunnel_fail(t, why);
			return;
		}
		send_upgrade(t);
	}
	tunnel_flush(t);
	if (!t->failing)
		hub_read(t);
	if (!t->failing)
		tunnel_flush(t);
}

/* ---- reload ---------------------------------------------------------------------------- */

/* SIGHUP: new targets for new streams. A stream keeps the target it was given (its own
 * copy and its own socket), so nothing in flight notices. Names in the new targets are
 * looked up now, once, as at session start. */
void tunnel_reload(struct tunnel *t)
{
	char err[NX_ERRLEN], line[900];
	struct nx_tunnel_targets n = {0};
	if (!t->live.reload) {
		tunnel_say(t, NX_LOG_INFO, "SIGHUP ignored: nothing to reload");
		return;
	}
	if (t->live.reload(t->live.reload_arg, &n, err, sizeof err) < 0) {
		tunnel_say(t, NX_LOG_ERROR, "reload refused, keeping the running configuration: %s",
		           err);
		return;
	}
	struct resolved_target *res = calloc(n.n_map + 1, sizeof *res);
	if (!res) {
		if (n.free_mem)
			n.free_mem(n.mem);
		tunnel_say(t, NX_LOG_ERROR, "reload refused, keeping the running configuration: %s",
		           "out of memory");
		return;
	}
	if (t->reloaded.free_mem)
		t->reloaded.free_mem(t->reloaded.mem);
	t->reloaded = n;
	t->live.map = n.map;
	t->live.n_map = n.n_map;
	t->live.to = n.to;
	t->live.proxy = n.proxy;
	free(t->resolved);
	t->resolved = res;
	streams_resolve_targets(t);
	t->reloads++;
	nx_tunnel_describe(t->cfg, line, sizeof line);
	tunnel_say(t, NX_LOG_INFO, "reloaded: serving %s (%zu streams in flight keep their targets)",
	           line, t->n_streams);
}

/* ---- status ---------------------------------------------------------------------------- */

static const char *state_name(const struct tunnel *t)
{
	static const char *const names[] = {"idle",   "dialing", "tls",     "upgrade",
	                                    "auth",   "auth",    "serving", "closing"};
	if (t->failing)
		return "ending";
	if (t->state == T_SERVING && t->confirm_pending)
		return "auth";
	return names[t->state];
}

/* SIGUSR1: one line saying how things stand. */
void tunnel_say_status(struct tunnel *t)
{
	char since[32] = "-";
	if (t->state == T_SERVING && !t->confirm_pending)
		nx_fmt_duration(since, sizeof since, nx_loop_now(t->loop) - t->serving_since);
	const struct tunnel_stats *st = &t->stats;
	tunnel_say(t, NX_LOG_INFO,
	           "status: session=%s for=%s streams=%zu streams_total=%llu refused=%llu "
	           "bytes_from_hub=%llu bytes_to_hub=%llu sessions=%llu reconnects=%llu reloads=%llu",
	           state_name(t), since, t->n_streams, (unsigned long long)st->streams_total,
	           (unsigned long long)st->streams_refused, (unsigned long long)st->bytes_from_hub,
	           (unsigned long long)st->bytes_to_hub, (unsigned long long)st->sessions_served,
	           (unsigned long long)(st->dials ? st->dials - 1 : 0),
	           (unsigned long long)t->reloads);
}

/* The SIGTERM path of one session: say goodbye to the hub, end the session. */
void tunnel_stop(struct tunnel *t, int signo)
{
	if (t->stopping)
		return;
	t->stopping = true;
	tunnel_say(t, NX_LOG_INFO, "stopping (%s)", strsignal(signo));
	if (t->state == T_IDLE) {
		nx_timer_stop(t->loop, &t->reconnect);
		tunnel_group_stopped(t);
		return;
	}
	if (t->state == T_SERVING && !t->failing)
		streams_shutdown(t);
	if (t->state >= T_AUTH0) {
		/* say goodbye: going away, and TLS close_notify */
		uint8_t body[2] = {NX_WS_CLOSE_GOING_AWAY >> 8, NX_WS_CLOSE_GOING_AWAY & 0xff};
		tunnel_send_frame(t, NX_WS_OP_CLOSE, body, 2, NULL, 0);
		tunnel_flush(t);
		if (t->tls && !t->failing)
			nx_tls_close(t->tls);
	}
	tunnel_fail(t, "stopping");
}

bool tunnel_up(const struct tunnel *t)
{
	return t->state == T_SERVING && !t->confirm_pending && !t->failing;
}

int nx_tunnel_check(const struct nx_tunnel_cfg *cfg, char *err, size_t errlen)
{
	struct nx_hub_url url;
	if (nx_tunnel_parse_url(cfg->hub_url, &url, err, errlen) < 0)
		return -1;
	struct nx_tls_trust *trust = nx_tls_trust_load(cfg->ca_file, err, errlen);
	if (!trust)
		return -1;
	nx_tls_trust_free(trust);
	if (cfg->secret_file) {
		struct nx_key *key;
		if (nx_key_load_file(cfg->secret_file, &key, err, errlen) < 0)
			return -1;
		bool ok = nx_key_can_sign(key);
		nx_key_free(key);
		if (!ok)
			return nx_err(err, errlen, "%s: a public key cannot sign tokens", cfg->secret_file);
	} else if (!cfg->token_cmd) {
		return nx_err(err, errlen, "no way to make tokens (secret file or token command)");
	}
	return 0;
}
