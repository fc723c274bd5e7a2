/* hub_metrics.c — what an operator sees of the hub: --metrics ADDR (Prometheus text on GET
 * /metrics, the connected backends as JSON on GET /backends; wire/metrics_http.h) and the
 * SIGUSR1 status line. Counters live in hub->ctr and are bumped where things happen;
 * gauges are read off the live sessions and streams when asked. */
#include "hub/hub_int.h"
#include "hub/hub_mesh_int.h"
#include "core/log.h"
#include "core/promtext.h"
#include "core/util.h"
#include "wire/metrics_http.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const hs_names[HS_N] = {"tls", "upgrade", "refused", "timeout", "closed",
                                           "shed"};

void hub_hs_failed(struct hub_session *s, enum hub_hs_fail r)
{
	if (!s->pending || s->hs_counted)
		return;
	s->hs_counted = 1;
	s->hub->ctr.hs_fail[r]++;
}

/* What every hub (the main one, each worker's) has counted, and its open streams' bytes
 * and stalls. The caller holds the workers' locks. */
struct totals {
	struct hub_counters c;
	uint64_t up, down; /* bytes of all streams, the closed ones and those open now */
	size_t stalled;
};

static void add_totals(struct totals *t, const struct nx_hub *h)
{
	uint64_t *d = (uint64_t *)&t->c;
	const uint64_t *c = (const uint64_t *)&h->ctr;
	for (size_t i = 0; i < sizeof h->ctr / sizeof *c; i++)
		d[i] += c[i];
	t->up += h->ctr.bytes_up;
	t->down += h->ctr.bytes_down;
	for (const struct hub_stream *st = h->streams; st; st = st->next) {
		t->up += st->up_bytes;
		t->down += st->down_bytes;
		t->stalled += st->stalled != 0;
	}
}

static void totals_get(struct nx_hub *hub, struct totals *t, struct nx_hub_stats *st)
{
	memset(t, 0, sizeof *t);
	struct nx_hub *h;
	for (size_t i = 0; (h = hub_each(hub, i)); i++)
		add_totals(t, h);
	hub_stats(hub, st);
}

static int live(const struct hub_session *s)
{
	return !s->dead && s->state == SESS_LIVE && !s->mesh; /* peer links are not backends */
}

/* Sessions and streams per --backends name: the live keyed sessions sorted by name, one
 * sample per run of equal names (n log n: a scrape never walks the sessions n times). */
static int by_bname(const void *a, const void *b)
{
	return strcmp((*(const struct hub_session *const *)a)->bname,
	              (*(const struct hub_session *const *)b)->bname);
}

static void per_backend(struct nx_prom *p, struct nx_hub *hub, int streams)
{
	size_t n = 0;
	struct nx_hub *h;
	for (size_t w = 0; (h = hub_each(hub, w)); w++)
		for (const struct hub_session *s = h->sessions; s; s = s->next)
			n += live(s) && s->bname[0];
	if (!n)
		return;
	const struct hub_session **v = malloc(n * sizeof *v);
	if (!v)
		return;
	size_t k = 0;
	for (size_t w = 0; (h = hub_each(hub, w)); w++)
		for (const struct hub_session *s = h->sessions; s; s = s->next)
			if (live(s) && s->bname[0])
				v[k++] = s;
	qsort(v, n, sizeof *v, by_bname);
	for (size_t i = 0; i < n;) {
		uint64_t sum = 0;
		size_t j = i;
		for (; j < n && strcmp(v[j]->bname, v[i]->bname) == 0; j++)
			sum += streams ? v[j]->n_streams : 1;
		nx_prom_u64(p, streams ? "nexus_hub_backend_streams" : "nexus_hub_backend_sessions",
		            "backend", v[i]->bname, sum);
		i = j;
	}
	free(v);
}

static long render(struct nx_hub *hub, char *buf, size_t cap);

static long render_metrics(void *arg, char *buf, size_t cap)
{
	struct nx_hub *hub = arg;
	hub_workers_lock(hub);
	long n = render(hub, buf, cap);
	hub_workers_unlock(hub);
	return n;
}

