/* agent_mqtt.c — nexus-agent's MQTT side: libmosquitto's threaded loop (a QoS 1 PUBACK leaves
 * only after on_message returns), the status topic with its Last Will, the command
 * subscription. Kept apart from lib/bridge: the two share only the URL (lib/mqtt) and a few
 * libmosquitto calls. */
#include "agent/agent_int.h"
#include "core/util.h"
#include "mqtt/tls_files.h"

#include <errno.h>
#include <mqtt_protocol.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void on_log(struct mosquitto *m, void *obj, int level, const char *str)
{
	struct nx_agent *a = obj;
	if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING)) {
		pthread_mutex_lock(&a->mu);
		nx_sanitize(a->last_mqtt_err, sizeof a->last_mqtt_err, str, strlen(str));
		pthread_mutex_unlock(&a->mu);
		char q[300];
		agent_event(a, 1, "libmosquitto", "detail=%s", nx_log_q(q, sizeof q, a->last_mqtt_err));
	}
}

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags, const mosquitto_property *p)
{
	struct nx_agent *a = obj;
	if (rc) {
		agent_event(a, 0, "mqtt connection refused", "reason=\"%s\"", mosquitto_reason_string(rc));
		return;
	}
	pthread_mutex_lock(&a->mu);
	a->connected = 1;
	int first = !a->ever_connected;
	a->ever_connected = 1;
	pthread_mutex_unlock(&a->mu);
	mosquitto_publish_v5(m, NULL, a->topic_status, 6, "online", 1, true, NULL);
	int src = mosquitto_subscribe_v5(m, NULL, a->topic_cmd, 1, 0, NULL);
	if (src)
		agent_event(a, 0, "mqtt subscribe failed", "topic=%s error=\"%s\"", a->topic_cmd,
		            mosquitto_strerror(src));
	agent_event(a, 2, first ? "mqtt connected" : "mqtt reconnected", "session_present=%d", flags & 1);
	if (a->cfg->on_status)
		a->cfg->on_status(a->cfg->event_ctx, "mqtt=up");
	if (write(a->wake[1], "c", 1) < 0) {
		/* the loop wakes on its own timer too */
	}
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc, const mosquitto_property *p)
{
	struct nx_agent *a = obj;
	pthread_mutex_lock(&a->mu);
	int was = a->connected;
	a->connected = 0;
	char why[sizeof a->last_mqtt_err];
	snprintf(why, sizeof why, "%s", a->last_mqtt_err);
	pthread_mutex_unlock(&a->mu);
	if (a->cfg->stop && *a->cfg->stop)
		return;
	if (a->cfg->on_status)
		a->cfg->on_status(a->cfg->event_ctx, "mqtt=down");
	char q[300];
	agent_event(a, 1, was ? "mqtt connection lost, reconnecting" : "mqtt connection failed, retrying",
	            "error=\"%s\" detail=%s", rc == MOSQ_ERR_CONN_LOST ? "connection lost" : mosquitto_strerror(rc),
	            nx_log_q(q, sizeof q, why[0] ? why : "-"));
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted,
                         const mosquitto_property *p)
{
	struct nx_agent *a = obj;
	if (n < 1 || granted[0] >= 0x80)
		agent_event(a, 0, "mqtt subscription refused by the broker (ACL?)", "topic=%s", a->topic_cmd);
	else
		agent_event(a, 2, "mqtt subscribed", "topic=%s qos=%d", a->topic_cmd, granted[0]);
}

static void on_publish(struct mosquitto *m, void *obj, int mid, int reason, const mosquitto_property *p)
{
	struct nx_agent *a = obj;
	pthread_mutex_lock(&a->mu);
	if (mid == a->offline_mid)
		a->offline_acked = 1;
	pthread_mutex_unlock(&a->mu);
	if (reason >= 0x80)
		agent_event(a, 1, "mqtt publish refused by the broker (ACL?)", "reason=\"%s\"",
		            mosquitto_reason_string(reason));
}

