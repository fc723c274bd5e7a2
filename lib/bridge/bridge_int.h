/* bridge_int.h — what lib/bridge.c (Kafka side, life cycle) and lib/bridge_mqtt.c (MQTT
 * side) share. Not a public header: commands use bridge.h. */
#ifndef NEXUS_BRIDGE_INT_H
#define NEXUS_BRIDGE_INT_H
#include <librdkafka/rdkafka.h>
#include <mosquitto.h>
#include <pthread.h>

#include "bridge/bridge.h"
#include "core/accept.h"
#include "core/util.h"

/* Spool tickets travel as librdkafka message opaques. */
_Static_assert(sizeof(uintptr_t) >= sizeof(uint64_t), "64-bit pointers needed");

#define ADD(x, n) __atomic_add_fetch(&(x), (n), __ATOMIC_RELAXED)
#define GET(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define SET(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

struct nx_bridge {
	const struct nx_bridge_config *cfg;
	struct nx_spool *spool;
	rd_kafka_t *rk;
	rd_kafka_topic_t **rkt; /* one per rule */
	struct mosquitto *mosq;
	pthread_mutex_t mu;
	pthread_cond_t room; /* spool space freed or Kafka delivered something */
	int stopping, full_said, queue_said;
	int held; /* a message was left unproduced while stopping: produce nothing after it */
	/* first connection */
	int connect_state; /* 0 waiting, 1 connected, -1 failed */
	char connect_err[2 * NX_ERRLEN];
	char mqtt_last_err[NX_ERRLEN];
	int *sub_mids;
	/* fatal error */
	int fatal;
	char fatal_msg[NX_ERRLEN];
	rd_kafka_resp_err_t last_kafka_err;
	uint64_t last_kafka_err_ms;
	struct nx_bridge_stats st;
	struct nx_rates_mt often; /* bridge_event_often: in Kafka's callbacks too */
	size_t max_payload;       /* librdkafka's message.max.bytes: bigger is never produced */
};

void bridge_event(struct nx_bridge *b, int level, const char *msg, const char *kvfmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A line every message can cause (a drop): ten a second at most of each kind (kvfmt), the
 * rest counted into the next one's times= (the stats count them all). */
void bridge_event_often(struct nx_bridge *b, int level, const char *msg, const char *kvfmt, ...)
    __attribute__((format(printf, 4, 5)));
void bridge_set_fatal(struct nx_bridge *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An untrusted string made safe for a logfmt value: control bytes replaced, quoted. */
const char *bridge_logval(char *out, unsigned n, const char *s, size_t len);
/* Wait on b->room (b->mu held) for up to ms. */
void bridge_wait_room(struct nx_bridge *b, int ms);
/* Kafka confirmed (or finally refused) the record with this spool ticket. */
void bridge_release(struct nx_bridge *b, uint64_t ticket);
int bridge_interrupted(const struct nx_bridge *b);
/* Hand one spooled message to librdkafka; from_net: on the MQTT thread. */
void bridge_produce(struct nx_bridge *b, const struct nx_spool_rec *rec, uint64_t ticket, int from_net);
/* Create the client, connect, start the threaded loop, wait for the first CONNACK. */
int bridge_mqtt_setup(struct nx_bridge *b, char *err, size_t errlen);

#endif
