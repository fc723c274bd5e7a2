/* bridge.c — see bridge.h. Threads: libmosquitto's network thread runs on_message (spool
 * append, produce); the caller's thread runs nx_bridge_poll (delivery reports release spool
 * records). One mutex guards the spool; counters are atomics. */
#include "bridge.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

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
};

static void event(struct nx_bridge *b, int level, const char *msg, const char *kvfmt, ...)
    __attribute__((format(printf, 4, 5)));
static void event(struct nx_bridge *b, int level, const char *msg, const char *kvfmt, ...)
{
	if (!b->cfg->on_event)
		return;
	char kv[1024] = "";
	if (kvfmt) {
		va_list ap;
		va_start(ap, kvfmt);
		vsnprintf(kv, sizeof kv, kvfmt, ap);
		va_end(ap);
	}
	b->cfg->on_event(b->cfg->event_ctx, level, msg, kv);
}

/* An untrusted string made safe for a logfmt value: control bytes replaced, quoted. */
static const char *logval(char *out, unsigned n, const char *s, size_t len)
{
	char clean[256];
	nx_sanitize(clean, sizeof clean, s, len);
	return nx_log_q(out, n, clean);
}

static void set_fatal(struct nx_bridge *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_fatal(struct nx_bridge *b, const char *fmt, ...)
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

static void wait_room(struct nx_bridge *b, int ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(&b->room, &b->mu, &ts);
}

static void release(struct nx_bridge *b, uint64_t seg)
{
	pthread_mutex_lock(&b->mu);
	nx_spool_done(b->spool, seg);
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
	uint64_t seg = (uint64_t)(uintptr_t)m->_private;
	if (!m->err) {
		ADD(b->st.delivered, 1);
		release(b, seg);
		return;
	}
	if (kafka_error_is_retry_later(m->err)) {
		if (m->err != RD_KAFKA_RESP_ERR__PURGE_QUEUE && m->err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
			set_fatal(b, "Kafka delivery failed: %s (message kept in the spool for the next start)",
			          rd_kafka_err2str(m->err));
		return;
	}
	/* Permanent refusals (too large, invalid, not authorised): replaying cannot help. */
	ADD(b->st.dropped, 1);
	event(b, 1, "message dropped: Kafka refused it", "error=\"%s\" bytes=%zu",
	      rd_kafka_err2str(m->err), m->len);
	release(b, seg);
}

static void on_kafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct nx_bridge *b = opaque;
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char why[256];
		rd_kafka_fatal_error(rk, why, sizeof why);
		set_fatal(b, "Kafka producer fatal error: %s", why);
		return;
	}
	/* A broker that is down reports every retry: say each kind of error once per 30 s. */
	uint64_t now = nx_now_ms();
	if (err == b->last_kafka_err && now - b->last_kafka_err_ms < 30000)
		return;
	b->last_kafka_err = err;
	b->last_kafka_err_ms = now;
	char r[300];
	event(b, 1, "kafka", "error=%s detail=%s", rd_kafka_err2name(err),
	      logval(r, sizeof r, reason, strlen(reason)));
}

static void on_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	struct nx_bridge *b = rd_kafka_opaque(rk);
	char r[300];
	event(b, level <= 3 ? 1 : 3, "librdkafka", "facility=%s detail=%s", fac,
	      logval(r, sizeof r, buf, strlen(buf)));
}