/* Network thread; the PUBACK for msg leaves after we return. */
static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
	struct nx_agent *a = obj;
	if (strcmp(msg->topic, a->topic_cmd) != 0)
		return;
	char *rt = NULL;
	void *cd = NULL;
	uint16_t cdlen = 0;
	mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, &rt, false);
	mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &cd, &cdlen, false);
	if (cdlen > NX_JOURNAL_CD_MAX) {
		agent_event_often(a, 1, "correlation data too long: not copied back", "bytes=%u", cdlen);
		cdlen = 0;
	}
	if (rt && strlen(rt) > NX_JOURNAL_RT_MAX) {
		agent_event_often(a, 1, "response topic too long: answering on the ack topic", NULL);
		free(rt);
		rt = NULL;
	}
	int rc = agent_take_command(a, msg->payload, (size_t)msg->payloadlen, rt, cd, cdlen);
	free(rt);
	free(cd);
	if (rc < 0) {
		/* Not journaled: the PUBACK must not leave. Cut the connection under it; the broker
		 * keeps the command in our session and sends it again. */
		shutdown(mosquitto_socket(m), SHUT_RDWR);
	}
}

int agent_mqtt_start(struct nx_agent *a, char *err, size_t errlen)
{
	const struct nx_agent_config *c = a->cfg;
	mosquitto_lib_init();
	a->mosq = mosquitto_new(c->device, false, a); /* persistent session: commands wait for us */
	if (!a->mosq)
		return nx_err(err, errlen, "mosquitto_new: %s", strerror(errno));
	mosquitto_int_option(a->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_int_option(a->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_log_callback_set(a->mosq, on_log);
	mosquitto_connect_v5_callback_set(a->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(a->mosq, on_disconnect);
	mosquitto_subscribe_v5_callback_set(a->mosq, on_subscribe);
	mosquitto_publish_v5_callback_set(a->mosq, on_publish);
	mosquitto_message_v5_callback_set(a->mosq, on_message);
	mosquitto_reconnect_delay_set(a->mosq, 1, 30, true);
	int rc = mosquitto_will_set_v5(a->mosq, a->topic_status, 7, "offline", 1, true, NULL);
	if (rc)
		return nx_err(err, errlen, "MQTT will: %s", mosquitto_strerror(rc));
	if (c->mqtt.tls) {
		if (nx_mqtt_tls_files_ok(c->cafile, c->certfile, c->keyfile, err, errlen) < 0)
			return -1;
		rc = mosquitto_tls_set(a->mosq, c->cafile, NULL, c->certfile, c->keyfile, NULL);
		if (rc)
			return nx_err(err, errlen, "MQTT TLS setup (--cafile/--cert/--key): %s",
			              rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
	}
	mosquitto_property *props = NULL;
	mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, c->session_expiry_s);
	/* what the broker may make us hold per message: commands are at most 64 KiB (larger
	 * ones up to this size are answered "rejected"; beyond it the broker drops them) */
	mosquitto_property_add_int32(&props, MQTT_PROP_MAXIMUM_PACKET_SIZE, 1u << 20);
	/* A failed first connect is not fatal: a device that boots before its network keeps trying (the loop
	 * reconnects with backoff) instead of exiting. */
	rc = mosquitto_connect_bind_v5(a->mosq, c->mqtt.host, c->mqtt.port, c->keepalive_s, NULL, props);
	int saved = errno;
	mosquitto_property_free_all(&props);
	if (rc)
		agent_event(a, 1, "mqtt connection failed, retrying", "error=\"%s\"",
		            rc == MOSQ_ERR_ERRNO ? strerror(saved) : mosquitto_strerror(rc));
	rc = mosquitto_loop_start(a->mosq);
	if (rc)
		return nx_err(err, errlen, "mosquitto_loop_start: %s", mosquitto_strerror(rc));
	return 0;
}

void agent_mqtt_stop(struct nx_agent *a)
{
	if (!a->mosq)
		return;
	pthread_mutex_lock(&a->mu);
	int up = a->connected;
	pthread_mutex_unlock(&a->mu);
	if (up) {
		int mid = 0;
		pthread_mutex_lock(&a->mu);
		if (mosquitto_publish_v5(a->mosq, &mid, a->topic_status, 7, "offline", 1, true, NULL) == 0)
			a->offline_mid = mid;
		pthread_mutex_unlock(&a->mu);
		uint64_t until = nx_now_ms() + 3000;
		for (;;) {
			pthread_mutex_lock(&a->mu);
			int done = a->offline_acked || !a->connected;
			pthread_mutex_unlock(&a->mu);
			if (done || nx_now_ms() > until)
				break;
			usleep(20000);
		}
	}
	mosquitto_disconnect_v5(a->mosq, 0, NULL);
	mosquitto_loop_stop(a->mosq, false);
	mosquitto_destroy(a->mosq);
	a->mosq = NULL;
	mosquitto_lib_cleanup();
}
