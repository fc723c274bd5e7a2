/* tunnel_stream.c — the streams of a tunnel session: one local socket (or --exec child) per
 * end-user connection, credits both ways as shared/protocol.md §4.
 *
 * Hub → local: we grant the hub 64 frames at connect and 8 more per 8 frames written
 * locally, so a stream never holds more than its window here; a slow local service only
 * stops its own grants. Local → hub: one credit per data frame sent; out of credits, the
 * local socket leaves the poll set until the hub returns some. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/sock.h"
#include "tunnel/tunnel_int.h"
#include "core/util.h"

static unsigned bucket_of(const struct nx_uuid *id) { return id->b[15] % STREAM_BUCKETS; }

struct stream *stream_find(struct tunnel *t, const struct nx_uuid *id)
{
	for (struct stream *s = t->streams[bucket_of(id)]; s; s = s->next)
		if (nx_uuid_equal(&s->id, id))
			return s;
	return NULL;
}

static void stream_unlink(struct tunnel *t, struct stream *s)
{
	struct stream **pp = &t->streams[bucket_of(&s->id)];
	while (*pp && *pp != s)
		pp = &(*pp)->next;
	if (*pp)
		*pp = s->next;
	t->n_streams--;
	if (s->src_counted)
		nx_srcmap_dec(t->stream_src, &s->src);
}

/* ---- life ------------------------------------------------------------------------------ */

static void on_stream_io(struct nx_loop *loop, int fd, unsigned events, void *arg);

static void stream_update(struct stream *s)
{
	struct tunnel *t = s->t;
	if (!s->registered)
		return;
	unsigned ev = 0;
	if (s->connecting) {
		if (!s->dial_armed)
			return; /* on_dial_soon decides, once this round's frames are handled */
		ev = NX_EV_WRITE;
	} else {
		if (!nx_chunkq_empty(&s->out) || s->pp)
			ev |= NX_EV_WRITE;
		if (!s->hub_closed && !s->local_eof && !t->out_blocked && !t->failing &&
		    (!s->limited || s->credits > 0))
			ev |= NX_EV_READ;
	}
	nx_loop_mod(t->loop, s->fd, ev);
}

/* Close the local side; tell the hub why unless reason is NULL (it closed first, or the
 * session is gone). */
static void stream_close(struct stream *s, const char *reason)
{
	struct tunnel *t = s->t;
	if (reason && t->state == T_SERVING && !t->failing)
		tunnel_send_disconnect(t, &s->id, reason);
	nx_timer_stop(t->loop, &s->dial_timer);
	if (s->registered)
		nx_loop_del(t->loop, s->fd);
	if (s->fd >= 0)
		close(s->fd);
	/* nobody is left to read an --exec child's output; the pid cannot have been reused:
	 * it is cleared when reaped */
	if (s->pid > 0)
		kill(s->pid, SIGTERM);
	nx_chunkq_clear(&s->out);
	free(s->pp);
	stream_unlink(t, s);
	tunnel_say(t, NX_LOG_DEBUG, "stream %s closed (%s)", s->idtext,
	           reason ? reason : "hub closed it");
	free(s);
	if (reason)
		tunnel_flush_soon(t); /* s is gone: flushing may touch every other stream */
}

static void grant_credits(struct stream *s)
{
	struct tunnel *t = s->t;
	int sent = 0;
	while (s->unacked >= NX_HUB_CREDIT_BATCH) {
		uint8_t buf[256];
		int n = nx_hub_encode_resume(buf, sizeof buf, &s->id, NX_HUB_CREDIT_BATCH);
		if (n > 0)
			tunnel_send_frame(t, NX_WS_OP_BINARY, buf, (size_t)n, NULL, 0);
		s->unacked -= NX_HUB_CREDIT_BATCH;
		sent = 1;
	}
	if (sent)
		tunnel_flush_soon(t);
}

/* half_close: once everything the end user sent is written, pass its FIN on; when both
 * directions are done the stream is. Returns -1 if the stream was closed. */
static int stream_maybe_shut(struct stream *s)
{
	if (!s->peer_shut || s->local_shut || s->connecting || s->pp || !nx_chunkq_empty(&s->out))
		return 0;
	shutdown(s->fd, SHUT_WR);
	s->local_shut = true;
	if (s->local_eof) {
		stream_close(s, NX_HUB_REASON_NORMAL);
		return -1;
	}
	return 0;
}

/* The local side stopped reading (EPIPE: an --exec child that answered and exited, a
 * server that replied without reading the whole request). What it wrote before may still
 * be unread on our side, so keep reading until its EOF; what the hub sends from now on is
 * dropped (and its credits returned, so the hub is not stalled). Returns -1 if closed. */
