/* hub_admit.c — who may start a backend connection: unauthenticated ("pending") connections
 * are held to cfg.max_pending_per_source per source address (core/accept.h) and
 * cfg.max_pending in all; at the global cap the pending connection that has made the least
 * progress, and the quietest of those, is shed for the newcomer, so neither one client nor a crowd of idle ones can keep
 * a new backend out. Refusals and sheddings are logged at most once a second, counted.
 * End-user streams are held to cfg.max_streams_per_source per client address and
 * cfg.max_streams in all, across every worker (the main hub's counts, under their lock).
 * Live backend sessions likewise, to cfg.max_sessions_per_backend per backend name (the
 * token's sub) and cfg.max_sessions in all: a leaked token or a tunnel that reconnects in a
 * loop cannot make the hub hold sessions without bound. */
#include "hub/hub_int.h"
#include "core/log.h"
#include "core/sock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

void hub_session_pend(struct hub_session *s, const struct nx_src *src)
{
	struct nx_hub *hub = s->hub;
	s->pending = 1;
	hub->n_pending++;
	s->pprev = hub->pend_tail;
	if (hub->pend_tail)
		hub->pend_tail->pnext = s;
	else
		hub->pend_head = s;
	hub->pend_tail = s;
	if (src && nx_srcmap_inc(hub->pending_src, src)) {
		s->src = *src;
		s->has_src = 1;
	}
}

#define ADMIT_REPORT_MS 1000

void hub_session_unpend(struct hub_session *s)
{
	struct nx_hub *hub = s->hub;
	if (!s->pending)
		return;
	s->pending = 0;
	hub->n_pending--;
	if (s->pprev)
		s->pprev->pnext = s->pnext;
	else
		hub->pend_head = s->pnext;
	if (s->pnext)
		s->pnext->pprev = s->pprev;
	else
		hub->pend_tail = s->pprev;
	s->pnext = s->pprev = NULL;
	if (s->has_src) {
		nx_srcmap_dec(hub->pending_src, &s->src);
		s->has_src = 0;
	}
}

/* How far a pending connection has come: one that never sent a byte is shed before one in
 * the middle of its TLS handshake, which is shed before one that finished it. A reconnecting
 * flood of silent sockets then only ever sheds itself, and a real backend, which speaks at
 * once and moves on, keeps its place. */
static int progress(const struct hub_session *s)
{
	if (!s->spoke)
		return 0;
	switch (s->state) {
	case SESS_TLS: return 1;
	case SESS_UPGRADE: return 2;
	default: return 3;
	}
}

/* Bytes waiting on a connection the loop has not read yet: a peer that spoke right after
 * connecting, while this batch of accepts was being handled, has spoken. */
static int has_unread(int fd)
{
	int n = 0;
	return ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

/* The pending connection with the least progress, the quietest of those (oldest first on
 * ties). O(pending) per look, and pending is bounded by cfg.max_pending; a silent-looking
 * candidate with unread bytes is marked as having spoken and the look repeated, at most
 * once per connection. */
static struct hub_session *quietest_pending(struct nx_hub *hub)
{
	for (;;) {
		struct hub_session *best = NULL;
		int bp = 0;
		for (struct hub_session *s = hub->pend_head; s; s = s->pnext) {
			if (s->state == SESS_CLOSING)
				continue;
			int p = progress(s);
			if (!best || p < bp || (p == bp && s->last_rx < best->last_rx)) {
				best = s;
				bp = p;
			}
		}
		if (!best)
			return hub->pend_head;
		if (best->spoke || !has_unread(best->fd))
			return best;
		best->spoke = 1;
	}
}

int hub_admit(struct nx_hub *hub, int fd, const struct nx_src *src, int has_src)
{
	uint64_t now = nx_loop_now(hub->loop), n;
	if (has_src && nx_srcmap_get(hub->pending_src, src) >= hub->cfg.max_pending_per_source) {
		hub->refused_pending++;
		if ((n = nx_rate_note(&hub->refused_src_rate, now, ADMIT_REPORT_MS))) {
			char peer[64];
			nx_peer_addr(fd, peer, sizeof peer, NULL, NULL);
			hub_log(hub, 1, "too many unauthenticated connections from one source, closing new ones",
			        "peer=%s max_per_source=%zu times=%llu", peer,
			        hub->cfg.max_pending_per_source, (unsigned long long)n);
		}
		return -1;
	}
	if (hub->n_pending < hub->cfg.max_pending)
		return 0;
	struct hub_session *victim = quietest_pending(hub);
	if (!victim) {
		hub->refused_pending++;
		return -1;
	}
	hub->shed_pending++;
	if ((n = nx_rate_note(&hub->shed_rate, now, ADMIT_REPORT_MS)))
		hub_log(hub, 1, "too many unauthenticated connections, shedding the quietest",
		        "pending=%zu max_pending=%zu times=%llu", hub->n_pending, hub->cfg.max_pending,
		        (unsigned long long)n);
	hub_hs_failed(victim, HS_SHED);
	hub_session_kill(victim, "shed: too many unauthenticated connections");
	return 0;
}


static struct nx_hub *main_of(struct nx_hub *hub) { return hub->main_hub ? hub->main_hub : hub; }

int hub_streams_admit(struct nx_hub *hub, const char *client)
{
	struct nx_hub *m = main_of(hub);
	struct nx_src src;
	int has_src = nx_src_of_text(client, &src) == 0; /* not IP: only the global cap */
	uint64_t now = nx_loop_now(hub->loop), n = 0;
	int full = 0, rc = 0;
	pthread_mutex_lock(&m->streams_mu);
	if (m->n_tcp_streams >= m->cfg.max_streams) {
		full = 1;
		rc = -1;
		n = nx_rate_note(&m->stream_full_rate, now, ADMIT_REPORT_MS);
	} else if (has_src && nx_srcmap_get(m->stream_src, &src) >= m->cfg.max_streams_per_source) {
		rc = -1;
		n = nx_rate_note(&m->stream_src_rate, now, ADMIT_REPORT_MS);
	} else if (has_src && !nx_srcmap_inc(m->stream_src, &src)) {
		rc = -1; /* out of memory: nothing counted */
	} else {
		m->n_tcp_streams++;
	}
	size_t cap = full ? m->cfg.max_streams : m->cfg.max_streams_per_source;
	pthread_mutex_unlock(&m->streams_mu);
	if (rc == 0)
		return 0;
	if (full)
		hub->ctr.stream_limit++;
	else
		hub->ctr.stream_source_limit++;
	char q[80];
	if (n && full)
		hub_log(hub, 1, "too many streams, refusing new ones", "client=%s max_streams=%zu times=%llu",
		        nx_log_q(q, sizeof q, client), cap, (unsigned long long)n);
	else if (n)
		hub_log(hub, 1, "too many streams from one source, refusing new ones",
		        "client=%s max_per_source=%zu times=%llu", nx_log_q(q, sizeof q, client), cap,
		        (unsigned long long)n);
	return -1;
}

void hub_streams_release(struct nx_hub *hub, const char *client)
{
	struct nx_hub *m = main_of(hub);
	struct nx_src src;
	int has_src = nx_src_of_text(client, &src) == 0;
	pthread_mutex_lock(&m->streams_mu);
	if (has_src)
		nx_srcmap_dec(m->stream_src, &src);
	m->n_tcp_streams--;
	pthread_mutex_unlock(&m->streams_mu);
}

/* ---- live backend sessions ----------------------------------------------------------- */

/* Live sessions per backend name: entries exist only while their count is > 0, so the
 * table holds at most cfg.max_sessions names. */
#define NAME_BUCKETS 256

struct name_count {
	struct name_count *next;
	size_t count;
	char name[];
};

struct hub_names {
	struct name_count *b[NAME_BUCKETS];
};

struct hub_names *hub_names_new(void) { return calloc(1, sizeof(struct hub_names)); }

void hub_names_free(struct hub_names *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < NAME_BUCKETS; i++)
		while (n->b[i]) {
			struct name_count *e = n->b[i];
			n->b[i] = e->next;
			free(e);
		}
	free(n);
}