static long render(struct nx_hub *hub, char *buf, size_t cap)
{
	struct totals t;
	struct nx_hub_stats st;
	totals_get(hub, &t, &st);
	const struct hub_counters *c = &t.c;
	uint64_t up = t.up, down = t.down;
	struct nx_prom p;
	nx_prom_init(&p, buf, cap);
	nx_prom_family(&p, "nexus_hub_sessions", "gauge", "Backend sessions registered now.");
	nx_prom_u64(&p, "nexus_hub_sessions", NULL, NULL, st.sessions);
	nx_prom_family(&p, "nexus_hub_sessions_total", "counter", "Backend sessions registered.");
	nx_prom_u64(&p, "nexus_hub_sessions_total", NULL, NULL, c->sessions_total);
	nx_prom_family(&p, "nexus_hub_backend_sessions", "gauge",
	               "Sessions registered now per --backends name.");
	per_backend(&p, hub, 0);
	nx_prom_family(&p, "nexus_hub_streams", "gauge", "End-user streams open now.");
	nx_prom_u64(&p, "nexus_hub_streams", NULL, NULL, st.streams);
	nx_prom_family(&p, "nexus_hub_backend_streams", "gauge",
	               "Streams open now per --backends name.");
	per_backend(&p, hub, 1);
	nx_prom_family(&p, "nexus_hub_streams_total", "counter", "End-user streams opened.");
	nx_prom_u64(&p, "nexus_hub_streams_total", NULL, NULL, c->streams_total);
	nx_prom_family(&p, "nexus_hub_bytes_total", "counter",
	               "Stream bytes: to_backend (end users to backends), to_user (back).");
	nx_prom_u64(&p, "nexus_hub_bytes_total", "direction", "to_backend", up);
	nx_prom_u64(&p, "nexus_hub_bytes_total", "direction", "to_user", down);
	nx_prom_family(&p, "nexus_hub_buffered_bytes", "gauge",
	               "Bytes the hub holds for end users and backends now.");
	nx_prom_u64(&p, "nexus_hub_buffered_bytes", NULL, NULL, st.buffered);
	nx_prom_family(&p, "nexus_hub_pending_connections", "gauge",
	               "Backend connections not authenticated yet.");
	nx_prom_u64(&p, "nexus_hub_pending_connections", NULL, NULL, hub->n_pending);
	nx_prom_family(&p, "nexus_hub_handshake_failures_total", "counter",
	               "Backend connections that never registered, by reason.");
	for (int i = 0; i < HS_N; i++)
		nx_prom_u64(&p, "nexus_hub_handshake_failures_total", "reason", hs_names[i],
		            c->hs_fail[i]);
	nx_prom_u64(&p, "nexus_hub_handshake_failures_total", "reason", "too_many_pending",
	            hub->refused_pending);
	nx_prom_family(&p, "nexus_hub_credit_stalls_total", "counter",
	               "Times a stream ran out of credits (its backend had not caught up).");
	nx_prom_u64(&p, "nexus_hub_credit_stalls_total", NULL, NULL, c->credit_stalls);
	nx_prom_family(&p, "nexus_hub_streams_stalled", "gauge", "Streams out of credits now.");
	nx_prom_u64(&p, "nexus_hub_streams_stalled", NULL, NULL, t.stalled);
	nx_prom_family(&p, "nexus_hub_workers", "gauge",
	               "Worker threads carrying live sessions (--workers; 0: the main thread only).");
	nx_prom_u64(&p, "nexus_hub_workers", NULL, NULL, hub->n_workers);
	nx_prom_family(&p, "nexus_hub_handoff_failures_total", "counter",
	               "Relay handoffs not taken, by reason.");
	nx_prom_u64(&p, "nexus_hub_handoff_failures_total", "reason", "no_route", c->handoff_no_route);
	nx_prom_u64(&p, "nexus_hub_handoff_failures_total", "reason", "busy", c->handoff_busy);
	nx_prom_u64(&p, "nexus_hub_handoff_failures_total", "reason", "bad_message", c->handoff_bad);
	nx_prom_family(&p, "nexus_hub_streams_refused_total", "counter",
	               "End-user streams refused at --max-streams-per-source or --max-streams.");
	nx_prom_u64(&p, "nexus_hub_streams_refused_total", "reason", "source_limit",
	            c->stream_source_limit);
	nx_prom_u64(&p, "nexus_hub_streams_refused_total", "reason", "stream_limit", c->stream_limit);
	nx_prom_family(&p, "nexus_hub_sessions_refused_total", "counter",
	               "Authenticated backend sessions refused (close 1013) at "
	               "--max-sessions-per-backend or --max-sessions.");
	nx_prom_u64(&p, "nexus_hub_sessions_refused_total", "reason", "backend_limit",
	            c->session_backend_limit);
	nx_prom_u64(&p, "nexus_hub_sessions_refused_total", "reason", "session_limit",
	            c->session_limit);
	nx_prom_family(&p, "nexus_hub_peer_links_up", "gauge",
	               "Links this hub dialled (--peer) that are up now.");
	nx_prom_u64(&p, "nexus_hub_peer_links_up", NULL, NULL, hub_mesh_links_up(hub));
	nx_prom_family(&p, "nexus_hub_peer_routes", "gauge",
	               "Route keys peer hubs announced to this hub, now.");
	nx_prom_u64(&p, "nexus_hub_peer_routes", NULL, NULL, hub_mesh_peer_routes(hub));
	nx_prom_family(&p, "nexus_hub_reloads_total", "counter",
	               "SIGHUP reloads, by result.");
	nx_prom_u64(&p, "nexus_hub_reloads_total", "result", "ok", c->reloads);
	nx_prom_u64(&p, "nexus_hub_reloads_total", "result", "failed", c->reload_failures);
	if (hub->cfg.verify_url) {
		nx_prom_family(&p, "nexus_hub_verifications_total", "counter",
		               "Tokens sent to --verify-url, by answer: valid, refused (valid:false, a "
		               "4xx, a bad answer), unavailable (down, 5xx, timeout: local key used "
		               "if there is one).");
		nx_prom_u64(&p, "nexus_hub_verifications_total", "result", "valid", c->verify_valid);
		nx_prom_u64(&p, "nexus_hub_verifications_total", "result", "refused", c->verify_refused);
		nx_prom_u64(&p, "nexus_hub_verifications_total", "result", "unavailable",
		            c->verify_unavailable);
	}
	return nx_prom_len(&p);
}

