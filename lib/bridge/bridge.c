/* bridge.c — see bridge.h. Threads: libmosquitto's network thread runs on_message
 * (bridge_mqtt.c: spool append, produce); the caller's thread runs nx_bridge_poll (delivery
 * reports release spool records). One mutex guards the spool; counters are atomics. */
#include "bridge/bridge_int.h"
#include "mqtt/tls_files.h"
#include "bridge/kafkaprops.h"
#include "core/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void bridge_event(struct nx_bridge *b, int level, const char *msg, const char *kvfmt, ...)
{
	va_list ap;
	va_start(ap, kvfmt);
	nx_log_vemit(b->cfg->on_event, b->cfg->event_ctx, level, msg, kvfmt, ap);
	va_end(ap);
}

void bridge_event_often(struct nx_bridge *b, int level, const char *msg, const char *kvfmt, ...)
{
	uint64_t n = nx_rates_mt_note(&b->often, kvfmt);
	va_list ap;
	va_start(ap, kvfmt);
	nx_log_vemit_times(b->cfg->on_event, b->cfg->event_ctx, level, msg, n, kvfmt, ap);
	va_end(ap);
}

/* An untrusted string made safe for a logfmt value: control bytes replaced, quoted. */
const char *bridge_logval(char *out, unsigned n, const char *s, size_t len)
{
	char clean[256];
	nx_sanitize(clean, sizeof clean, s, len);
	return nx_log_q(out, n, clean);
}

void bridge_set_fatal(struct nx_bridge *b, const char *fmt, ...)
{
	pthread_mutex_lock(&b->mu);
	if (!b->fatal) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(b->fatal_msg, sizeof b->fatal_msg, fmt, ap);
		va_end(ap);
		b->fatal = 1;
	}
	pthread_cond_broadcast(&b->room);
	pthread_mutex_unlock(&b->mu);
}

void bridge_wait_room(struct nx_bridge *b, int ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(&b->room, &b->mu, &ts);
}

void bridge_release(struct nx_bridge *b, uint64_t ticket)
{
	pthread_mutex_lock(&b->mu);
	nx_spool_done(b->spool, ticket);
	pthread_cond_broadcast(&b->room);
	pthread_mutex_unlock(&b->mu);
}

/* ---- Kafka ---- */

static int kafka_error_is_retry_later(rd_kafka_resp_err_t e)
{
	/* These leave the message in the spool for the next start instead of dropping it. */
	return e == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT || e == RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE ||
	       e == RD_KAFKA_RESP_ERR__PURGE_QUEUE || e == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT ||
	       e == RD_KAFKA_RESP_ERR__FATAL || e == RD_KAFKA_RESP_ERR__FENCED ||
	       e == RD_KAFKA_RESP_ERR__TRANSPORT || e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct nx_bridge *b = opaque;
	uint64_t ticket = (uint64_t)(uintptr_t)m->_private;
	if (!m->err) {
		ADD(b->st.delivered, 1);
		bridge_release(b, ticket);
		return;
	}
	if (kafka_error_is_retry_later(m->err)) {
		if (m->err != RD_KAFKA_RESP_ERR__PURGE_QUEUE && m->err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
			bridge_set_fatal(b, "Kafka delivery failed: %s (message kept in the spool for the next start)",
			                 rd_kafka_err2str(m->err));
		return;
	}
	/* Permanent refusals (too large, invalid, not authorised): replaying cannot help. */
	ADD(b->st.dropped, 1);
	bridge_event_often(b, 1, "message dropped: Kafka refused it", "error=\"%s\" bytes=%zu",
	             rd_kafka_err2str(m->err), m->len);
	bridge_release(b, ticket);
}

static void on_kafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct nx_bridge *b = opaque;
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char why[256];
		rd_kafka_fatal_error(rk, why, sizeof why);
		bridge_set_fatal(b, "Kafka producer fatal error: %s", why);
		return;
	}
	/* A broker that is down reports every retry: say each kind of error once per 30 s. */
	uint64_t now = nx_now_ms();
	if (err == b->last_kafka_err && now - b->last_kafka_err_ms < 30000)
		return;
	b->last_kafka_err = err;
	b->last_kafka_err_ms = now;
	char r[300];
	bridge_event(b, 1, "kafka", "error=%s detail=%s", rd_kafka_err2name(err),
	             bridge_logval(r, sizeof r, reason, strlen(reason)));
}

