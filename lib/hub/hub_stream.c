/* hub_stream.c — one end-user connection carried over a backend session (§3, §4).
 *
 * Up (end user → backend): the fd is read only while the stream has credits, the session's
 * output queue has room and the end user has not sent FIN; each read becomes one data frame
 * of at most 32 KiB. Down (backend → end user): frames are written at once when the socket
 * takes them, the rest waits in a per-stream queue bounded by the credit window; a credit
 * goes back for each frame written in full, in batches. So a stream whose end user never
 * reads holds at most its window, and nothing it does stops the other streams.
 * Every recv and send on the fd says MSG_DONTWAIT: a handed-over socket keeps the file
 * flags the relay gave it, and making sure of O_NONBLOCK would cost a fcntl per stream. */
#include "hub/hub_int.h"
#include "core/random.h"
#include "core/units.h"
#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define STREAM_GRACE_MS 5000 /* after the backend ended: how long an idle end user may linger */
#define READS_PER_ROUND 4

static void stream_idle(struct nx_loop *loop, void *arg);

static uint64_t now_ms(const struct hub_stream *st) { return nx_loop_now(st->hub->loop); }

static int session_live(const struct hub_stream *st)
{
	return st->sess && !st->sess->dead && st->sess->state == SESS_LIVE;
}

static int can_read_user(struct hub_stream *st)
{
	if (st->dead || st->user_eof || st->backend_done || !session_live(st))
		return 0;
	if (!nx_credits_can_send(&st->cr)) {
		if (!st->stalled)
			st->hub->ctr.credit_stalls++;
		st->stalled = 1;
		return 0;
	}
	st->stalled = 0;
	if (hub_session_out_full(st->sess)) {
		st->sess->out_blocked = 1;
		return 0;
	}
	return 1;
}

void hub_stream_update(struct hub_stream *st)
{
	if (st->dead || st->udp) /* a UDP flow has no fd to watch (hub_udp.c) */
		return;
	unsigned ev = 0;
	if (st->q_head)
		ev |= NX_EV_WRITE;
	if (st->backend_done ? !st->user_eof : can_read_user(st))
		ev |= NX_EV_READ;
	else if (!st->backend_done && !st->user_eof && !st->user_fin)
		ev |= NX_EV_HUP; /* paused (no credits, full session queue): still see a hang-up */
	if (nx_loop_events(st->hub->loop, st->fd) != ev)
		nx_loop_mod(st->hub->loop, st->fd, ev);
}

static void send_control(struct hub_stream *st, enum nx_hub_event ev, int64_t credits)
{
	if (!session_live(st))
		return;
	struct nx_hub_control c = {.event = ev, .client_id = st->id, .credits = credits};
	hub_session_send_control(st->sess, &c);
}

/* ---- lifetime -------------------------------------------------------------------------- */

void hub_stream_free(struct hub_stream *st)
{
	struct hub_chunk *c = st->q_head;
	while (c) {
		struct hub_chunk *nx = c->next;
		free(c);
		c = nx;
	}
	free(st);
}

void hub_stream_kill(struct hub_stream *st, int tell_backend)
{
	if (st->dead)
		return;
	struct nx_hub *hub = st->hub;
	st->dead = 1;
	if (st->sess) {
		if (tell_backend)
			send_control(st, NX_HUB_EV_DISCONNECT, 0);
		hub_session_unlink(st->sess, st);
	}
	hub->ctr.bytes_up += st->up_bytes;
	hub->ctr.bytes_down += st->down_bytes;
	/* why it ended, when no caller said: who finished first */
	const char *why = st->why            ? st->why
	                  : st->backend_done ? (st->user_eof ? "done" : "backend_closed")
	                  : st->user_eof     ? "user_closed"
	                  : tell_backend     ? "user_error"
	                                     : "backend_closed";
	char dur[32];
	nx_fmt_duration(dur, sizeof dur, nx_loop_now(hub->loop) - st->opened);
	hub_log(hub, 3, "stream closed",
	        "stream=%s route=%s client=%s up=%llu down=%llu duration=%s reason=%s", st->id_text,
	        st->route, st->client, (unsigned long long)st->up_bytes,
	        (unsigned long long)st->down_bytes, dur, why);
	nx_timer_stop(hub->loop, &st->idle_timer);
	if (st->udp) {
		hub_udp_flow_gone(st);
	} else {
		nx_loop_del(hub->loop, st->fd);
		close(st->fd);
	}
	if (st->counted)
		hub_streams_release(hub, st->client);
	st->fd = -1;
	hub->buffered -= st->q_bytes;
	if (st->prev)
		st->prev->next = st->next;
	else
		hub->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	hub->n_streams--;
	st->grave_next = hub->grave_streams;
	hub->grave_streams = st;
	hub_schedule_reap(hub);
}

