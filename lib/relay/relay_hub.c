/* relay_hub.c — the relay's side of the hub connection: dial with backoff, queue handoffs
 * while the SOCK_SEQPACKET socket is full, match the hub's one-byte replies to connections
 * first-in first-out, and answer every waiting client at once when the hub goes away.
 *
 * Replies are read lazily: while some are owed the hub socket is not watched, and they are
 * read when the loop wakes up for something else (the next client, usually) or after
 * HUB_REPLY_POLL_MS. A busy relay so wakes once per client instead of twice (the reply
 * costs a context switch otherwise); a "no route" answer waits at most that long. A poll
 * that finds no reply in turns the watch back on until nothing is owed, so a slow or stuck
 * hub is not polled every 2 ms. Once nothing has been owed for a poll period the socket is
 * watched again, so an idle relay notices a hub that goes away at once. */
#include "relay/relay_int.h"
#include "wire/handoff.h"
#include "core/log.h"
#include "wire/sniff.h"
#include "core/sock.h"
#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static void hub_retry(struct nx_loop *loop, void *arg) { relay_hub_connect(arg); }

/* Every client fd and its first bytes (HTTP heads with cookies) go to whoever listens on
 * the socket: it must be root, us, or the owner of the directory the socket is in (a
 * hub's RuntimeDirectory, say), never a process that took the path in a directory others
 * may write to. 0 trusted, -1 with err. */
static int hub_peer_trusted(int fd, const char *path, char *err, size_t errlen)
{
	struct ucred uc;
	socklen_t l = sizeof uc;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &l) < 0)
		return nx_err(err, errlen, "%s: peer credentials: %s", path, strerror(errno));
	if (uc.uid == 0 || uc.uid == geteuid())
		return 0;
	char dir[sizeof ((struct sockaddr_un *)0)->sun_path];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof dir, ".");
	struct stat st;
	if (stat(dir, &st) == 0 && st.st_uid == uc.uid)
		return 0;
	return nx_err(err, errlen,
	              "%s: the listener runs as uid %ld (pid %ld), which is neither root, us, nor "
	              "the owner of %s: not handing it clients",
	              path, (long)uc.uid, (long)uc.pid, dir);
}

/* Connect without ever blocking: a unix connect to a hub whose accept queue is full would
 * otherwise freeze every client of the relay. EAGAIN is just another failed attempt. */
static int dial_hub(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sun.sun_path)
		return nx_err(err, errlen, "socket path too long: %s", path);
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return nx_err(err, errlen, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		int e = errno;
		close(fd);
		nx_err(err, errlen, "%s: %s", path,
		       e == EAGAIN ? "hub not accepting (queue full)" : strerror(e));
		errno = e;
		return -1;
	}
	if (hub_peer_trusted(fd, path, err, errlen) < 0) {
		close(fd);
		errno = ENOTUNIQ; /* ours: the path is held by a process we do not trust */
		return -1;
	}
	return fd;
}

static void queue_push(struct conn **head, struct conn **tail, struct conn *c)
{
	c->qnext = NULL;
	if (*tail)
		(*tail)->qnext = c;
	else
		*head = c;
	*tail = c;
}

static struct conn *queue_pop(struct conn **head, struct conn **tail)
{
	struct conn *c = *head;
	if (c) {
		*head = c->qnext;
		if (!*head)
			*tail = NULL;
		c->qnext = NULL;
	}
	return c;
}

static void queue_remove(struct conn **head, struct conn **tail, struct conn *c)
{
	struct conn *prev = NULL;
	for (struct conn *x = *head; x; prev = x, x = x->qnext)
		if (x == c) {
			if (prev)
				prev->qnext = x->qnext;
			else
				*head = x->qnext;
			if (*tail == x)
				*tail = prev;
			x->qnext = NULL;
			return;
		}
}

/* Stop holding a client the hub has not answered for: tell it 503 / internal_error and shut
 * the socket down, which also ends any copy the hub may still take. The queue entry stays
 * (replies are matched in order) until its reply comes or the hub connection goes. */
static void abandon(struct conn *c)
{
	unsigned char alert[7];
	const void *msg = NULL;
	size_t len = 0;
	if (c->proto == P_TLS) {
		len = nx_tls_alert(alert, c->tls_version, NX_TLS_ALERT_INTERNAL_ERROR);
		msg = alert;
	} else if (c->proto == P_HTTP) {
		msg = nx_http_error_response(503, &len);
	}
	if (msg && send(c->fd, msg, len, MSG_NOSIGNAL) > 0)
		c->down += len;
	shutdown(c->fd, SHUT_RDWR);
	close(c->fd);
	c->fd = -1;
	c->st = C_ABANDONED;
	c->outcome = "hub-timeout";
	c->r->abandoned++;
}