static json_t *session_json(const struct hub_session *s)
{
	char since[32] = "";
	time_t t = (time_t)s->live_since;
	struct tm tm;
	if (gmtime_r(&t, &tm))
		strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_t *hosts = json_array(), *ports = json_array();
	for (size_t i = 0; i < s->claims.n_hostnames; i++)
		json_array_append_new(hosts, json_string(s->claims.hostnames[i]));
	for (size_t i = 0; i < s->claims.n_tcp_ports; i++)
		json_array_append_new(ports, json_integer(s->claims.tcp_ports[i]));
	return json_pack("{s:o, s:s, s:o, s:o, s:o, s:i, s:I, s:s, s:s, s:i}",
	                 "name", s->bname[0] ? json_string(s->bname) : json_null(),
	                 "sub", s->claims.sub,
	                 "kid", s->kid[0] ? json_string(s->kid) : json_null(),
	                 "hostnames", hosts, "tcp_ports", ports,
	                 "weight", s->claims.weight, "streams", (json_int_t)s->n_streams,
	                 "since", since, "peer", s->peer, "worker", (int)s->hub->worker_index);
}

static long render_backends(void *arg, char *buf, size_t cap)
{
	struct nx_hub *hub = arg;
	json_t *a = json_array();
	if (!a)
		return -1;
	hub_workers_lock(hub);
	struct nx_hub *h;
	for (size_t i = 0; (h = hub_each(hub, i)); i++)
		for (const struct hub_session *s = h->sessions; s; s = s->next) {
			json_t *o;
			if (live(s) && (o = session_json(s)))
				json_array_append_new(a, o);
		}
	hub_workers_unlock(hub);
	char *d = json_dumps(a, JSON_INDENT(1));
	json_decref(a);
	if (!d)
		return -1;
	size_t n = strlen(d);
	long rc = -1;
	if (n + 1 < cap) {
		memcpy(buf, d, n);
		buf[n] = '\n';
		rc = (long)n + 1;
	}
	free(d);
	return rc;
}

int hub_metrics_open(struct nx_hub *hub, char *err, size_t errlen)
{
	if (!hub->cfg.metrics_addr)
		return 0;
	hub->metrics =
	    nx_metrics_listen(hub->loop, hub->cfg.metrics_addr, render_metrics, hub, err, errlen);
	if (!hub->metrics)
		return -1;
	nx_metrics_route(hub->metrics, "/backends", "application/json", render_backends, hub);
	hub_log(hub, NX_LOG_INFO, "metrics", "url=http://%s/metrics backends=http://%s/backends",
	        nx_metrics_addr(hub->metrics), nx_metrics_addr(hub->metrics));
	return 0;
}

void hub_metrics_close(struct nx_hub *hub)
{
	nx_metrics_free(hub->metrics);
	hub->metrics = NULL;
}

void nx_hub_log_status(struct nx_hub *hub)
{
	struct totals t;
	struct nx_hub_stats st;
	hub_workers_lock(hub);
	totals_get(hub, &t, &st);
	hub_workers_unlock(hub);
	const struct hub_counters *c = &t.c;
	uint64_t fails = hub->refused_pending;
	for (int i = 0; i < HS_N; i++)
		fails += c->hs_fail[i];
	char mesh[64] = ""; /* only on a hub in a mesh */
	if (hub->mesh)
		snprintf(mesh, sizeof mesh, " peer_links_up=%zu peer_routes=%zu", hub_mesh_links_up(hub),
		         hub_mesh_peer_routes(hub));
	hub_log(hub, NX_LOG_INFO, "status",
	        "backends=%zu streams=%zu routes=%zu pending=%zu buffered=%llu sessions_total=%llu "
	        "streams_total=%llu bytes_to_backend=%llu bytes_to_user=%llu handshake_failures=%llu "
	        "credit_stalls=%llu handoff_failures=%llu streams_refused=%llu sessions_refused=%llu "
	        "reloads=%llu%s",
	        st.sessions, st.streams, st.routes, hub->n_pending, (unsigned long long)st.buffered,
	        (unsigned long long)c->sessions_total, (unsigned long long)c->streams_total,
	        (unsigned long long)t.up, (unsigned long long)t.down, (unsigned long long)fails,
	        (unsigned long long)c->credit_stalls,
	        (unsigned long long)(c->handoff_no_route + c->handoff_busy + c->handoff_bad),
	        (unsigned long long)(c->stream_source_limit + c->stream_limit),
	        (unsigned long long)(c->session_backend_limit + c->session_limit),
	        (unsigned long long)c->reloads, mesh);
}