static int conf_set(rd_kafka_conf_t *conf, const char *kv, char *err, size_t errlen)
{
	const char *eq = strchr(kv, '=');
	if (!eq || eq == kv)
		return nx_err(err, errlen, "bad Kafka property '%s': want name=value", kv);
	char name[256], why[256];
	snprintf(name, sizeof name, "%.*s", (int)(eq - kv), kv);
	if (rd_kafka_conf_set(conf, name, eq + 1, why, sizeof why) != RD_KAFKA_CONF_OK)
		return nx_err(err, errlen, "Kafka property %s: %s", name, why);
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

static int interrupted(const struct nx_bridge *b)
{
	return b->cfg->interrupt && *b->cfg->interrupt;
}

/* Hand one spooled message to librdkafka. from_net: called on the MQTT thread (wait on the
 * condition) rather than the caller's (serve delivery reports while waiting). */
static void produce(struct nx_bridge *b, const struct nx_spool_rec *rec, uint64_t seg, int from_net)
{
	const char *key;
	size_t keylen;
	int r = nx_map_route(b->cfg->rules, b->cfg->nrules, rec->topic, rec->topic_len, &key, &keylen);
	if (r < 0) {
		char t[300];
		ADD(b->st.unmatched, 1);
		event(b, 1, "message matches no --map rule, dropped", "topic=%s",
		      logval(t, sizeof t, rec->topic, rec->topic_len));
		release(b, seg);
		return;
	}
	char qos[2] = {(char)('0' + rec->qos), 0}, retain[2] = {rec->retain ? '1' : '0', 0};
	for (;;) {
		rd_kafka_resp_err_t e = rd_kafka_producev(
		    b->rk, RD_KAFKA_V_RKT(b->rkt[r]), RD_KAFKA_V_KEY(key, keylen),
		    RD_KAFKA_V_VALUE((void *)(rec->payload ? rec->payload : ""), rec->payload_len),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP((int64_t)rec->recv_ms),
		    RD_KAFKA_V_HEADER("mqtt.topic", rec->topic, (ssize_t)rec->topic_len),
		    RD_KAFKA_V_HEADER("mqtt.qos", qos, 1), RD_KAFKA_V_HEADER("mqtt.retain", retain, 1),
		    RD_KAFKA_V_OPAQUE((void *)(uintptr_t)seg), RD_KAFKA_V_END);
		if (!e) {
			ADD(b->st.produced, 1);
			if (GET(b->queue_said)) {
				SET(b->queue_said, 0);
				event(b, 2, "Kafka queue has room again", NULL);
			}
			return;
		}
		if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			if (GET(b->stopping) || GET(b->fatal) || interrupted(b))
				return; /* stays in the spool: replayed at the next start */
			if (!GET(b->queue_said)) {
				SET(b->queue_said, 1);
				event(b, 1, "Kafka queue full: pausing MQTT intake until Kafka catches up",
				      "queued=%d", rd_kafka_outq_len(b->rk));
			}
			ADD(b->st.waits, 1);
			if (from_net) {
				pthread_mutex_lock(&b->mu);
				wait_room(b, 100);
				pthread_mutex_unlock(&b->mu);
			} else {
				rd_kafka_poll(b->rk, 100);
			}
			continue;
		}
		char t[300];
		ADD(b->st.dropped, 1);
		event(b, 1, "message dropped: Kafka refused it", "topic=%s bytes=%zu error=\"%s\"",
		      logval(t, sizeof t, rec->topic, rec->topic_len), rec->payload_len,
		      rd_kafka_err2str(e));
		release(b, seg);
		return;
	}
}

static int replay_one(void *ctx, const struct nx_spool_rec *rec, uint64_t seg)
{
	struct nx_bridge *b = ctx;
	ADD(b->st.replayed, 1);
	produce(b, rec, seg, 0);
	rd_kafka_poll(b->rk, 0);
	return GET(b->fatal) || interrupted(b) ? -1 : 0;
}

/* ---- MQTT ---- */

static void on_mqtt_log(struct mosquitto *m, void *obj, int level, const char *str)
{
	struct nx_bridge *b = obj;
	if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING)) {
		pthread_mutex_lock(&b->mu);
		nx_sanitize(b->mqtt_last_err, sizeof b->mqtt_last_err, str, strlen(str));
		pthread_mutex_unlock(&b->mu);
	}
	char s[300];
	event(b, 3, "libmosquitto", "detail=%s", logval(s, sizeof s, str, strlen(str)));
}

