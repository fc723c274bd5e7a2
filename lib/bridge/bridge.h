/* bridge.h — nexus-mqtt2kafka's engine: MQTT (libmosquitto, threaded loop) in, spool, Kafka
 * (librdkafka, idempotent, acks=all) out.
 *
 * The guarantee and how it is kept:
 *  - libmosquitto queues a QoS 1 PUBACK before calling on_message; in the threaded loop
 *    (mosquitto_loop_start) the queued packet is written only after on_message returns.
 *    on_message appends the message to the spool (spool.h) before returning, so the broker
 *    is never told "got it" about a message that is not on disk (page cache: survives the
 *    process being killed; with fsync, survives power loss too).
 *  - A spooled message is released (nx_spool_done) only by Kafka's delivery report. Until
 *    then it is replayed at the next start. Duplicates are possible, loss is not.
 *  - Backpressure: while the spool is at its cap or librdkafka's queue is full, on_message
 *    waits, so nothing is PUBACKed and the broker keeps the messages (its in-flight window
 *    fills and it queues the rest in our persistent session).
 *  - If a message cannot be spooled (disk error), the MQTT socket is shut down inside the
 *    callback so its PUBACK can never leave, and the bridge reports a fatal error.
 *
 * The library never prints: what happens is reported through cfg->on_event. */
#ifndef NEXUS_BRIDGE_H
#define NEXUS_BRIDGE_H
#include <stddef.h>
#include <stdint.h>

#include "core/log.h"
#include "bridge/mqttmap.h"
#include "bridge/spool.h"


struct nx_bridge_config {
	struct nx_mqtt_url mqtt;
	const char *cafile, *certfile, *keyfile; /* client certificate: mutual TLS */
	const char *client_id;
	const char *username, *password;
	int mqtt_version;          /* 4 (3.1.1) or 5 */
	int keepalive_s;
	uint32_t session_expiry_s; /* MQTT 5 */
	int receive_max;           /* MQTT 5 in-flight window the broker may use */
	uint64_t connect_timeout_ms;
	const char *kafka_brokers;
	char **kafka_props;        /* "name=value", applied after our defaults */
	int nkafka_props;
	const struct nx_map_rule *rules;
	int nrules;
	struct nx_spool_opts spool;
	nx_log_sink_fn on_event; /* log.h; called from any thread; NULL: nowhere */
	void *event_ctx;
	/* Set (e.g. by a SIGTERM handler) to abandon a replay that waits for Kafka; what is not
	 * confirmed stays in the spool. May be NULL. */
	const volatile int *interrupt;
};

struct nx_bridge_stats {
	uint64_t received, spooled, produced, delivered, dropped, unmatched, replayed;
	uint64_t torn_bytes, waits, reconnects;
	uint64_t spool_bytes, spool_pending;
	unsigned spool_segments;
	int kafka_queue;
	int mqtt_up;
};

struct nx_bridge;

/* Check "name=value" librdkafka properties (names and values) without starting anything. */
int nx_bridge_kafka_check(char **props, int n, char *err, size_t errlen);

/* Open the spool, start the producer, replay what an earlier run left, connect to MQTT and
 * wait for the first CONNACK. Returns 1 (not an error) when *cfg->interrupt stopped it. */
int nx_bridge_start(struct nx_bridge **b, const struct nx_bridge_config *cfg, char *err,
                    size_t errlen);

/* Serve Kafka delivery reports for up to timeout_ms. -1 with err on a fatal error. */
int nx_bridge_poll(struct nx_bridge *b, int timeout_ms, char *err, size_t errlen);

void nx_bridge_get_stats(struct nx_bridge *b, struct nx_bridge_stats *st);

/* --metrics ADDR: Prometheus text of nx_bridge_get_stats() on GET /metrics, served by a
 * thread of its own (bridge_metrics.c). Started (bound) before the bridge, so a bad address
 * fails before anything connects; attach the bridge once it runs; stop it before
 * nx_bridge_free(b). */
struct nx_bridge_metrics;
struct nx_bridge_metrics *nx_bridge_metrics_start(const char *addr, char *err, size_t errlen);
void nx_bridge_metrics_attach(struct nx_bridge_metrics *m, struct nx_bridge *b);
const char *nx_bridge_metrics_addr(const struct nx_bridge_metrics *m);
void nx_bridge_metrics_stop(struct nx_bridge_metrics *m); /* NULL is fine */

/* Stop taking from MQTT, disconnect, flush Kafka for up to drain_ms. *left: messages not
 * confirmed by Kafka (they stay in the spool for the next start). */
void nx_bridge_stop(struct nx_bridge *b, uint64_t drain_ms, uint64_t *left);
void nx_bridge_free(struct nx_bridge *b);

#endif
