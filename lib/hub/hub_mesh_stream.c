/* hub_mesh_stream.c — a stream a peer hub opened over a link we dialled. We play the
 * backend's part of the hub protocol towards the peer (§3, §4), and hand the stream to our
 * own stream machinery like a relay handoff: a socketpair whose one end goes to
 * hub_stream_open() on a LOCAL backend session (never another peer: a stream tunnelled once
 * is never tunnelled again), the other end is pumped here.
 *
 * Credits towards the peer: its connect grants us a window; one credit per data frame we
 * send, more with its resume_stream. From the peer: the link's connect stands for our first
 * window (initial_window, §6), and we give one credit back per frame written into the
 * socketpair, in batches. A peer that sends beyond that loses the stream.
 * No local backend for the key: disconnect at once (tunnel_failed for the user, never a
 * hang). */
#include "hub/hub_mesh_int.h"
#include "core/log.h"
#include "core/sock.h"
#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define Q_MAX_FRAMES (NX_HUB_CREDIT_WINDOW + 8)
#define MAX_STREAMS_PER_LINK 8192 /* what one peer may open on us at once */

struct mesh_stream {
	struct mesh_link *l;
	struct mesh_stream *next, *prev;
	struct nx_uuid id;
	int fd;
	int64_t tx;          /* frames we may still send to the peer */
	struct hub_chunk *q_head, *q_tail;
	size_t q_frames;
	uint32_t owed;       /* frames written locally, not yet given back */
	int peer_done;       /* the peer disconnected: flush, then close */
};

static void stream_io(struct nx_loop *loop, int fd, unsigned events, void *arg);

static struct mesh_stream *find(struct mesh_link *l, const struct nx_uuid *id)
{
	for (struct mesh_stream *st = *mesh_link_streams(l); st; st = st->next)
		if (nx_uuid_equal(&st->id, id))
			return st;
	return NULL;
}

static void send_disconnect(struct mesh_link *l, const struct nx_uuid *id, const char *reason)
{
	uint8_t buf[256];
	int n = nx_hub_encode_disconnect(buf, sizeof buf, id, reason);
	if (n > 0)
		mesh_link_send(l, NX_WS_OP_BINARY, buf, (size_t)n, NULL, 0);
}

static void stream_free(struct mesh_stream *st, int tell_peer, const char *reason)
{
	struct mesh_link *l = st->l;
	struct nx_hub *hub = mesh_link_hub(l);
	if (tell_peer)
		send_disconnect(l, &st->id, reason);
	if (st->prev)
		st->prev->next = st->next;
	else
		*mesh_link_streams(l) = st->next;
	if (st->next)
		st->next->prev = st->prev;
	nx_loop_del(hub->loop, st->fd);
	close(st->fd);
	while (st->q_head) {
		struct hub_chunk *c = st->q_head;
		st->q_head = c->next;
		free(c);
	}
	free(st);
}

static void update(struct mesh_stream *st)
{
	unsigned ev = 0;
	if (st->q_head)
		ev |= NX_EV_WRITE;
	else if (!st->peer_done && st->tx > 0 && !mesh_link_out_full(st->l))
		ev |= NX_EV_READ;
	nx_loop_mod(mesh_link_hub(st->l)->loop, st->fd, ev);
}

/* Write what is queued; 0, or -1 when the stream was freed. */
static int drain(struct mesh_stream *st)
{
	while (st->q_head) {
		struct hub_chunk *c = st->q_head;
		ssize_t n = write(st->fd, c->data + c->off, c->len - c->off);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			stream_free(st, 1, "local stream closed");
			return -1;
		}
		c->off += (size_t)n;
		if (c->off < c->len)
			break;
		st->q_head = c->next;
		if (!st->q_head)
			st->q_tail = NULL;
		st->q_frames--;
		free(c);
		if (++st->owed >= NX_HUB_CREDIT_BATCH && !st->peer_done) {
			uint8_t buf[256];
			int k = nx_hub_encode_resume(buf, sizeof buf, &st->id, st->owed);
			if (k > 0)
				mesh_link_send(st->l, NX_WS_OP_BINARY, buf, (size_t)k, NULL, 0);
			st->owed = 0;
		}
	}
	if (!st->q_head && st->peer_done) {
		stream_free(st, 0, NULL);
		return -1;
	}
	return 0;
}

static void stream_io(struct nx_loop *loop, int fd, unsigned events, void *arg)
{
	struct mesh_stream *st = arg;
	struct mesh_link *l = st->l;
	if (st->q_head && (events & (NX_EV_WRITE | NX_EV_HUP)))
		if (drain(st) < 0) {
			mesh_link_flush(l);
			return;
		}
	for (int i = 0; i < 16 && !st->q_head && st->tx > 0 && !mesh_link_out_full(l); i++) {
		uint8_t buf[NX_HUB_MAX_PAYLOAD];
		ssize_t n = read(st->fd, buf, sizeof buf);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			break;
		if (n <= 0) { /* the local side ended: so does the peer's stream */
			stream_free(st, 1, NULL);
			mesh_link_flush(l);
			return;
		}
		uint8_t hdr[NX_HUB_DATA_HEADER];
		nx_hub_data_header(hdr, &st->id);
		if (mesh_link_send(l, NX_WS_OP_BINARY, hdr, sizeof hdr, buf, (size_t)n) < 0)
			break;
		st->tx--;
	}
	update(st);
	mesh_link_flush(l);
}