static void free_abandoned(struct conn *c)
{
	c->r->abandoned--;
	conn_free(c);
}

/* The hub connection is gone (EOF, error) or given up on (stuck): every client waiting for it
 * is answered now. A dead hub cannot take them any more, so they get a normal answer; a stuck
 * one still might, so their sockets are shut down as well. */
static void hub_down(struct nx_relay *r, const char *why, int stuck)
{
	if (r->hub_fd >= 0) {
		nx_loop_del(r->loop, r->hub_fd);
		close(r->hub_fd);
		r->hub_fd = -1;
		r->udp_wait = 0;
		r->hub_eager = 0;
		nx_timer_stop(r->loop, &r->hub_poll);
		char q[160], qw[64];
		if (!r->hub_denied) /* a refusal has its own (error, rate-bounded) line */
			relay_log(r, NX_LOG_WARN, "hub down", "hub=%s why=%s",
			          nx_log_q(q, sizeof q, r->cfg.hub_path), nx_log_q(qw, sizeof qw, why));
	}
	/* Nobody will answer for these any more: tell their clients now. */
	struct conn *c;
	while ((c = queue_pop(&r->wait_head, &r->wait_tail))) {
		nx_timer_stop(r->loop, &c->timer);
		if (c->st != C_ABANDONED && !stuck) {
			answer_busy(c, "hub-down");
			continue;
		}
		if (c->st != C_ABANDONED)
			abandon(c);
		free_abandoned(c);
	}
	while ((c = queue_pop(&r->send_head, &r->send_tail)))
		answer_busy(c, "hub-down");
	if (!r->stopping)
		nx_timer_start(r->loop, &r->hub_timer, r->hub_backoff, hub_retry, r);
	r->hub_backoff = r->hub_backoff * 2 > HUB_BACKOFF_MAX_MS ? HUB_BACKOFF_MAX_MS : r->hub_backoff * 2;
}

static int hub_read_replies(struct nx_relay *r);

/* Replies owed for clients (not the UDP listeners' few, at connect): read lazily. */
static int replies_lazy(const struct nx_relay *r) { return r->wait_head && !r->udp_wait; }

/* A poll that finds no reply in: the hub is slow (or stuck), so wake up for its replies
 * instead of polling it every HUB_REPLY_POLL_MS until --hub-timeout. */
static void hub_poll(struct nx_loop *loop, void *arg)
{
	struct nx_relay *r = arg;
	uint64_t before = r->replies_in;
	if (hub_read_replies(r) == 0 && r->replies_in == before && replies_lazy(r))
		r->hub_eager = 1;
}

/* The hub socket's interest, once the round's handoffs and replies are done: writable
 * while handoffs wait for room; readable once nothing has been owed for a poll period
 * (then a reply is not expected, an EOF or a refusal is). Until then the poll timer reads
 * it, so a steady stream of clients does not turn the watch on and off (epoll_ctl) each
 * time the replies happen to be all in. */
static void hub_interest(struct nx_loop *loop, void *arg)
{
	struct nx_relay *r = arg;
	if (r->hub_fd < 0)
		return;
	if (!r->wait_head)
		r->hub_eager = 0;
	if (replies_lazy(r) && !r->hub_eager && !nx_timer_active(&r->hub_poll))
		nx_timer_start(loop, &r->hub_poll, HUB_REPLY_POLL_MS, hub_poll, r);
	int watch = nx_timer_active(&r->hub_poll) ? 0 : NX_EV_READ;
	nx_loop_mod(loop, r->hub_fd, watch | (r->send_head ? NX_EV_WRITE : 0));
}

static void hub_interest_soon(struct nx_relay *r)
{
	if (!nx_timer_active(&r->hub_tick))
		nx_timer_start(r->loop, &r->hub_tick, 0, hub_interest, r);
}

void relay_hub_wake(struct nx_loop *loop, void *arg)
{
	struct nx_relay *r = arg;
	if (r->hub_fd >= 0 && replies_lazy(r) && !r->hub_eager)
		hub_read_replies(r);
}

/* No hub for us: it will not have us (the socket file's rights, EACCES, or its allow list, a
 * DENIED reply), or we will not have it (an untrusted listener on the path). Nothing fixes
 * itself without the operator, so it is an error, and it is repeated (at most every
 * HUB_DENIED_REPORT_MS, with a count) for as long as it lasts; clients get 503 at once. */
