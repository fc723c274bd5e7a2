/* relay_metrics.c — --metrics ADDR for nexus-relay (Prometheus text on GET /metrics,
 * wire/metrics_http.h): connections by outcome and by what the first bytes were (the sniff
 * outcome), bytes carried on --route connections, refusals per source, accept pauses, the
 * hub link, reloads. Counters are bumped where things happen (the connection's log line is
 * where each one is counted); gauges are read when asked. */
#include "relay/relay_int.h"
#include "core/promtext.h"
#include "wire/metrics_http.h"
#include "wire/pump.h"

#include <string.h>

void relay_count_conn(struct nx_relay *r, const struct conn *c)
{
	struct relay_counters *k = &r->ctr;
	const char *o = c->outcome ? c->outcome : "closed";
	size_t i = 0;
	while (i < k->noutcomes && strcmp(k->outcome[i].name, o) != 0)
		i++;
	if (i == k->noutcomes && k->noutcomes < RELAY_MAX_OUTCOMES) {
		k->outcome[i].name = o; /* outcomes are string literals */
		k->noutcomes++;
	}
	if (i < k->noutcomes)
		k->outcome[i].n++;
	k->proto[c->proto < RELAY_NPROTO ? c->proto : 0]++;
	if (c->pump) {
		k->bytes_up += c->up;
		k->bytes_down += c->down;
	}
}

static long render(void *arg, char *buf, size_t cap)
{
	struct nx_relay *r = arg;
	const struct relay_counters *k = &r->ctr;
	static const char *const protos[RELAY_NPROTO] = {"unknown", "tls", "http", "tcp"};
	uint64_t up = k->bytes_up, down = k->bytes_down;
	size_t pumping = 0;
	for (const struct conn *c = r->conns; c; c = c->next)
		if (c->pump && c->st == C_PUMP) {
			up += c->pump->dir[0].bytes;
			down += c->pump->dir[1].bytes;
			pumping++;
		}
	struct nx_prom p;
	nx_prom_init(&p, buf, cap);
	nx_prom_family(&p, "nexus_relay_connections", "gauge",
	               "Client connections held now (sniffing, dialling, pumping, waiting for the hub).");
	nx_prom_u64(&p, "nexus_relay_connections", NULL, NULL, r->nconns);
	nx_prom_family(&p, "nexus_relay_routed_connections", "gauge",
	               "Connections on a --route being pumped now.");
	nx_prom_u64(&p, "nexus_relay_routed_connections", NULL, NULL, pumping);
	nx_prom_family(&p, "nexus_relay_connections_total", "counter",
	               "Client connections ended, by outcome (ok, handed-off, no-route, invalid, ...).");
	for (size_t i = 0; i < k->noutcomes; i++)
		nx_prom_u64(&p, "nexus_relay_connections_total", "outcome", k->outcome[i].name,
		            k->outcome[i].n);
	nx_prom_family(&p, "nexus_relay_sniffed_total", "counter",
	               "Client connections ended, by what their first bytes were.");
	for (int i = 0; i < RELAY_NPROTO; i++)
		nx_prom_u64(&p, "nexus_relay_sniffed_total", "proto", protos[i], k->proto[i]);
	nx_prom_family(&p, "nexus_relay_bytes_total", "counter",
	               "Bytes carried on --route connections (the hub counts those it carries).");
	nx_prom_u64(&p, "nexus_relay_bytes_total", "direction", "up", up);
	nx_prom_u64(&p, "nexus_relay_bytes_total", "direction", "down", down);
	nx_prom_family(&p, "nexus_relay_source_refused_total", "counter",
	               "Connections closed at accept: their source held --max-conns-per-source.");
	nx_prom_u64(&p, "nexus_relay_source_refused_total", NULL, NULL, k->source_refused);
	nx_prom_family(&p, "nexus_relay_accept_pauses_total", "counter",
	               "Times the listeners paused: --max-conns reached or file descriptors short.");
	nx_prom_u64(&p, "nexus_relay_accept_pauses_total", NULL, NULL, k->accept_pauses);
	nx_prom_family(&p, "nexus_relay_hub_up", "gauge",
	               "1 when the relay holds a working connection to the hub (--hub).");
	nx_prom_u64(&p, "nexus_relay_hub_up", NULL, NULL, r->hub_fd >= 0 && r->hub_was_up);
	nx_prom_family(&p, "nexus_relay_reloads_total", "counter", "SIGHUP reloads, by result.");
	nx_prom_u64(&p, "nexus_relay_reloads_total", "result", "ok", k->reloads);
	nx_prom_u64(&p, "nexus_relay_reloads_total", "result", "failed", k->reload_failures);
	return nx_prom_len(&p);
}

int relay_metrics_open(struct nx_relay *r, char *err, size_t errlen)
{
	if (!r->cfg.metrics_addr)
		return 0;
	r->metrics = nx_metrics_listen(r->loop, r->cfg.metrics_addr, render, r, err, errlen);
	if (!r->metrics)
		return -1;
	relay_log(r, NX_LOG_INFO, "metrics", "url=http://%s/metrics", nx_metrics_addr(r->metrics));
	return 0;
}

void relay_metrics_close(struct nx_relay *r)
{
	nx_metrics_free(r->metrics);
	r->metrics = NULL;
}

const char *nx_relay_metrics_addr(const struct nx_relay *r)
{
	return r->metrics ? nx_metrics_addr(r->metrics) : NULL;
}

void nx_relay_reload_failed(struct nx_relay *r) { r->ctr.reload_failures++; }