static int write_failed(struct stream *s)
{
	int e = errno;
	tunnel_say(s->t, NX_LOG_DEBUG, "stream %s: write to %s: %s", s->idtext, s->target,
	           strerror(e));
	if (e != EPIPE && e != ECONNRESET) {
		stream_close(s, NX_HUB_REASON_LOCAL_ERROR);
		return -1;
	}
	while (!nx_chunkq_empty(&s->out))
		if (nx_chunkq_consume(&s->out, s->out.head->len - s->out.head->off))
			s->unacked++;
	free(s->pp);
	s->pp = NULL;
	s->write_dead = true;
	grant_credits(s);
	if (s->local_eof) {
		stream_close(s, NX_HUB_REASON_NORMAL);
		return -1;
	}
	return 0;
}

/* The PROXY protocol header goes first. 1: written (or none), 0: not yet, -1: closed. */
static int stream_write_pp(struct stream *s)
{
	while (s->pp) {
		ssize_t w = send(s->fd, s->pp + s->pp_off, s->pp_len - s->pp_off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return write_failed(s) < 0 ? -1 : 1;
		}
		s->pp_off += (size_t)w;
		if (s->pp_off == s->pp_len) {
			free(s->pp);
			s->pp = NULL;
		}
	}
	return 1;
}

/* Write what the hub sent to the local side. Returns -1 if the stream was closed. */
static int stream_write_out(struct stream *s)
{
	const uint8_t *p;
	size_t n;
	int r = stream_write_pp(s);
	if (r <= 0)
		return r;
	while ((n = nx_chunkq_front(&s->out, &p)) > 0) {
		ssize_t w = send(s->fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (write_failed(s) < 0)
				return -1;
			break;
		}
		if (nx_chunkq_consume(&s->out, (size_t)w))
			s->unacked++;
	}
	grant_credits(s);
	if (nx_chunkq_empty(&s->out) && s->hub_closed) {
		stream_close(s, NULL);
		return -1;
	}
	return stream_maybe_shut(s);
}

/* Returns 1 if the socket may hold more now (the read filled the buffer), else 0. */
static int stream_read(struct stream *s)
{
	struct tunnel *t = s->t;
	/* up to TUNNEL_READ_FRAMES frames from one recv: fewer syscalls, and fewer window
	 * updates to the local service, so it sends in bigger bursts */
	int64_t frames = TUNNEL_READ_FRAMES;
	if (s->limited && s->credits < frames)
		frames = s->credits;
	ssize_t n = recv(s->fd, t->readbuf, (size_t)frames * NX_HUB_READ_PAYLOAD, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		tunnel_say(t, NX_LOG_DEBUG, "stream %s: read from %s: %s", s->idtext, s->target,
		           strerror(errno));
		stream_close(s, NX_HUB_REASON_LOCAL_ERROR);
		return 0;
	}
	if (n == 0) {
		if (t->half_close && !s->local_shut && !s->write_dead) {
			/* the local side is done sending but may still read: tell the hub, go on
			 * writing what it sends */
			uint8_t buf[128];
			int m = nx_hub_encode_shutdown_write(buf, sizeof buf, &s->id);
			if (m > 0)
				tunnel_send_frame(t, NX_WS_OP_BINARY, buf, (size_t)m, NULL, 0);
			s->local_eof = true;
			tunnel_flush_soon(t);
			return 0;
		}
		stream_close(s, NX_HUB_REASON_NORMAL);
		tunnel_flush_soon(t);
		return 0;
	}
	uint8_t hdr[NX_HUB_DATA_HEADER];
	nx_hub_data_header(hdr, &s->id);
	for (size_t off = 0; off < (size_t)n; off += NX_HUB_READ_PAYLOAD) {
		size_t len = (size_t)n - off < NX_HUB_READ_PAYLOAD ? (size_t)n - off : NX_HUB_READ_PAYLOAD;
		tunnel_send_frame(t, NX_WS_OP_BINARY, hdr, sizeof hdr, t->readbuf + off, len);
		if (s->limited)
			s->credits--;
	}
	t->stats.bytes_to_hub += (uint64_t)n;
	tunnel_flush_soon(t);
	return (size_t)n == (size_t)frames * NX_HUB_READ_PAYLOAD;
}

/* The dial to the service ended: connected (failure NULL, 0), or not (-1: the end user is
 * told 502 and the stream is closed). */
