/* bridge_metrics.c — --metrics ADDR for nexus-mqtt2kafka: Prometheus text on GET /metrics
 * (wire/metrics_http.h), served by a thread of its own with its own event loop, since the
 * bridge's main thread sits in rd_kafka_poll(). What it shows is nx_bridge_get_stats(),
 * which is safe from any thread. */
#include "bridge/bridge.h"
#include "core/loop.h"
#include "core/promtext.h"
#include "core/util.h"
#include "wire/metrics_http.h"

#include <pthread.h>
#include <stdlib.h>

struct nx_bridge_metrics {
	struct nx_bridge *b;
	struct nx_loop *loop;
	struct nx_metrics_srv *srv;
	struct nx_timer tick;
	pthread_t th;
	int stop; /* atomic */
};

static void counter(struct nx_prom *p, const char *name, const char *help, uint64_t v)
{
	nx_prom_family(p, name, "counter", help);
	nx_prom_u64(p, name, NULL, NULL, v);
}

static void gauge(struct nx_prom *p, const char *name, const char *help, uint64_t v)
{
	nx_prom_family(p, name, "gauge", help);
	nx_prom_u64(p, name, NULL, NULL, v);
}

static long render(void *arg, char *buf, size_t cap)
{
	struct nx_bridge_metrics *m = arg;
	struct nx_bridge *b = __atomic_load_n(&m->b, __ATOMIC_ACQUIRE);
	struct nx_prom p;
	nx_prom_init(&p, buf, cap);
	gauge(&p, "nexus_mqtt2kafka_running",
	      "1 once started (connected, spool replayed); 0 while starting.", b != NULL);
	if (!b)
		return nx_prom_len(&p);
	struct nx_bridge_stats s;
	nx_bridge_get_stats(b, &s);
	counter(&p, "nexus_mqtt2kafka_received_total", "MQTT messages received.", s.received);
	counter(&p, "nexus_mqtt2kafka_delivered_total", "Messages Kafka confirmed.", s.delivered);
	nx_prom_family(&p, "nexus_mqtt2kafka_dropped_total", "counter",
	               "Messages not carried, by reason: Kafka refused them for good (a delivery "
	               "failure replaying cannot fix), or no --map rule matched.");
	nx_prom_u64(&p, "nexus_mqtt2kafka_dropped_total", "reason", "kafka_refused", s.dropped);
	nx_prom_u64(&p, "nexus_mqtt2kafka_dropped_total", "reason", "no_rule", s.unmatched);
	counter(&p, "nexus_mqtt2kafka_replayed_total",
	        "Messages sent again from the spool after a restart.", s.replayed);
	counter(&p, "nexus_mqtt2kafka_spool_waits_total",
	        "Times intake paused for a full spool or Kafka queue.", s.waits);
	counter(&p, "nexus_mqtt2kafka_mqtt_reconnects_total", "MQTT reconnections.", s.reconnects);
	gauge(&p, "nexus_mqtt2kafka_spool_pending",
	      "Messages in the spool Kafka has not confirmed yet.", s.spool_pending);
	gauge(&p, "nexus_mqtt2kafka_spool_bytes", "Bytes the spool holds on disk.", s.spool_bytes);
	gauge(&p, "nexus_mqtt2kafka_spool_segments", "Spool segment files.", s.spool_segments);
	gauge(&p, "nexus_mqtt2kafka_kafka_queue", "Messages in librdkafka's queue.",
	      s.kafka_queue > 0 ? (uint64_t)s.kafka_queue : 0);
	gauge(&p, "nexus_mqtt2kafka_mqtt_up", "1 while connected to the MQTT broker.",
	      s.mqtt_up != 0);
	return nx_prom_len(&p);
}

static void tick(struct nx_loop *loop, void *arg)
{
	struct nx_bridge_metrics *m = arg;
	if (__atomic_load_n(&m->stop, __ATOMIC_ACQUIRE))
		nx_loop_stop(loop);
	else
		nx_timer_start(loop, &m->tick, 100, tick, m);
}

static void *run(void *arg)
{
	struct nx_bridge_metrics *m = arg;
	nx_timer_start(m->loop, &m->tick, 100, tick, m);
	nx_loop_run(m->loop);
	return NULL;
}

void nx_bridge_metrics_attach(struct nx_bridge_metrics *m, struct nx_bridge *b)
{
	if (m)
		__atomic_store_n(&m->b, b, __ATOMIC_RELEASE);
}

struct nx_bridge_metrics *nx_bridge_metrics_start(const char *addr, char *err, size_t errlen)
{
	struct nx_bridge_metrics *m = calloc(1, sizeof *m);
	if (!m) {
		nx_err(err, errlen, "out of memory");
		return NULL;
	}
	if (!(m->loop = nx_loop_new(err, errlen)))
		goto fail;
	if (!(m->srv = nx_metrics_listen(m->loop, addr, render, m, err, errlen)))
		goto fail;
	if (pthread_create(&m->th, NULL, run, m) != 0) {
		nx_err(err, errlen, "--metrics: cannot start its thread");
		goto fail;
	}
	return m;
fail:
	nx_metrics_free(m->srv);
	nx_loop_free(m->loop);
	free(m);
	return NULL;
}

const char *nx_bridge_metrics_addr(const struct nx_bridge_metrics *m)
{
	return nx_metrics_addr(m->srv);
}

void nx_bridge_metrics_stop(struct nx_bridge_metrics *m)
{
	if (!m)
		return;
	__atomic_store_n(&m->stop, 1, __ATOMIC_RELEASE);
	pthread_join(m->th, NULL);
	nx_timer_stop(m->loop, &m->tick);
	nx_metrics_free(m->srv);
	nx_loop_free(m->loop);
	free(m);
}