static void hub_denied(struct nx_relay *r, const char *msg, const char *why)
{
	r->hub_denied = 1;
	uint64_t n = nx_rate_note(&r->denied_rate, nx_loop_now(r->loop), HUB_DENIED_REPORT_MS);
	if (n) {
		char q[160], qw[NX_ERRLEN + 8];
		relay_log(r, NX_LOG_ERROR, msg,
		          "hub=%s why=%s uid=%ld gid=%ld times=%llu", nx_log_q(q, sizeof q, r->cfg.hub_path),
		          nx_log_q(qw, sizeof qw, why), (long)geteuid(), (long)getegid(),
		          (unsigned long long)n);
	}
}

static void hub_wait_timeout(struct nx_loop *loop, void *arg)
{
	struct conn *c = arg;
	struct nx_relay *r = c->r;
	abandon(c);
	/* Too many unanswered: the hub is stuck. Take what replies did come, then redial —
	 * otherwise the placeholders would pile up until they fill --max-conns. */
	if (r->abandoned >= HUB_MAX_ABANDONED && hub_read_replies(r) == 0 &&
	    r->abandoned >= HUB_MAX_ABANDONED)
		hub_down(r, "not answering", 1);
}

static void hub_send_timeout(struct nx_loop *loop, void *arg)
{
	struct conn *c = arg; /* the hub socket stayed full: the hub is overloaded */
	queue_remove(&c->r->send_head, &c->r->send_tail, c);
	answer_busy(c, "hub-busy");
}

/* Send queued handoffs while the hub socket has room. */
static void hub_flush(struct nx_relay *r)
{
	char err[NX_ERRLEN];
	while (r->send_head && r->hub_fd >= 0) {
		struct conn *c = r->send_head;
		struct nx_handoff h = {.conn_port = c->port, .is_tls = c->proto == P_TLS,
		                       .prelude_len = c->inlen, .prelude = c->in};
		snprintf(h.route_key, sizeof h.route_key, "%s", c->key);
		snprintf(h.client_addr, sizeof h.client_addr, "%s", c->peer);
		int rc = nx_handoff_try_send(r->hub_fd, c->fd, &h, err, sizeof err);
		if (rc == 1)
			break;
		if (rc < 0)
			return hub_down(r, "send failed", 0);
		queue_pop(&r->send_head, &r->send_tail);
		free(c->in);
		c->in = NULL;
		c->st = C_HUB_WAIT;
		queue_push(&r->wait_head, &r->wait_tail, c);
		nx_timer_start(r->loop, &c->timer, r->cfg.hub_reply_ms, hub_wait_timeout, c);
	}
	hub_interest_soon(r);
}

/* Act on every reply byte the hub has sent. Returns 0, or -1 when the hub connection was
 * dropped (EOF, a bad reply) — the caller must not touch the queues' old contents then. */
static int hub_read_replies(struct nx_relay *r)
{
	for (int got = 0; r->hub_fd >= 0; got++) {
		/* after a reply, none more owed: a later byte (or EOF) wakes the loop again, and
		 * the recv that would only say EAGAIN is saved (the first read always happens, so
		 * an EOF or a stray byte is never left to wake us for ever) */
		if (got && !r->wait_head && !r->udp_wait)
			break;
		enum nx_handoff_status st;
		int rc = nx_handoff_read_reply(r->hub_fd, &st);
		if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (rc <= 0) {
			hub_down(r, rc == 0 ? "closed" : "bad reply", 0);
			return -1;
		}
		if (st == NX_HANDOFF_DENIED) {
			hub_denied(r, "hub refuses this relay",
			           "not on the hub's allow list (--relay-uid/--relay-group)");
			hub_down(r, "refused", 0);
			return -1;
		}
		r->replies_in++;
		if (r->udp_wait) { /* the first replies are the UDP listeners' (relay_udp.c) */
			relay_udp_reply(r, (int)st);
			continue;
		}
		struct conn *c = queue_pop(&r->wait_head, &r->wait_tail);
		if (!c) {
			hub_down(r, "reply without a handoff", 0);
			return -1;
		}
		nx_timer_stop(r->loop, &c->timer);
		if (r->hub_denied) { /* a real answer: the hub has us again */
			char q[160];
			r->hub_denied = 0;
			r->hub_backoff = HUB_BACKOFF_MIN_MS;
			r->hub_was_up = 1;
			relay_log(r, NX_LOG_INFO, "hub connected", "hub=%s",
			          nx_log_q(q, sizeof q, r->cfg.hub_path));
		}
		if (c->st == C_ABANDONED)
			free_abandoned(c);
		else if (st == NX_HANDOFF_OK) {
			c->outcome = "handed-off";
			conn_free(c); /* closes our copy: the hub has its own */
		} else if (st == NX_HANDOFF_NO_ROUTE)
			answer_no_route(c);
		else
			answer_busy(c, "hub-busy");
	}
	if (r->hub_fd < 0)
		return -1;
	hub_interest_soon(r);
	return 0;
}

