/* hub_admit.c — who may start a backend connection: unauthenticated ("pending") connections
 * are held to cfg.max_pending_per_source per source address (core/accept.h) and
 * cfg.max_pending in all; at the global cap the pending connection that has been quiet
 * longest is shed for the newcomer, so neither one client nor a crowd of idle ones can keep
 * a new backend out. Refusals and sheddings are logged at most once a second, counted. */
#include "hub/hub_int.h"
#include "core/log.h"
#include "core/sock.h"

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

/* The pending connection that has been quiet longest (oldest first on ties). O(pending),
 * and pending is bounded by cfg.max_pending. */
static struct hub_session *quietest_pending(struct nx_hub *hub)
{
	struct hub_session *best = NULL;
	for (struct hub_session *s = hub->pend_head; s; s = s->pnext)
		if (s->state != SESS_CLOSING && (!best || s->last_rx < best->last_rx))
			best = s;
	return best ? best : hub->pend_head;
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
	hub_session_kill(victim, "shed: too many unauthenticated connections");
	return 0;
}