/* ---- down: backend → end user ---------------------------------------------------------- */

static void frame_delivered(struct hub_stream *st)
{
	uint32_t k = nx_credits_delivered(&st->cr);
	if (k)
		send_control(st, NX_HUB_EV_RESUME_STREAM, k);
}

/* Write what is queued; FIN once empty if the backend is done writing. 0, or -1 if the
 * stream died. */
static int write_queue(struct hub_stream *st)
{
	while (st->q_head) {
		struct hub_chunk *c = st->q_head;
		if (c->off < c->len) {
			ssize_t n = send(st->fd, c->data + c->off, c->len - c->off,
			                 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
					break;
				hub_stream_kill(st, 1);
				return -1;
			}
			c->off += (size_t)n;
			st->down_bytes += (uint64_t)n;
			st->last_active = now_ms(st);
			if (c->off < c->len)
				break;
		}
		st->q_head = c->next;
		if (!st->q_head)
			st->q_tail = NULL;
		st->q_bytes -= c->len;
		st->hub->buffered -= c->len;
		free(c);
		frame_delivered(st);
	}
	if (!st->q_head && (st->backend_done || st->backend_shut) && !st->user_shut) {
		shutdown(st->fd, SHUT_WR);
		st->user_shut = 1;
	}
	if (st->backend_done && st->user_shut && st->user_eof) {
		hub_stream_kill(st, 0);
		return -1;
	}
	return 0;
}

/* Over this loop's share of --max-buffered, the streams holding the most for an end user
 * that does not read go, the biggest first: a client that stops reading cannot make the
 * hub hold more than that, however many streams it opens; clients that read hold little. */
static void shed_biggest(struct nx_hub *hub, uint64_t share)
{
	while (hub->buffered > share) {
		struct hub_stream *big = NULL;
		for (struct hub_stream *x = hub->streams; x; x = x->next)
			if (!x->dead && x->q_bytes && (!big || x->q_bytes > big->q_bytes))
				big = x;
		if (!big)
			return;
		hub_log_often(hub, 1, "stream shed: its end user does not read and the hub's buffers are full",
		              "stream=%s route=%s client=%s queued=%zu max_buffered=%llu", big->id_text,
		              big->route, big->client, big->q_bytes,
		              (unsigned long long)hub->cfg.max_buffered);
		big->why = "buffers_full";
		hub_stream_kill(big, 1);
	}
}

