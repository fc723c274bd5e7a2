/* hub_relay.c — the relay socket: nexus-relay hands end-user connections over it
 * (wire/handoff.h). Only peers on the allow list (SO_PEERCRED, SO_PEERGROUPS) may: anyone
 * else could inject connections with a made-up client address and route key. The socket file
 * is created with its mode and group from the start, never taken over from a live hub, and
 * removed at exit only while it is still the one this hub bound. */
#include "hub/hub_int.h"
#include "hub/hub_mesh_int.h"
#include "wire/handoff.h"
#include "wire/sniff.h"
#include "core/log.h"
#include "core/sock.h"
#include "core/util.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

#define DENIED_REPORT_MS 10000 /* a refused relay retries every few seconds: say so this often */

static void relay_close(struct hub_relay_conn *rc)
{
	struct nx_hub *hub = rc->hub;
	hub_udp_relay_gone(hub, rc);
	nx_loop_del(hub->loop, rc->fd);
	close(rc->fd);
	if (rc->prev)
		rc->prev->next = rc->next;
	else
		hub->relays = rc->next;
	if (rc->next)
		rc->next->prev = rc->prev;
	free(rc);
}

struct hub_session *hub_pick_local(struct nx_hub *hub, const char *key, const char **matched)
{
	hub_routes_lock(hub);
	struct hub_session *s = nx_routes_pick(hub->routes, key, matched);
	hub_routes_unlock(hub);
	return s;
}

int hub_take_stream(struct hub_session *s, int cfd, const struct nx_handoff *h)
{
	/* No fcntl: the stream's I/O says MSG_DONTWAIT, so blocking or not, the fd never
	 * stalls us (hub_stream.c). The hub writes what the backend sent at once: no Nagle. */
	int one = 1;
	setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (hub_stream_open(s, cfd, h->route_key, h->conn_port, h->client_addr, h->is_tls,
	                    h->prelude, h->prelude_len, 1) < 0) {
		s->hub->ctr.handoff_busy++;
		return NX_HANDOFF_BUSY;
	}
	return NX_HANDOFF_OK;
}

/* Answer one handoff. -1: the relay connection is closed. */
static int relay_answer(struct hub_relay_conn *rc, int status)
{
	if (nx_handoff_reply(rc->fd, (enum nx_handoff_status)status) < 0) {
		relay_close(rc);
		return -1;
	}
	return 0;
}

void hub_relay_resume_all(struct nx_hub *hub)
{
	for (struct hub_relay_conn *rc = hub->relays; rc; rc = rc->next)
		if (rc->paused) {
			rc->paused = 0;
			nx_loop_mod(hub->loop, rc->fd, NX_EV_READ);
		}
}