static void on_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	struct nx_bridge *b = rd_kafka_opaque(rk);
	char r[300];
	bridge_event(b, level <= 3 ? 1 : 3, "librdkafka", "facility=%s detail=%s", fac,
	             bridge_logval(r, sizeof r, buf, strlen(buf)));
}

static int conf_set(rd_kafka_conf_t *conf, const char *kv, char *err, size_t errlen)
{
	const char *eq = strchr(kv, '=');
	if (!eq || eq == kv)
		return nx_err(err, errlen, "bad Kafka property '%s': want name=value", kv);
	char name[256], why[256];
	snprintf(name, sizeof name, "%.*s", (int)(eq - kv), kv);
	if (rd_kafka_conf_set(conf, name, eq + 1, why, sizeof why) != RD_KAFKA_CONF_OK) {
		/* librdkafka quotes the value: not for a secret */
		if (nx_kafka_prop_is_secret(name, strlen(name)))
			return nx_err(err, errlen, "Kafka property %s: invalid value (not shown)", name);
		return nx_err(err, errlen, "Kafka property %s: %s", name, why);
	}
	return 0;
}

static rd_kafka_conf_t *kafka_conf(const struct nx_bridge_config *c, char **props, int n,
                                   char *err, size_t errlen)
{
	static const char *defaults[] = {
	    "enable.idempotence=true", "acks=all",
	    "message.timeout.ms=0",                 /* never give up: the spool holds it anyway */
	    "linger.ms=5", "queue.buffering.max.messages=100000",
	    "queue.buffering.max.kbytes=65536",     /* bounds memory while Kafka is away */
	    "client.id=nexus-mqtt2kafka",
	};
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++)
		if (conf_set(conf, defaults[i], err, errlen) < 0)
			goto fail;
	if (c && c->kafka_brokers) {
		char why[256];
		if (rd_kafka_conf_set(conf, "bootstrap.servers", c->kafka_brokers, why, sizeof why)) {
			nx_err(err, errlen, "--kafka: %s", why);
			goto fail;
		}
	}
	for (int i = 0; i < n; i++)
		if (conf_set(conf, props[i], err, errlen) < 0)
			goto fail;
	return conf;
fail:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

int nx_bridge_kafka_check(char **props, int n, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = kafka_conf(NULL, props, n, err, errlen);
	if (!conf)
		return -1;
	rd_kafka_conf_destroy(conf);
	return 0;
}

int bridge_interrupted(const struct nx_bridge *b)
{
	return b->cfg->interrupt && *b->cfg->interrupt;
}

/* Hand one spooled message to librdkafka. from_net: called on the MQTT thread (wait on the
 * condition) rather than the caller's (serve delivery reports while waiting). */
