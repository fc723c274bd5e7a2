/* bridge_mqtt.c — the MQTT side of the bridge (see bridge.h for the guarantee): libmosquitto
 * in its threaded loop, where a QoS 1 PUBACK leaves only after on_message returns. */
#include "bridge/bridge_int.h"
#include "mqtt/tls_files.h"

#include <errno.h>
#include <mqtt_protocol.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* Our part of a TLS failure: the broker's certificate (not trusted) or our own. */
static void untrusted_broker(const struct nx_bridge *b, char *out, size_t outlen)
{
	snprintf(out, outlen,
	         "TLS with MQTT broker %s:%d failed: the broker's certificate is not trusted (%s; "
	         "give --cafile with its CA)", b->cfg->mqtt.host, b->cfg->mqtt.port,
	         b->cfg->cafile ? "not from --cafile" : "not from the system's CA store");
}

static void on_mqtt_log(struct mosquitto *m, void *obj, int level, const char *str)
{
	struct nx_bridge *b = obj;
	if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING)) {
		pthread_mutex_lock(&b->mu);
		nx_sanitize(b->mqtt_last_err, sizeof b->mqtt_last_err, str, strlen(str));
		/* libmosquitto retries a failed TLS handshake forever without a disconnect
		 * callback: an untrusted broker certificate at the first connection is final */
		if (b->connect_state == 0 && strstr(str, "certificate verify failed")) {
			b->connect_state = -1;
			untrusted_broker(b, b->connect_err, sizeof b->connect_err);
			pthread_cond_broadcast(&b->room);
		}
		pthread_mutex_unlock(&b->mu);
	}
	char s[300];
	bridge_event(b, 3, "libmosquitto", "detail=%s", bridge_logval(s, sizeof s, str, strlen(str)));
}

static void subscribe_all(struct nx_bridge *b)
{
	for (int i = 0; i < b->cfg->nrules; i++) {
		int rc = mosquitto_subscribe_v5(b->mosq, &b->sub_mids[i], b->cfg->rules[i].filter, 1, 0, NULL);
		if (rc != MOSQ_ERR_SUCCESS)
			bridge_event(b, 0, "mqtt subscribe failed", "filter=\"%s\" error=\"%s\"",
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
			bridge_event(b, 0, "mqtt connection refused", "reason=\"%s\"", why);
		return;
	}
	SET(b->st.mqtt_up, 1);
	bridge_event(b, 2, "mqtt connected", "session_present=%d", flags & 1);
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
		bridge_event(b, 1, "mqtt connection lost, reconnecting", "error=\"%s\"",
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
			bridge_event(b, 0, "mqtt subscription refused by the broker", "filter=\"%s\"", b->cfg->rules[i].filter);
		else if (granted[0] < 1)
			bridge_event(b, 1, "mqtt subscription granted only QoS 0: no delivery guarantee",
			             "filter=\"%s\"", b->cfg->rules[i].filter);
		else
			bridge_event(b, 3, "mqtt subscribed", "filter=\"%s\" qos=%d", b->cfg->rules[i].filter, granted[0]);
	}
}

/* Runs on the network thread; the PUBACK for msg leaves only after we return. */
static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
                       const mosquitto_property *p)
{
	struct nx_bridge *b = obj;
	ADD(b->st.received, 1);
	if (b->max_payload && (size_t)msg->payloadlen > b->max_payload) {
		/* Kafka would refuse it for good: not worth the spool's disk (acked, counted) */
		char t[300];
		ADD(b->st.dropped, 1);
		bridge_event_often(b, 1, "message dropped: larger than Kafka takes",
		                   "topic=%s bytes=%d message_max_bytes=%zu",
		                   bridge_logval(t, sizeof t, msg->topic, strlen(msg->topic)),
		                   msg->payloadlen, b->max_payload);
		return;
	}
	struct nx_spool_rec rec = {
	    .qos = msg->qos, .retain = msg->retain, .topic = msg->topic,
	    .topic_len = strlen(msg->topic), .payload = msg->payload,
	    .payload_len = (size_t)msg->payloadlen,
	};
	rec.recv_ms = (uint64_t)nx_unix_ms();
	uint64_t ticket;
	char e[NX_ERRLEN];
	pthread_mutex_lock(&b->mu);
	while (!b->stopping && !b->fatal && nx_spool_full(b->spool)) {
		if (!b->full_said) {
			b->full_said = 1;
			bridge_event(b, 1, "spool full: pausing MQTT intake until Kafka catches up",
			             "spool_bytes=%llu spool_max=%llu", (unsigned long long)nx_spool_bytes(b->spool),
			             (unsigned long long)b->cfg->spool.max_bytes);
		}
		ADD(b->st.waits, 1);
		bridge_wait_room(b, 200);
	}
	if (b->full_said && !nx_spool_full(b->spool)) {
		b->full_said = 0;
		bridge_event(b, 2, "spool has room again: resuming MQTT intake", "spool_bytes=%llu",
		             (unsigned long long)nx_spool_bytes(b->spool));
	}
	int rc = b->fatal ? nx_err(e, sizeof e, "%s", "bridge stopping after a fatal error")
	                  : nx_spool_append(b->spool, &rec, &ticket, e, sizeof e);
	pthread_mutex_unlock(&b->mu);
	if (rc < 0) {
		/* Not on disk: the PUBACK must not leave. Cut the connection under it; the broker
		 * keeps the message in our session and sends it again. */
		shutdown(mosquitto_socket(m), SHUT_RDWR);
		bridge_set_fatal(b, "cannot spool a message: %s", e);
		return;
	}
	ADD(b->st.spooled, 1);
	bridge_produce(b, &rec, ticket, 1);
}