ssize_t hub_tell_user(int fd, int is_tls, const char *route, uint16_t tls_version, int status)
{
	int busy = status != NX_HANDOFF_NO_ROUTE;
	unsigned char alert[7];
	const void *msg;
	size_t len = 0;
	if (is_tls) {
		len = nx_tls_alert(alert, tls_version, busy ? NX_TLS_ALERT_INTERNAL_ERROR
		                                            : NX_TLS_ALERT_UNRECOGNIZED_NAME);
		msg = alert;
	} else if (strncmp(route, "tcp:", 4) != 0) { /* an HTTP Host route */
		msg = nx_http_error_response(busy ? 503 : 502, &len);
	} else {
		return 0; /* a port claim: no protocol to speak */
	}
	/* a few bytes into a socket nothing was written to: best effort, never blocks */
	return send(fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* A refused client, answered and sent our FIN: what it still sends is read and dropped
 * until it closes or NX_ANSWER_LINGER_MS pass (the relay's conn_answer does the same). */
#define LINGER_MAX 256 /* per loop; beyond that a refused client is closed at once */

struct refused {
	struct nx_hub *hub;
	int fd;
	struct nx_timer timer;
};

static void linger_end(struct refused *l)
{
	nx_timer_stop(l->hub->loop, &l->timer);
	nx_loop_del(l->hub->loop, l->fd);
	close(l->fd);
	l->hub->n_lingering--;
	free(l);
}

static void linger_timeout(struct nx_loop *loop, void *arg) { linger_end(arg); }

/* Read and drop up to 64 KiB: 1 if the client closed (or failed), 0 if it may send more. */
static int drop_input(int fd)
{
	char sink[4096];
	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(fd, sink, sizeof sink, MSG_DONTWAIT);
		if (n <= 0)
			return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
	}
	return 0;
}

static void linger_read(struct nx_loop *loop, int fd, unsigned events, void *arg)
{
	if (drop_input(fd))
		linger_end(arg);
}

void hub_answer_client(struct nx_hub *hub, int fd, const struct nx_handoff *h, int status)
{
	uint16_t v = h->prelude_len >= 3 ? (uint16_t)(h->prelude[1] << 8 | h->prelude[2]) : 0;
	hub_tell_user(fd, h->is_tls, h->route_key, v, status);
	shutdown(fd, SHUT_WR);
	struct refused *l = hub->n_lingering < LINGER_MAX ? calloc(1, sizeof *l) : NULL;
	if (!l || nx_loop_add(hub->loop, fd, NX_EV_READ, linger_read, l) < 0) {
		/* no room to wait: take what is there already (an HTTP body, say), then close */
		drop_input(fd);
		close(fd);
		free(l);
		return;
	}
	l->hub = hub;
	l->fd = fd;
	hub->n_lingering++;
	nx_timer_start(hub->loop, &l->timer, NX_ANSWER_LINGER_MS, linger_timeout, l);
}

/* The status to answer. */
static int take_client(struct hub_relay_conn *rc, int cfd, struct nx_handoff *h)
{
	struct nx_hub *hub = rc->hub;
	const char *matched = NULL;
	hub_routes_lock(hub);
	struct hub_session *s = nx_routes_pick(hub->routes, h->route_key, &matched);
	if (s && s->worker) /* the worker may not free it before it has seen the handoff */
		__atomic_add_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
	hub_routes_unlock(hub);
	if (s && hub_streams_admit(hub, h->client_addr) < 0) {
		if (s->worker) /* a session that died meanwhile goes with its worker's next reap */
			__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
		close(cfd); /* the relay tells the client */
		return NX_HANDOFF_BUSY;
	}
	if (s && s->worker) {
		int behind = hub_worker_behind(s);
		int st = hub_worker_handoff(s, cfd, h); /* takes cfd and h->prelude */
		if (behind && !rc->paused) { /* let the relay wait while the worker catches up */
			rc->paused = 1;
			nx_loop_mod(hub->loop, rc->fd, 0);
		}
		return st;
	}
	if (!s && (s = hub_mesh_pick(hub, h->route_key)) && /* §5: local ones first, then peers */
	    hub_streams_admit(hub, h->client_addr) < 0) {
		close(cfd);
		return NX_HANDOFF_BUSY;
	}
	if (!s) {
		char q[300];
		hub_log(hub, 3, "no route", "route=%s client=%s",
		        nx_sanitize(q, sizeof q, h->route_key, strlen(h->route_key)), h->client_addr);
		close(cfd);
		hub->ctr.handoff_no_route++;
		return NX_HANDOFF_NO_ROUTE;
	}
	return hub_take_stream(s, cfd, h);
}

static void relay_io(struct nx_loop *loop, int fd, unsigned events, void *arg)
{
	struct hub_relay_conn *rc = arg;
	struct nx_hub *hub = rc->hub;
	for (int i = 0; i < 64 && !rc->paused; i++) {
		struct nx_handoff h;
		int cfd = -1;
		char err[NX_ERRLEN];
		memset(&h, 0, sizeof h);
		int r = nx_handoff_recv(fd, &cfd, &h, err, sizeof err);
		if (r == 0) {
			relay_close(rc);
			return;
		}
		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			if (errno == EMFILE) { /* no fd left for the client: busy, said once a second */
				hub->ctr.handoff_busy++;
				hub_report_shortage(hub, "handoff", "no fd for the client");
				if (relay_answer(rc, NX_HANDOFF_BUSY) < 0)
					return;
				continue;
			}
			if (errno == EPROTO) { /* one bad message: refuse it, keep the relay */
				char q[NX_ERRLEN + 8];
				uint64_t n = nx_rate_note(&hub->bad_handoff_rate, nx_loop_now(loop),
				                          NX_ACCEPT_REPORT_MS);
				if (n)
					hub_log(hub, 1, "bad handoff message", "error=%s times=%llu",
					        nx_log_q(q, sizeof q, err), (unsigned long long)n);
				hub->ctr.handoff_bad++;
				if (relay_answer(rc, NX_HANDOFF_BUSY) < 0)
					return;
				continue;
			}
			char q[NX_ERRLEN + 8];
			hub_log(hub, 1, "relay connection failed", "error=%s", nx_log_q(q, sizeof q, err));
			relay_close(rc);
			return;
		}
		int st = h.kind == NX_HANDOFF_UDP ? hub_udp_take(hub, rc, cfd, &h)
		                                  : take_client(rc, cfd, &h);
		free(h.prelude); /* NULL when a worker took it */
		if (relay_answer(rc, st) < 0)
			return;
	}
}

static int id_listed(uint32_t id, const uint32_t *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == id)
			return 1;
	return 0;
}