void bridge_produce(struct nx_bridge *b, const struct nx_spool_rec *rec, uint64_t ticket, int from_net)
{
	const char *key;
	size_t keylen;
	int r = nx_map_route(b->cfg->rules, b->cfg->nrules, rec->topic, rec->topic_len, &key, &keylen);
	if (r < 0) {
		char t[300];
		ADD(b->st.unmatched, 1);
		bridge_event_often(b, 1, "message matches no --map rule, dropped", "topic=%s",
		             bridge_logval(t, sizeof t, rec->topic, rec->topic_len));
		bridge_release(b, ticket);
		return;
	}
	if (GET(b->held))
		return; /* an earlier message is waiting in the spool: keep the order */
	char qos[2] = {(char)('0' + rec->qos), 0}, retain[2] = {rec->retain ? '1' : '0', 0};
	for (;;) {
		rd_kafka_resp_err_t e = rd_kafka_producev(
		    b->rk, RD_KAFKA_V_RKT(b->rkt[r]), RD_KAFKA_V_KEY(key, keylen),
		    RD_KAFKA_V_VALUE((void *)(rec->payload ? rec->payload : ""), rec->payload_len),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP((int64_t)rec->recv_ms),
		    RD_KAFKA_V_HEADER("mqtt.topic", rec->topic, (ssize_t)rec->topic_len),
		    RD_KAFKA_V_HEADER("mqtt.qos", qos, 1), RD_KAFKA_V_HEADER("mqtt.retain", retain, 1),
		    RD_KAFKA_V_OPAQUE((void *)(uintptr_t)ticket), RD_KAFKA_V_END);
		if (!e) {
			ADD(b->st.produced, 1);
			if (GET(b->queue_said)) {
				SET(b->queue_said, 0);
				bridge_event(b, 2, "Kafka queue has room again", NULL);
			}
			return;
		}
		if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			if (GET(b->stopping) || GET(b->fatal) || bridge_interrupted(b)) {
				/* Stays in the spool for the next start, and so must everything after it:
				 * producing a later message now would put it in Kafka before this one. */
				SET(b->held, 1);
				return;
			}
			if (!GET(b->queue_said)) {
				SET(b->queue_said, 1);
				bridge_event(b, 1, "Kafka queue full: pausing MQTT intake until Kafka catches up",
				             "queued=%d", rd_kafka_outq_len(b->rk));
			}
			ADD(b->st.waits, 1);
			if (from_net) {
				pthread_mutex_lock(&b->mu);
				bridge_wait_room(b, 100);
				pthread_mutex_unlock(&b->mu);
			} else {
				rd_kafka_poll(b->rk, 100);
			}
			continue;
		}
		char t[300];
		ADD(b->st.dropped, 1);
		bridge_event_often(b, 1, "message dropped: Kafka refused it", "topic=%s bytes=%zu error=\"%s\"",
		             bridge_logval(t, sizeof t, rec->topic, rec->topic_len), rec->payload_len,
		             rd_kafka_err2str(e));
		bridge_release(b, ticket);
		return;
	}
}

static int replay_one(void *ctx, const struct nx_spool_rec *rec, uint64_t ticket)
{
	struct nx_bridge *b = ctx;
	ADD(b->st.replayed, 1);
	bridge_produce(b, rec, ticket, 0);
	rd_kafka_poll(b->rk, 0);
	return GET(b->fatal) || bridge_interrupted(b) ? -1 : 0;
}

/* ---- life cycle ---- */

int nx_bridge_start(struct nx_bridge **out, const struct nx_bridge_config *c, char *err, size_t errlen)
{
	struct nx_bridge *b = calloc(1, sizeof *b);
	if (!b)
		return nx_err(err, errlen, "out of memory");
	b->cfg = c;
	pthread_mutex_init(&b->mu, NULL);
	nx_rates_mt_init(&b->often);
	pthread_cond_init(&b->room, NULL);
	*out = b;
	b->sub_mids = calloc((size_t)c->nrules + 1, sizeof *b->sub_mids);
	b->rkt = calloc((size_t)c->nrules + 1, sizeof *b->rkt);
	if (!b->sub_mids || !b->rkt)
		return nx_err(err, errlen, "out of memory");
	/* unreadable TLS files are a configuration error: said before the Kafka producer
	 * starts and has anything to log */
	if (c->mqtt.tls && nx_mqtt_tls_files_ok(c->cafile, c->certfile, c->keyfile, err, errlen) < 0)
		return -1;
	if (nx_spool_open(&b->spool, &c->spool, err, errlen) < 0)
		return -1;
	rd_kafka_conf_t *conf = kafka_conf(c, c->kafka_props, c->nkafka_props, err, errlen);
	if (!conf)
		return -1;
	char mmb[32];
	size_t mmb_len = sizeof mmb;
	if (rd_kafka_conf_get(conf, "message.max.bytes", mmb, &mmb_len) == RD_KAFKA_CONF_OK)
		b->max_payload = (size_t)strtoull(mmb, NULL, 10);
	rd_kafka_conf_set_opaque(conf, b);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_error_cb(conf, on_kafka_error);
	rd_kafka_conf_set_log_cb(conf, on_kafka_log);
	char why[512];
	b->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
	if (!b->rk) {
		rd_kafka_conf_destroy(conf);
		return nx_err(err, errlen, "Kafka producer: %s", why);
	}
	for (int i = 0; i < c->nrules; i++) {
		b->rkt[i] = rd_kafka_topic_new(b->rk, c->rules[i].kafka_topic, NULL);
		if (!b->rkt[i])
			return nx_err(err, errlen, "Kafka topic %s: %s", c->rules[i].kafka_topic,
			              rd_kafka_err2str(rd_kafka_last_error()));
	}
	struct nx_spool_replay_stats rs;
	if (nx_spool_replay(b->spool, replay_one, b, &rs, err, errlen) < 0) {
		if (b->fatal)
			return nx_err(err, errlen, "%s", b->fatal_msg);
		if (bridge_interrupted(b))
			return 1;
		return -1;
	}
	SET(b->st.torn_bytes, rs.torn_bytes);
	if (rs.segments)
		bridge_event(b, 2, "spool replayed", "records=%llu already_in_kafka=%llu segments=%u torn_bytes=%llu",
		             (unsigned long long)rs.records, (unsigned long long)rs.skipped, rs.segments,
		             (unsigned long long)rs.torn_bytes);
	return bridge_mqtt_setup(b, err, errlen);
}