static int dial_done(struct stream *s, const char *failure)
{
	struct tunnel *t = s->t;
	if (failure) {
		tunnel_say_often(t, NX_LOG_WARN, "%s: cannot reach %s: %s",
		           s->hostname[0] ? s->hostname : "stream", s->target, failure);
		tunnel_tell_end_user(t, &s->id, s->is_tls, s->hostname, 502);
		stream_close(s, NX_HUB_REASON_DIAL_FAILED);
		tunnel_flush_soon(t);
		return -1;
	}
	s->connecting = false;
	nx_timer_stop(t->loop, &s->dial_timer);
	return 0;
}

static void on_stream_io(struct nx_loop *loop, int fd, unsigned events, void *arg)
{
	struct stream *s = arg;
	struct tunnel *t = s->t;
	char err[NX_ERRLEN];
	if (s->connecting) {
		if (dial_done(s, nx_connect_result(fd, err, sizeof err) < 0 ? err : NULL) < 0)
			return;
		if (s->hub_closed && nx_chunkq_empty(&s->out)) {
			stream_close(s, NULL);
			return;
		}
		events |= NX_EV_WRITE; /* flushes, and passes on an early shutdown_write */
	}
	if ((events & NX_EV_WRITE) && stream_write_out(s) < 0)
		return;
	if (events & NX_EV_READ) {
		size_t before = t->n_streams;
		/* after a full read more may wait; with a FIN behind the data (the service answered
		 * and closed) read on to it now, so the last data and the disconnect leave in one
		 * batch. At most four reads, so one busy stream does not starve the rest. */
		int more = 1;
		for (int i = 0; i < 4 && more && t->n_streams == before && !s->hub_closed &&
		                !s->local_eof && (!s->limited || s->credits > 0) &&
		                (i == 0 || !t->out_blocked);
		     i++)
			more = stream_read(s) || (events & NX_EV_HUP);
		if (t->n_streams != before)
			return; /* it closed */
	}
	stream_update(s);
}

static void on_dial_timeout(struct nx_loop *loop, void *arg)
{
	struct stream *s = arg;
	tunnel_say_often(s->t, NX_LOG_WARN, "%s: cannot reach %s: connect timed out",
	           s->hostname[0] ? s->hostname : "stream", s->target);
	tunnel_tell_end_user(s->t, &s->id, s->is_tls, s->hostname, 504);
	stream_close(s, NX_HUB_REASON_DIAL_FAILED);
}

/* A dial is not watched at once: the prelude usually comes in the same round as the
 * connect, and its send finds the (nearby) service connected already, so the fd is added
 * once, for reading, instead of for writing and then changed. A dial still going at the
 * end of the round (this timer, 0 ms) is watched for its end from now on. */
static void on_dial_soon(struct nx_loop *loop, void *arg)
{
	struct stream *s = arg;
	s->dial_armed = true;
	stream_update(s);
	nx_timer_start(loop, &s->dial_timer, STREAM_DIAL_TIMEOUT_MS, on_dial_timeout, s);
}

/* A new stream whose local side is open (a dial under way, or --exec's socket): into the
 * table and the loop, its first grant to the hub. src: the end user's address to count
 * against its share, or NULL. */
void stream_attach(struct stream *s, const struct nx_src *src)
{
	struct tunnel *t = s->t;
	unsigned b = bucket_of(&s->id);
	s->next = t->streams[b];
	t->streams[b] = s;
	t->n_streams++;
	if (src && nx_srcmap_inc(t->stream_src, src)) {
		s->src = *src;
		s->src_counted = true;
	}
	if (nx_loop_add(t->loop, s->fd, s->connecting ? 0 : NX_EV_READ, on_stream_io, s) < 0) {
		stream_close(s, NX_HUB_REASON_LOCAL_ERROR);
		tunnel_flush_soon(t);
		return;
	}
	s->registered = true;
	t->stats.streams_total++;
	if (s->connecting)
		nx_timer_start(t->loop, &s->dial_timer, 0, on_dial_soon, s);
	if (!t->initial_window) {
		/* the hub may send without limit until our first grant: grant the window at
		 * once (with initial_window the connect stood for it, §6) */
		uint8_t buf[256];
		int n = nx_hub_encode_resume(buf, sizeof buf, &s->id, NX_HUB_CREDIT_WINDOW);
		if (n > 0)
			tunnel_send_frame(t, NX_WS_OP_BINARY, buf, (size_t)n, NULL, 0);
		tunnel_flush_soon(t);
	}
	stream_update(s);
}