static void subscribe_all(struct nx_bridge *b)
{
	for (int i = 0; i < b->cfg->nrules; i++) {
		int rc = mosquitto_subscribe_v5(b->mosq, &b->sub_mids[i], b->cfg->rules[i].filter, 1, 0, NULL);
		if (rc != MOSQ_ERR_SUCCESS)
			event(b, 0, "mqtt subscribe failed", "filter=\"%s\" error=\"%s\"",
			      b->cfg->rules[i].filter, mosquitto_strerror(rc));
	}
}

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags, const mosquitto_property *p)
{
	struct nx_bridge *b = obj;
	const char *why = b->cfg->mqtt_version == 5 ? mosquitto_reason_string(rc) : mosquitto_connack_string(rc);
	pthread_mutex_lock(&b->mu);
	int first = b->connect_state == 0;
	if (first) {
		b->connect_state = rc == 0 ? 1 : -1;
		if (rc)
			snprintf(b->connect_err, sizeof b->connect_err, "MQTT broker refused the connection: %s", why);
		pthread_cond_broadcast(&b->room);
	}
	pthread_mutex_unlock(&b->mu);
	if (rc) {
		if (!first)
			event(b, 0, "mqtt connection refused", "reason=\"%s\"", why);
		return;
	}
	SET(b->st.mqtt_up, 1);
	event(b, 2, "mqtt connected", "session_present=%d", flags & 1);
	subscribe_all(b);
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc, const mosquitto_property *p)
{
	struct nx_bridge *b = obj;
	SET(b->st.mqtt_up, 0);
	pthread_mutex_lock(&b->mu);
	int first = b->connect_state == 0;
	if (first) {
		b->connect_state = -1;
		/* A TLS alert here is the broker refusing us, most often our client certificate. */
		int alert = strstr(b->mqtt_last_err, "alert") != NULL;
		snprintf(b->connect_err, sizeof b->connect_err, "MQTT connection lost before CONNACK%s%s%s",
		         b->mqtt_last_err[0] ? ": " : "", b->mqtt_last_err,
		         alert ? " (the broker refused the TLS handshake: check --cert/--key against its CA)"
		         : b->cfg->mqtt.tls ? " (over TLS this is most often the broker refusing the client "
		                              "certificate: check --cert/--key against its CA)" : "");
		pthread_cond_broadcast(&b->room);
	}
	pthread_mutex_unlock(&b->mu);
	if (!GET(b->stopping) && !first) {
		ADD(b->st.reconnects, 1);
		event(b, 1, "mqtt connection lost, reconnecting", "error=\"%s\"",
		      rc == MOSQ_ERR_CONN_LOST ? "connection lost" : mosquitto_strerror(rc));
	}
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted,
                         const mosquitto_property *p)
{
	struct nx_bridge *b = obj;
	for (int i = 0; i < b->cfg->nrules; i++) {
		if (b->sub_mids[i] != mid)
			continue;
		if (n < 1 || granted[0] >= 0x80)
			event(b, 0, "mqtt subscription refused by the broker", "filter=\"%s\"", b->cfg->rules[i].filter);
		else if (granted[0] < 1)
			event(b, 1, "mqtt subscription granted only QoS 0: no delivery guarantee",
			      "filter=\"%s\"", b->cfg->rules[i].filter);
		else
			event(b, 3, "mqtt subscribed", "filter=\"%s\" qos=%d", b->cfg->rules[i].filter, granted[0]);
	}
}

/* Runs on the network thread; the PUBACK for msg leaves only after we return. */
static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
                       const mosquitto_property *p)
{
	struct nx_bridge *b = obj;
	ADD(b->st.received, 1);
	struct nx_spool_rec rec = {
	    .qos = msg->qos, .retain = msg->retain, .topic = msg->topic,
	    .topic_len = strlen(msg->topic), .payload = msg->payload,
	    .payload_len = (size_t)msg->payloadlen,
	};
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	rec.recv_ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
	uint64_t seg;
	char e[NX_ERRLEN];
	pthread_mutex_lock(&b->mu);
	while (!b->stopping && !b->fatal && nx_spool_full(b->spool)) {
		if (!b->full_said) {
			b->full_said = 1;
			event(b, 1, "spool full: pausing MQTT intake until Kafka catches up",
			      "spool_bytes=%llu spool_max=%llu", (unsigned long long)nx_spool_bytes(b->spool),
			      (unsigned long long)b->cfg->spool.max_bytes);
		}
		ADD(b->st.waits, 1);
		wait_room(b, 200);
	}
	if (b->full_said && !nx_spool_full(b->spool)) {
		b->full_said = 0;
		event(b, 2, "spool has room again: resuming MQTT intake", "spool_bytes=%llu",
		      (unsigned long long)nx_spool_bytes(b->spool));
	}
	int rc = b->fatal ? nx_err(e, sizeof e, "%s", "bridge stopping after a fatal error")
	                  : nx_spool_append(b->spool, &rec, &seg, e, sizeof e);
	pthread_mutex_unlock(&b->mu);
	if (rc < 0) {
		/* Not on disk: the PUBACK must not leave. Cut the connection under it; the broker
		 * keeps the message in our session and sends it again. */
		shutdown(mosquitto_socket(m), SHUT_RDWR);
		set_fatal(b, "cannot spool a message: %s", e);
		return;
	}
	ADD(b->st.spooled, 1);
	produce(b, &rec, seg, 1);
}

/* ---- life cycle ---- */