void hub_stream_on_data(struct hub_stream *st, const uint8_t *data, size_t len)
{
	if (st->dead || st->user_shut)
		return;
	if (st->udp) {
		hub_udp_flow_on_data(st, data, len);
		return;
	}
	nx_credits_received(&st->cr); /* an overrun is tolerated up to STREAM_Q_MAX bytes */
	st->last_active = now_ms(st);
	size_t off = 0;
	if (!st->q_head && len) { /* the usual case: straight to the socket, no copy */
		ssize_t n = send(st->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			hub_stream_kill(st, 1);
			return;
		}
		if (n > 0) {
			off = (size_t)n;
			st->down_bytes += (uint64_t)n;
		}
	}
	if (off == len && !st->q_head) {
		frame_delivered(st);
		hub_stream_update(st);
		return;
	}
	if (st->q_bytes + len > STREAM_Q_MAX) {
		hub_log_often(st->hub, 1, "stream dropped: backend overran its credits", "stream=%s route=%s",
		        st->id_text, st->route);
		st->why = "credit_overrun";
		hub_stream_kill(st, 1);
		return;
	}
	struct hub_chunk *c = malloc(sizeof *c + len);
	if (!c) {
		hub_stream_kill(st, 1);
		return;
	}
	c->next = NULL;
	c->len = len;
	c->off = off;
	memcpy(c->data, data, len);
	if (st->q_tail)
		st->q_tail->next = c;
	else
		st->q_head = c;
	st->q_tail = c;
	st->q_bytes += len;
	st->hub->buffered += len;
	hub_stream_update(st);
	struct nx_hub *hub = st->hub;
	size_t loops = hub->main_hub ? hub->main_hub->n_workers : hub->n_workers;
	uint64_t share = hub->cfg.max_buffered / (loops ? loops : 1);
	if (hub->buffered > share)
		shed_biggest(hub, share);
}

void hub_stream_on_control(struct hub_stream *st, const struct nx_hub_control *c)
{
	if (c->event == NX_HUB_EV_RESUME_STREAM)
		nx_credits_grant(&st->cr, c->credits);
	else if (c->event == NX_HUB_EV_PAUSE_STREAM)
		nx_credits_pause(&st->cr);
	hub_stream_update(st);
}

void hub_stream_on_shutdown_write(struct hub_stream *st)
{
	if (st->udp)
		return;
	st->backend_shut = 1;
	if (write_queue(st) == 0)
		hub_stream_update(st);
}

void hub_stream_backend_gone(struct hub_stream *st)
{
	if (st->dead)
		return;
	if (st->udp) { /* a flow ends with its backend: the next datagram opens a new one */
		hub_stream_kill(st, 0);
		return;
	}
	if (st->sess)
		hub_session_unlink(st->sess, st);
	st->backend_done = 1;
	st->last_active = now_ms(st);
	if (write_queue(st) < 0)
		return;
	nx_timer_start(st->hub->loop, &st->idle_timer, STREAM_GRACE_MS, stream_idle, st);
	hub_stream_update(st);
}

/* ---- up: end user → backend ------------------------------------------------------------ */

static void user_eof(struct hub_stream *st)
{
	st->user_eof = 1;
	if (st->backend_done || (st->user_shut && st->backend_shut)) {
		/* Both directions are finished. */
		hub_stream_kill(st, !st->backend_done);
		return;
	}
	/* Half-close: with the §6 extension the backend shuts its local write side and the reply
	 * still comes back. */
	if (session_live(st) && st->sess->half_close) {
		char text[NX_UUID_TEXT + 64];
		uint8_t msg[sizeof text + 1];
		int n = snprintf(text, sizeof text, "{\"event\":\"shutdown_write\",\"client_id\":\"%s\"}",
		                 st->id_text);
		msg[0] = NX_HUB_MSG_CONTROL;
		memcpy(msg + 1, text, (size_t)n);
		hub_session_send(st->sess, NX_WS_OP_BINARY, msg, (size_t)n + 1, NULL, 0);
		return;
	}
	/* Without it the protocol has no half-close: the end user closing first means
	 * disconnect (§3). It goes out behind the data frames already queued on the session, so
	 * the backend gets everything the user sent; what we hold for the user is still written,
	 * then FIN and close, as when the backend disconnects. Holding the stream instead would
	 * leave a CLOSE_WAIT socket here and an open connection to the local service. */
	send_control(st, NX_HUB_EV_DISCONNECT, 0);
	hub_stream_backend_gone(st);
}