static void hub_io(struct nx_loop *loop, int fd, unsigned events, void *arg)
{
	struct nx_relay *r = arg;
	if ((events & NX_EV_READ) && hub_read_replies(r) < 0)
		return;
	if (events & NX_EV_WRITE)
		hub_flush(r);
}

void relay_hub_connect(struct nx_relay *r)
{
	char err[NX_ERRLEN];
	if (r->hub_fd >= 0 || !r->cfg.hub_path || r->stopping)
		return;
	int fd = dial_hub(r->cfg.hub_path, err, sizeof err), e = errno;
	if (fd < 0 && (e == EACCES || e == EPERM || e == ENOTUNIQ)) {
		hub_denied(r, e == ENOTUNIQ ? "hub socket held by an untrusted process"
		                            : "hub refuses this relay", err);
		r->hub_was_up = 0;
		nx_timer_start(r->loop, &r->hub_timer, r->hub_backoff, hub_retry, r);
		r->hub_backoff = r->hub_backoff * 2 > HUB_BACKOFF_MAX_MS ? HUB_BACKOFF_MAX_MS
		                                                         : r->hub_backoff * 2;
		return;
	}
	if (fd < 0) {
		r->hub_denied = 0;
		if (r->hub_was_up || r->hub_backoff == HUB_BACKOFF_MIN_MS) {
			char q[300];
			relay_log(r, r->hub_was_up ? NX_LOG_WARN : NX_LOG_INFO, "hub unreachable",
			          "error=%s", nx_log_q(q, sizeof q, err));
			r->hub_was_up = 0;
		}
		nx_timer_start(r->loop, &r->hub_timer, r->hub_backoff, hub_retry, r);
		r->hub_backoff = r->hub_backoff * 2 > HUB_BACKOFF_MAX_MS ? HUB_BACKOFF_MAX_MS
		                                                         : r->hub_backoff * 2;
		return;
	}
	int big = 1 << 20; /* room for several 64 KiB preludes in flight */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	if (nx_loop_add(r->loop, fd, NX_EV_READ, hub_io, r) < 0) {
		close(fd);
		return;
	}
	r->hub_fd = fd;
	relay_udp_handoff(r);
	char q[160];
	if (r->hub_denied) {
		/* Connected, but a refused relay learns that only from the hub's first byte: keep
		 * the backoff and the silence until a handoff has been answered. */
		r->hub_was_up = 0;
		return;
	}
	r->hub_backoff = HUB_BACKOFF_MIN_MS;
	r->hub_was_up = 1;
	relay_log(r, NX_LOG_INFO, "hub connected", "hub=%s", nx_log_q(q, sizeof q, r->cfg.hub_path));
}

void relay_hub_route(struct conn *c)
{
	struct nx_relay *r = c->r;
	nx_timer_stop(r->loop, &c->timer);
	nx_loop_del(r->loop, c->fd); /* from now on the hub reads this client, not us */
	if (r->hub_fd < 0)
		return answer_busy(c, "hub-down");
	c->st = C_HUB_SEND;
	queue_push(&r->send_head, &r->send_tail, c);
	nx_timer_start(r->loop, &c->timer, r->cfg.hub_reply_ms, hub_send_timeout, c);
	hub_flush(r);
}

void relay_hub_unlink(struct conn *c)
{
	struct nx_relay *r = c->r;
	if (c->st == C_HUB_SEND)
		queue_remove(&r->send_head, &r->send_tail, c);
	else if (c->st == C_HUB_WAIT || c->st == C_ABANDONED)
		queue_remove(&r->wait_head, &r->wait_tail, c);
	if (c->st == C_ABANDONED)
		r->abandoned--;
}

void relay_hub_close(struct nx_relay *r)
{
	nx_timer_stop(r->loop, &r->hub_timer);
	nx_timer_stop(r->loop, &r->hub_tick);
	nx_timer_stop(r->loop, &r->hub_poll);
	if (r->hub_fd >= 0) {
		nx_loop_del(r->loop, r->hub_fd);
		close(r->hub_fd);
		r->hub_fd = -1;
	}
}