int bridge_mqtt_setup(struct nx_bridge *b, char *err, size_t errlen)
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
	if (c->mqtt.tls) { /* the files were checked by nx_bridge_start, before Kafka */
		int rc = 0;
		/* No --cafile: the system's store, as nexus-tunnel does (OpenSSL's default paths,
		 * /etc/ssl/certs on Debian; SSL_CERT_FILE / SSL_CERT_DIR override them). */
		if (!c->cafile)
			rc = mosquitto_int_option(b->mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
		/* mosquitto_tls_set wants a CA file or directory: a client certificate alone comes
		 * with the system's directory (the OS store above is what verification uses) */
		if (!rc && (c->cafile || c->certfile))
			rc = mosquitto_tls_set(b->mosq, c->cafile, c->cafile ? NULL : "/etc/ssl/certs",
			                       c->certfile, c->keyfile, NULL);
		if (rc)
			return nx_err(err, errlen, "MQTT TLS setup (--cafile/--cert/--key): %s",
			              rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
	}
	mosquitto_property *props = NULL;
	if (c->mqtt_version == 5)
		mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, c->session_expiry_s);
	/* MQTT 5: the broker sends nothing bigger than Kafka takes (payload, plus room for the
	 * topic and properties), so a device cannot make us read 256 MiB to throw it away. */
	if (c->mqtt_version == 5 && b->max_payload && b->max_payload < 268435455 - 70000)
		mosquitto_property_add_int32(&props, MQTT_PROP_MAXIMUM_PACKET_SIZE,
		                             (uint32_t)(b->max_payload + 70000));
	int rc = mosquitto_connect_bind_v5(b->mosq, c->mqtt.host, c->mqtt.port, c->keepalive_s, NULL, props);
	int saved = errno;
	mosquitto_property_free_all(&props);
	if (rc) {
		/* Under TLS 1.3 a refused client certificate shows up as a failed first write. */
		int tls_fail = c->mqtt.tls && (rc == MOSQ_ERR_TLS || (rc == MOSQ_ERR_ERRNO &&
		               (saved == EPROTO || saved == ECONNRESET || saved == EPIPE)));
		pthread_mutex_lock(&b->mu);
		if (tls_fail && strstr(b->mqtt_last_err, "certificate verify failed")) {
			untrusted_broker(b, err, errlen);
			pthread_mutex_unlock(&b->mu);
			return -1;
		}
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
		bridge_wait_room(b, 100);
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