/* Root and the hub's own user always; then the configured uids and groups. */
static int peer_allowed(const struct nx_hub *hub, int fd, struct ucred *uc)
{
	socklen_t l = sizeof *uc;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, uc, &l) < 0)
		return 0;
	if (uc->uid == 0 || uc->uid == geteuid() || id_listed(uc->uid, hub->cfg.relay_uids,
	                                                      hub->cfg.n_relay_uids))
		return 1;
	if (!hub->cfg.n_relay_gids)
		return 0;
	if (id_listed(uc->gid, hub->cfg.relay_gids, hub->cfg.n_relay_gids))
		return 1;
	gid_t groups[256];
	socklen_t gl = sizeof groups;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &gl) < 0)
		return 0; /* more than 256 groups (ERANGE), or an old kernel: primary gid only */
	for (size_t i = 0; i < gl / sizeof *groups; i++)
		if (id_listed(groups[i], hub->cfg.relay_gids, hub->cfg.n_relay_gids))
			return 1;
	return 0;
}

static void relay_accept(struct nx_loop *loop, int fd, unsigned events, void *arg)
{
	struct nx_hub *hub = arg;
	for (int i = 0; i < 16; i++) {
		int c = hub_accept(hub, &hub->relay_l);
		if (c < 0)
			return;
		struct ucred uc = {.pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1};
		if (!peer_allowed(hub, c, &uc)) {
			/* Say why before closing, so the relay can log it as what it is. */
			nx_handoff_reply(c, NX_HANDOFF_DENIED);
			close(c);
			uint64_t n = nx_rate_note(&hub->relay_denied_rate, nx_loop_now(loop),
			                          DENIED_REPORT_MS);
			if (n)
				hub_log(hub, 0, "relay refused: peer not allowed",
				        "uid=%ld gid=%ld pid=%ld times=%llu hint=\"--relay-uid/--relay-group\"",
				        uc.uid == (uid_t)-1 ? -1L : (long)uc.uid,
				        uc.gid == (gid_t)-1 ? -1L : (long)uc.gid, (long)uc.pid,
				        (unsigned long long)n);
			continue;
		}
		struct hub_relay_conn *rc = calloc(1, sizeof *rc);
		if (!rc || nx_loop_add(loop, c, NX_EV_READ, relay_io, rc) < 0) {
			free(rc);
			close(c);
			continue;
		}
		rc->hub = hub;
		rc->fd = c;
		rc->next = hub->relays;
		if (rc->next)
			rc->next->prev = rc;
		hub->relays = rc;
		hub_log(hub, 3, "relay connected", "uid=%ld pid=%ld", (long)uc.uid, (long)uc.pid);
	}
}

int hub_relay_open(struct nx_hub *hub, char *err, size_t errlen)
{
	struct nx_unix_opts o = {.mode = hub->cfg.relay_socket_mode,
	                         .set_gid = hub->cfg.relay_socket_group_set,
	                         .gid = hub->cfg.relay_socket_gid};
	hub->relay_l.fd = nx_listen_unix_ex(hub->cfg.relay_socket, SOCK_SEQPACKET, &o,
	                                    &hub->relay_id, err, errlen);
	if (hub->relay_l.fd < 0)
		return -1;
	snprintf(hub->relay_path, sizeof hub->relay_path, "%s", hub->cfg.relay_socket);
	if (nx_loop_add(hub->loop, hub->relay_l.fd, NX_EV_READ, relay_accept, hub) < 0)
		return nx_err(err, errlen, "cannot watch the relay socket");
	return 0;
}

void hub_relay_close_all(struct nx_hub *hub)
{
	while (hub->relays)
		relay_close(hub->relays);
	nx_timer_stop(hub->loop, &hub->relay_l.retry);
	if (hub->relay_l.fd >= 0) {
		nx_loop_del(hub->loop, hub->relay_l.fd);
		close(hub->relay_l.fd);
		hub->relay_l.fd = -1;
		/* Another hub may have replaced a socket we thought stale: never delete its file. */
		nx_unlink_unix_if_ours(hub->relay_path, &hub->relay_id);
	}
}