static void read_user(struct hub_stream *st)
{
	uint8_t buf[NX_HUB_MAX_PAYLOAD];
	uint8_t hdr[NX_HUB_DATA_HEADER];
	for (int i = 0; i < READS_PER_ROUND && !st->dead; i++) {
		if (st->backend_done) {
			/* Nobody to send to: drain and drop until the end user closes. */
			ssize_t n = recv(st->fd, buf, sizeof buf, MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
				st->user_eof = 1;
				hub_stream_kill(st, 0);
			}
			return;
		}
		if (!can_read_user(st))
			return;
		ssize_t n = recv(st->fd, buf, NX_HUB_READ_PAYLOAD, MSG_DONTWAIT);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				hub_stream_kill(st, 1);
			return;
		}
		if (n == 0) {
			user_eof(st);
			return;
		}
		nx_hub_data_header(hdr, &st->id);
		if (hub_session_send(st->sess, NX_WS_OP_BINARY, hdr, sizeof hdr, buf, (size_t)n) < 0)
			return;
		nx_credits_sent(&st->cr);
		st->up_bytes += (uint64_t)n;
		st->last_active = now_ms(st);
		if ((size_t)n < NX_HUB_READ_PAYLOAD)
			return; /* the socket is empty for now */
	}
}

/* Events while we did not ask to read: only errors and hang-ups come that way. */
static int check_error(struct hub_stream *st)
{
	int soerr = 0;
	socklen_t sl = sizeof soerr;
	if (getsockopt(st->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr) {
		hub_stream_kill(st, !st->backend_done);
		return -1;
	}
	return 0;
}

/* A hang-up while reading is paused. A reset ends the stream; a FIN with nothing unread
 * before it is the end user's EOF now. A FIN behind unread bytes is met when reading
 * resumes (those bytes still go to the backend); without the half-close extension nobody
 * waits for a reply, so if the backend takes nothing more for STREAM_GRACE_MS the stream
 * ends then (an end user who gave up on a stuck service), not after --idle-timeout. */
static void paused_hangup(struct hub_stream *st)
{
	if (check_error(st) < 0)
		return;
	int unread = 0;
	char b;
	if (ioctl(st->fd, FIONREAD, &unread) == 0 && unread == 0 &&
	    recv(st->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
		user_eof(st);
		return;
	}
	st->user_fin = 1;
	if (!(session_live(st) && st->sess->half_close)) {
		uint64_t quiet = now_ms(st) - st->last_active;
		nx_timer_start(st->hub->loop, &st->idle_timer,
		               quiet >= STREAM_GRACE_MS ? 0 : STREAM_GRACE_MS - quiet, stream_idle, st);
	}
}

static void stream_io(struct nx_loop *loop, int fd, unsigned events, void *arg)
{
	struct hub_stream *st = arg;
	struct hub_session *s = st->sess;
	unsigned want = nx_loop_events(loop, fd);
	if (st->q_head && write_queue(st) < 0)
		goto out;
	if ((events & NX_EV_READ) && (want & NX_EV_READ))
		read_user(st);
	else if ((events & NX_EV_HUP) && (want & NX_EV_HUP))
		paused_hangup(st);
	else if (check_error(st) < 0)
		goto out;
	if (!st->dead)
		hub_stream_update(st);
out:
	if (s && !s->dead)
		hub_session_flush_soon(s);
}

static void stream_idle(struct nx_loop *loop, void *arg)
{
	struct hub_stream *st = arg;
	int gave_up = st->user_fin && !(session_live(st) && st->sess->half_close);
	uint64_t limit = st->backend_done || gave_up ? STREAM_GRACE_MS : st->hub->cfg.idle_timeout_ms;
	uint64_t quiet = nx_loop_now(loop) - st->last_active;
	if (quiet >= limit) {
		struct hub_session *s = st->sess;
		if (gave_up)
			hub_log_often(st->hub, 3, "end user hung up, backend not reading", "stream=%s route=%s",
			        st->id_text, st->route);
		else if (!st->backend_done)
			hub_log_often(st->hub, 2, "stream idle timeout", "stream=%s route=%s", st->id_text,
			        st->route);
		st->why = gave_up ? "user_gone_backend_stuck" : st->backend_done ? "done" : "idle_timeout";
		hub_stream_kill(st, 1);
		if (s && !s->dead)
			hub_session_flush_soon(s);
		return;
	}
	nx_timer_start(loop, &st->idle_timer, limit - quiet, stream_idle, st);
}

/* ---- open ------------------------------------------------------------------------------ */

int hub_stream_open(struct hub_session *s, int fd, const char *route, uint16_t conn_port,
                    const char *client_addr, int is_tls, const uint8_t *prelude,
                    size_t prelude_len, int counted)
{
	struct nx_hub *hub = s->hub;
	uint8_t rnd[16];
	struct hub_stream *st = NULL;
	if (!hub_backends_stream_allowed(s) || /* its --backends grant's streams= */
	    !(st = calloc(1, sizeof *st)) || nx_random_small(rnd, sizeof rnd) < 0 ||
	    nx_loop_add(hub->loop, fd, 0, stream_io, st) < 0) {
		free(st);
		close(fd);
		if (counted)
			hub_streams_release(hub, client_addr);
		return -1;
	}
	st->hub = hub;
	st->fd = fd;
	st->counted = counted;
	nx_uuid_v4(&st->id, rnd);
	nx_uuid_format(&st->id, st->id_text);
	nx_credits_init(&st->cr);
	if (s->initial_window) /* §6: connect stands for the backend's first grant */
		nx_credits_grant(&st->cr, NX_CREDITS_WINDOW);
	snprintf(st->route, sizeof st->route, "%s", route);
	snprintf(st->client, sizeof st->client, "%s", client_addr);
	st->is_tls = is_tls != 0;
	st->last_active = st->opened = nx_loop_now(hub->loop);
	st->next = hub->streams;
	if (st->next)
		st->next->prev = st;
	hub->streams = st;
	hub->n_streams++;
	hub->ctr.streams_total++;
	/* Registered before connect goes out, so the backend's first reply always finds it. */
	hub_session_link(s, st);
	struct nx_hub_control c = {
	    .event = NX_HUB_EV_CONNECT,
	    .client_id = st->id,
	    .conn_port = conn_port,
	    .is_tls = is_tls != 0,
	    .credits = NX_HUB_CREDIT_WINDOW,
	};
	snprintf(c.client_ip, sizeof c.client_ip, "%s", client_addr);
	snprintf(c.transport, sizeof c.transport, "tcp");
	snprintf(c.hostname, sizeof c.hostname, "%s", route);
	if (hub_session_send_control(s, &c) < 0) {
		hub_stream_kill(st, 0);
		return -1;
	}
	/* The prelude (a whole ClientHello or HTTP head, up to 64 KiB) in frames of at most
	 * 32 KiB: one oversized frame would be a protocol violation that ends the session. */
	uint8_t hdr[NX_HUB_DATA_HEADER];
	nx_hub_data_header(hdr, &st->id);
	for (size_t off = 0; off < prelude_len;) {
		size_t n = prelude_len - off;
		if (n > NX_HUB_MAX_PAYLOAD)
			n = NX_HUB_MAX_PAYLOAD;
		if (hub_session_send(s, NX_WS_OP_BINARY, hdr, sizeof hdr, prelude + off, n) < 0)
			return 0; /* the session died: the stream ends on its own (FIN) */
		nx_credits_sent(&st->cr);
		st->up_bytes += n;
		off += n;
	}
	nx_timer_start(hub->loop, &st->idle_timer, hub->cfg.idle_timeout_ms, stream_idle, st);
	hub_log(hub, 3, "stream open", "stream=%s route=%s client=%s session=%llu", st->id_text,
	        route, client_addr, (unsigned long long)s->id);
	hub_stream_update(st);
	hub_session_flush_soon(s);
	return 0;
}