static struct name_count **name_find(struct hub_names *n, const char *name)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	struct name_count **pp = &n->b[h % NAME_BUCKETS];
	while (*pp && strcmp((*pp)->name, name) != 0)
		pp = &(*pp)->next;
	return pp;
}

/* +1 for name: 0, or -1 when out of memory (nothing counted). */
static int name_inc(struct hub_names *n, const char *name)
{
	struct name_count **pp = name_find(n, name);
	if (!*pp) {
		size_t len = strlen(name);
		struct name_count *e = calloc(1, sizeof *e + len + 1);
		if (!e)
			return -1;
		memcpy(e->name, name, len + 1);
		*pp = e;
	}
	(*pp)->count++;
	return 0;
}

static void name_dec(struct hub_names *n, const char *name)
{
	struct name_count **pp = name_find(n, name), *e = *pp;
	if (e && --e->count == 0) {
		*pp = e->next;
		free(e);
	}
}

int hub_sessions_admit(struct hub_session *s)
{
	struct nx_hub *m = main_of(s->hub);
	const char *name = s->claims.sub; /* stage 0's; a re-auth cannot change it */
	int rc = 0, full = 0;
	pthread_mutex_lock(&m->live_mu);
	if (m->n_live_all >= m->cfg.max_sessions) {
		full = 1;
		rc = -1;
	} else {
		struct name_count **pp = name_find(m->live_names, name);
		if (*pp && (*pp)->count >= m->cfg.max_sessions_per_backend)
			rc = -1;
		else if (name_inc(m->live_names, name) < 0)
			rc = -2;
		else
			m->n_live_all++;
	}
	pthread_mutex_unlock(&m->live_mu);
	if (rc == 0) {
		s->live_counted = 1;
		return 0;
	}
	/* The backend authenticated: tell it why, in words nexus-tunnel shows its user, and
	 * with 1013 (try again later) rather than 1008, so it retries with backoff instead of
	 * taking the refusal for a configuration it must fix. hub_session_fail logs it at most
	 * ten times a second. */
	char why[NX_WS_MAX_CONTROL];
	if (rc == -2) {
		hub_session_fail(s, NX_WS_CLOSE_INTERNAL, "out of memory");
		return -1;
	}
	if (full) {
		s->hub->ctr.session_limit++;
		snprintf(why, sizeof why, "too many backend sessions on this hub (max-sessions %zu), "
		         "try again later", m->cfg.max_sessions);
	} else {
		s->hub->ctr.session_backend_limit++;
		snprintf(why, sizeof why, "too many sessions for backend %.32s (max-sessions-per-"
		         "backend %zu), try again later", name[0] ? name : "-",
		         m->cfg.max_sessions_per_backend);
	}
	hub_session_fail(s, NX_WS_CLOSE_TRY_AGAIN, why);
	return -1;
}

void hub_sessions_release(struct hub_session *s)
{
	if (!s->live_counted)
		return;
	struct nx_hub *m = main_of(s->hub);
	s->live_counted = 0;
	pthread_mutex_lock(&m->live_mu);
	name_dec(m->live_names, s->claims.sub);
	m->n_live_all--;
	pthread_mutex_unlock(&m->live_mu);
}