void stream_on_control(struct tunnel *t, const struct nx_hub_control *c)
{
	if (!c->has_client_id)
		return;
	struct stream *s;
	switch (c->event) {
	case NX_HUB_EV_CONNECT:
		stream_on_connect(t, c);
		break;
	case NX_HUB_EV_DISCONNECT:
		if (!(s = stream_find(t, &c->client_id))) {
			tunnel_udp_on_control(t, c);
			return; /* already gone: nothing to answer */
		}
		s->hub_closed = true;
		if (!s->connecting && nx_chunkq_empty(&s->out))
			stream_close(s, NULL);
		else
			stream_update(s);
		break;
	case NX_HUB_EV_RESUME_STREAM:
		if (!(s = stream_find(t, &c->client_id))) {
			tunnel_udp_on_control(t, c);
			return;
		}
		if (s->limited)
			nx_hub_credit_add(&s->credits, c->credits);
		stream_update(s);
		break;
	case NX_HUB_EV_UNKNOWN:
		if (t->half_close && strcmp(c->event_name, NX_HUB_EVENT_SHUTDOWN_WRITE) == 0 &&
		    (s = stream_find(t, &c->client_id))) {
			s->peer_shut = true;
			if (stream_maybe_shut(s) == 0)
				stream_update(s);
		}
		break;
	default:
		break; /* pong_client, outbound_result: nothing to do */
	}
}

void stream_on_data(struct tunnel *t, const struct nx_uuid *id, const uint8_t *p, size_t n)
{
	struct stream *s = stream_find(t, id);
	if (!s && tunnel_udp_on_data(t, id, p, n))
		return;
	if (!s) {
		/* data for a stream we do not know: tell the hub once per message (§3) */
		tunnel_send_disconnect(t, id, NX_HUB_REASON_UNKNOWN);
		return;
	}
	if (s->hub_closed)
		return;
	t->stats.bytes_from_hub += n;
	if (n == 0 || s->write_dead) {
		s->unacked++; /* an empty frame is written at once; nobody reads a dead side */
		grant_credits(s);
		return;
	}
	if (s->out.count >= STREAM_QUEUE_MAX_FRAMES ||
	    s->out.bytes + n > STREAM_QUEUE_MAX_BYTES(t)) {
		tunnel_say_often(t, NX_LOG_WARN, "stream %s: hub sent beyond its credits, dropping the stream",
		           s->idtext);
		stream_close(s, NX_HUB_REASON_BUFFER_FULL);
		tunnel_flush_soon(t);
		return;
	}
	size_t off = 0;
	if (!s->pp && nx_chunkq_empty(&s->out)) {
		/* the common case: the local side keeps up, no copy. While the dial is in progress
		 * the send asks whether it has finished: a nearby service (loopback always) has
		 * answered it already, and the first bytes need not wait a loop round for
		 * writability; one still connecting says EAGAIN and they are queued. */
		bool dialling = s->connecting;
		for (;;) {
			ssize_t w = send(s->fd, p, n, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
			if (s->connecting) {
				if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN))
					break;
				if (dial_done(s, w < 0 ? strerror(errno) : NULL) < 0)
					return;
			}
			if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
				if (write_failed(s) == 0) {
					s->unacked++;
					grant_credits(s);
					stream_update(s);
				}
				tunnel_flush_soon(t);
				return;
			}
			off = w > 0 ? (size_t)w : 0;
			break;
		}
		if (off == n) {
			s->unacked++;
			grant_credits(s);
			if (dialling) /* now watched for reading, not for the dial */
				stream_update(s);
			return;
		}
	}
	if (nx_chunkq_push_copy(&s->out, p + off, n - off) < 0) {
		stream_close(s, NX_HUB_REASON_LOCAL_ERROR);
		tunnel_flush_soon(t);
		return;
	}
	stream_update(s);
}

void streams_resume_reading(struct tunnel *t)
{
	for (unsigned b = 0; b < STREAM_BUCKETS; b++)
		for (struct stream *s = t->streams[b]; s; s = s->next)
			stream_update(s);
}

void streams_shutdown(struct tunnel *t)
{
	for (unsigned b = 0; b < STREAM_BUCKETS; b++)
		while (t->streams[b])
			stream_close(t->streams[b], NX_HUB_REASON_SHUTDOWN);
	tunnel_udp_close_all(t, NX_HUB_REASON_SHUTDOWN);
}

void streams_close_all(struct tunnel *t)
{
	for (unsigned b = 0; b < STREAM_BUCKETS; b++)
		while (t->streams[b])
			stream_close(t->streams[b], NULL);
	tunnel_udp_close_all(t, NULL);
}

void streams_child_exited(struct tunnel *t, pid_t pid)
{
	/* the stream itself ends when its socket does */
	for (unsigned b = 0; b < STREAM_BUCKETS; b++)
		for (struct stream *s = t->streams[b]; s; s = s->next)
			if (s->pid == pid)
				s->pid = 0;
	tunnel_say(t, NX_LOG_DEBUG, "exec child %d exited", (int)pid);
}