void mesh_stream_connect(struct mesh_link *l, const struct nx_hub_control *c)
{
	struct nx_hub *hub = mesh_link_hub(l);
	if (!c->has_client_id)
		return;
	/* The peer's route key and client address go into our logs and on to the backend as
	 * they are: only the characters a normalised route key (or tcp:PORT) and an address
	 * (a.b.c.d:port, [v6]:port) can hold pass; anything else is a broken or hostile peer. */
	size_t hl = strlen(c->hostname), cl = strlen(c->client_ip);
	if (!hl || strspn(c->hostname, "abcdefghijklmnopqrstuvwxyz0123456789-_.*:") != hl ||
	    !cl || strspn(c->client_ip, "0123456789abcdefABCDEF.:[]") != cl) {
		hub_log_often(hub, NX_LOG_WARN, "peer stream refused: malformed route or client address",
		              "detail=\"not a route key or an IP address\"");
		send_disconnect(l, &c->client_id, "bad request");
		mesh_link_flush(l);
		return;
	}
	char q[300];
	nx_sanitize(q, sizeof q, c->hostname, strlen(c->hostname));
	/* Local backends only (hub->routes never holds peers): no second hop, no loop. */
	struct hub_session *s =
	    strcmp(c->transport, "udp") == 0 ? NULL : hub_pick_local(hub, c->hostname, NULL);
	if (!s) {
		uint64_t n = nx_rate_note(mesh_link_refused(l), nx_loop_now(hub->loop), 1000);
		if (n)
			hub_log(hub, NX_LOG_INFO, "peer stream refused: no local route",
			        "route=%s client=%s times=%llu", q, c->client_ip, (unsigned long long)n);
		send_disconnect(l, &c->client_id, "no route");
		mesh_link_flush(l);
		return;
	}
	size_t open_now = 0;
	for (struct mesh_stream *o = *mesh_link_streams(l); o; o = o->next)
		open_now++;
	if (open_now >= MAX_STREAMS_PER_LINK) {
		uint64_t n = nx_rate_note(mesh_link_refused(l), nx_loop_now(hub->loop), 1000);
		if (n)
			hub_log(hub, NX_LOG_WARN, "peer stream refused: too many streams on the link",
			        "route=%s streams=%zu times=%llu", q, open_now, (unsigned long long)n);
		send_disconnect(l, &c->client_id, "busy");
		mesh_link_flush(l);
		return;
	}
	if (hub_streams_admit(hub, c->client_ip) < 0) { /* logged there */
		send_disconnect(l, &c->client_id, "busy");
		mesh_link_flush(l);
		return;
	}
	int sp[2];
	struct mesh_stream *st = calloc(1, sizeof *st);
	if (!st || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp) < 0) {
		free(st);
		hub_streams_release(hub, c->client_ip);
		send_disconnect(l, &c->client_id, "busy");
		mesh_link_flush(l);
		return;
	}
	st->l = l;
	st->id = c->client_id;
	st->fd = sp[1];
	st->tx = c->credits > 0 ? (c->credits > NX_HUB_CREDIT_CLAMP ? NX_HUB_CREDIT_CLAMP : c->credits)
	                        : NX_HUB_CREDIT_WINDOW;
	if (nx_loop_add(hub->loop, st->fd, 0, stream_io, st) < 0) {
		close(sp[0]);
		close(sp[1]);
		free(st);
		hub_streams_release(hub, c->client_ip);
		send_disconnect(l, &c->client_id, "busy");
		mesh_link_flush(l);
		return;
	}
	st->next = *mesh_link_streams(l);
	if (st->next)
		st->next->prev = st;
	*mesh_link_streams(l) = st;
	if (hub_stream_open(s, sp[0], c->hostname, (uint16_t)c->conn_port, c->client_ip, c->is_tls,
	                    NULL, 0, 1) < 0) {
		stream_free(st, 1, "busy");
		mesh_link_flush(l);
		return;
	}
	update(st);
}

void mesh_stream_on_data(struct mesh_link *l, const struct nx_uuid *id, const uint8_t *d,
                         size_t n)
{
	struct mesh_stream *st = find(l, id);
	if (!st || st->peer_done || !n)
		return;
	if (st->q_frames >= Q_MAX_FRAMES) {
		char idt[NX_UUID_TEXT + 1];
		hub_log_often(mesh_link_hub(l), NX_LOG_WARN, "peer sent beyond its credits, stream dropped",
		        "stream=%s", nx_uuid_format(&st->id, idt));
		stream_free(st, 1, "credits exceeded");
		return;
	}
	struct hub_chunk *c = malloc(sizeof *c + n);
	if (!c) {
		stream_free(st, 1, "out of memory");
		return;
	}
	c->next = NULL;
	c->len = n;
	c->off = 0;
	memcpy(c->data, d, n);
	if (st->q_tail)
		st->q_tail->next = c;
	else
		st->q_head = c;
	st->q_tail = c;
	st->q_frames++;
	if (drain(st) == 0)
		update(st);
}

void mesh_stream_on_control(struct mesh_link *l, const struct nx_hub_control *c)
{
	struct mesh_stream *st = c->has_client_id ? find(l, &c->client_id) : NULL;
	if (!st)
		return;
	switch (c->event) {
	case NX_HUB_EV_DISCONNECT:
		st->peer_done = 1;
		if (drain(st) == 0)
			update(st);
		return;
	case NX_HUB_EV_RESUME_STREAM:
		if (c->credits > 0) {
			st->tx += c->credits;
			if (st->tx > NX_HUB_CREDIT_CLAMP)
				st->tx = NX_HUB_CREDIT_CLAMP;
		}
		update(st);
		return;
	default:
		return;
	}
}

void mesh_streams_wake(struct mesh_link *l)
{
	for (struct mesh_stream *st = *mesh_link_streams(l); st; st = st->next)
		update(st);
}

void mesh_streams_close_all(struct mesh_link *l)
{
	while (*mesh_link_streams(l))
		stream_free(*mesh_link_streams(l), 0, NULL);
}