int nx_bridge_poll(struct nx_bridge *b, int timeout_ms, char *err, size_t errlen)
{
	rd_kafka_poll(b->rk, timeout_ms);
	pthread_mutex_lock(&b->mu);
	int fatal = b->fatal;
	if (fatal)
		nx_err(err, errlen, "%s", b->fatal_msg);
	pthread_mutex_unlock(&b->mu);
	return fatal ? -1 : 0;
}

void nx_bridge_get_stats(struct nx_bridge *b, struct nx_bridge_stats *st)
{
	pthread_mutex_lock(&b->mu);
	st->received = GET(b->st.received);
	st->spooled = GET(b->st.spooled);
	st->produced = GET(b->st.produced);
	st->delivered = GET(b->st.delivered);
	st->dropped = GET(b->st.dropped);
	st->unmatched = GET(b->st.unmatched);
	st->replayed = GET(b->st.replayed);
	st->torn_bytes = GET(b->st.torn_bytes);
	st->waits = GET(b->st.waits);
	st->reconnects = GET(b->st.reconnects);
	st->mqtt_up = GET(b->st.mqtt_up);
	st->spool_bytes = b->spool ? nx_spool_bytes(b->spool) : 0;
	st->spool_pending = b->spool ? nx_spool_outstanding(b->spool) : 0;
	st->spool_segments = b->spool ? nx_spool_segments(b->spool) : 0;
	pthread_mutex_unlock(&b->mu);
	st->kafka_queue = b->rk ? rd_kafka_outq_len(b->rk) : 0;
}

void nx_bridge_stop(struct nx_bridge *b, uint64_t drain_ms, uint64_t *left)
{
	pthread_mutex_lock(&b->mu);
	b->stopping = 1;
	pthread_cond_broadcast(&b->room);
	pthread_mutex_unlock(&b->mu);
	if (b->mosq) {
		mosquitto_disconnect_v5(b->mosq, 0, NULL);
		mosquitto_loop_stop(b->mosq, false);
	}
	if (b->rk) {
		rd_kafka_flush(b->rk, (int)(drain_ms > 3600000 ? 3600000 : drain_ms));
		/* What Kafka did not confirm stays in the spool: purged, never released. */
		rd_kafka_purge(b->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_poll(b->rk, 0);
	}
	pthread_mutex_lock(&b->mu);
	*left = b->spool ? nx_spool_outstanding(b->spool) : 0;
	pthread_mutex_unlock(&b->mu);
}

void nx_bridge_free(struct nx_bridge *b)
{
	if (!b)
		return;
	if (b->mosq) {
		mosquitto_loop_stop(b->mosq, false);
		mosquitto_destroy(b->mosq);
		mosquitto_lib_cleanup();
	}
	for (int i = 0; b->rkt && i < b->cfg->nrules; i++)
		if (b->rkt[i])
			rd_kafka_topic_destroy(b->rkt[i]);
	if (b->rk)
		rd_kafka_destroy(b->rk);
	nx_spool_close(b->spool);
	free(b->rkt);
	free(b->sub_mids);
	pthread_cond_destroy(&b->room);
	pthread_mutex_destroy(&b->mu);
	nx_rates_mt_destroy(&b->often);
	free(b);
}