static int mqtt_setup(struct nx_bridge *b, char *err, size_t errlen)
{
	const struct nx_bridge_config *c = b->cfg;
	mosquitto_lib_init();
	b->mosq = mosquitto_new(c->client_id, false, b); /* persistent session */
	if (!b->mosq)
		return nx_err(err, errlen, "mosquitto_new: %s", strerror(errno));
	mosquitto_int_option(b->mosq, MOSQ_OPT_PROTOCOL_VERSION,
	                     c->mqtt_version == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
	if (c->mqtt_version == 5 && c->receive_max > 0)
		mosquitto_int_option(b->mosq, MOSQ_OPT_RECEIVE_MAXIMUM, c->receive_max);
	mosquitto_int_option(b->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_log_callback_set(b->mosq, on_mqtt_log);
	mosquitto_connect_v5_callback_set(b->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(b->mosq, on_disconnect);
	mosquitto_subscribe_v5_callback_set(b->mosq, on_subscribe);
	mosquitto_message_v5_callback_set(b->mosq, on_message);
	mosquitto_reconnect_delay_set(b->mosq, 1, 30, true);
	if (c->username && mosquitto_username_pw_set(b->mosq, c->username, c->password))
		return nx_err(err, errlen, "bad MQTT username or password");
	if (c->mqtt.tls) {
		int rc = mosquitto_tls_set(b->mosq, c->cafile, NULL, c->certfile, c->keyfile, NULL);
		if (rc)
			return nx_err(err, errlen, "MQTT TLS setup (--cafile/--cert/--key): %s",
			              rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
	}
	mosquitto_property *props = NULL;
	if (c->mqtt_version == 5)
		mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, c->session_expiry_s);
	int rc = mosquitto_connect_bind_v5(b->mosq, c->mqtt.host, c->mqtt.port, c->keepalive_s, NULL, props);
	int saved = errno;
	mosquitto_property_free_all(&props);
	if (rc) {
		/* Under TLS 1.3 a refused client certificate shows up as a failed first write. */
		int tls_fail = c->mqtt.tls && (rc == MOSQ_ERR_TLS || (rc == MOSQ_ERR_ERRNO &&
		               (saved == EPROTO || saved == ECONNRESET || saved == EPIPE)));
		pthread_mutex_lock(&b->mu);
		nx_err(err, errlen, "cannot connect to MQTT broker %s:%d: %s%s%s%s", c->mqtt.host,
		       c->mqtt.port, rc == MOSQ_ERR_ERRNO ? strerror(saved) : mosquitto_strerror(rc),
		       b->mqtt_last_err[0] ? ": " : "", b->mqtt_last_err,
		       tls_fail ? " (TLS failed: the broker may have refused the client certificate; "
		                  "check --cert/--key and --cafile)" : "");
		pthread_mutex_unlock(&b->mu);
		return -1;
	}
	rc = mosquitto_loop_start(b->mosq);
	if (rc)
		return nx_err(err, errlen, "mosquitto_loop_start: %s", mosquitto_strerror(rc));
	uint64_t deadline = nx_now_ms() + c->connect_timeout_ms;
	pthread_mutex_lock(&b->mu);
	while (b->connect_state == 0 && nx_now_ms() < deadline)
		wait_room(b, 100);
	int state = b->connect_state;
	if (state == 0)
		b->connect_state = -1;
	pthread_mutex_unlock(&b->mu);
	if (state == 1)
		return 0;
	if (state == 0)
		return nx_err(err, errlen, "no CONNACK from MQTT broker %s:%d", c->mqtt.host, c->mqtt.port);
	return nx_err(err, errlen, "%s", b->connect_err);
}

int nx_bridge_start(struct nx_bridge **out, const struct nx_bridge_config *c, char *err, size_t errlen)
{
	struct nx_bridge *b = calloc(1, sizeof *b);
	if (!b)
		return nx_err(err, errlen, "out of memory");
	b->cfg = c;
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->room, NULL);
	*out = b;
	b->sub_mids = calloc((size_t)c->nrules + 1, sizeof *b->sub_mids);
	b->rkt = calloc((size_t)c->nrules + 1, sizeof *b->rkt);
	if (!b->sub_mids || !b->rkt)
		return nx_err(err, errlen, "out of memory");
	if (nx_spool_open(&b->spool, &c->spool, err, errlen) < 0)
		return -1;
	rd_kafka_conf_t *conf = kafka_conf(c, c->kafka_props, c->nkafka_props, err, errlen);
	if (!conf)
		return -1;
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
		if (interrupted(b))
			return 1;
		return -1;
	}
	SET(b->st.torn_bytes, rs.torn_bytes);
	if (rs.segments)
		event(b, 2, "spool replayed", "records=%llu already_in_kafka=%llu segments=%u torn_bytes=%llu",
		      (unsigned long long)rs.records, (unsigned long long)rs.skipped, rs.segments,
		      (unsigned long long)rs.torn_bytes);
	return mqtt_setup(b, err, errlen);
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
	free(b);
}
