/* send.c — `nexus-agent send`: one command to one device, wait for its ack (agent.h). A
 * short-lived client: clean session, its own Response Topic, mosquitto_loop() on this thread. */
#include "agent/agent.h"
#include "agent/command.h"
#include "core/random.h"
#include "core/units.h"
#include "core/util.h"
#include "mqtt/tls_files.h"

#include <errno.h>
#include <jansson.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sender {
	const struct nx_send_config *cfg;
	char topic_cmd[128], topic_resp[200];
	char *msg;
	int state; /* 0 connecting, 1 subscribed+published, 2 acked, -1 failed */
	char err[NX_ERRLEN];
	char *ack;
	int sub_mid;
};

static void s_connect(struct mosquitto *m, void *obj, int rc, int flags, const mosquitto_property *p)
{
	struct sender *s = obj;
	if (rc) {
		snprintf(s->err, sizeof s->err, "MQTT broker refused the connection: %s", mosquitto_reason_string(rc));
		s->state = -1;
		return;
	}
	/* subscribe first, so the ack cannot come before we listen */
	mosquitto_subscribe_v5(m, &s->sub_mid, s->topic_resp, 1, 0, NULL);
}

static void s_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted,
                        const mosquitto_property *p)
{
	struct sender *s = obj;
	if (mid != s->sub_mid)
		return;
	if (n < 1 || granted[0] >= 0x80) {
		snprintf(s->err, sizeof s->err, "the broker refused our subscription to %s (ACL?)", s->topic_resp);
		s->state = -1;
		return;
	}
	mosquitto_property *props = NULL;
	mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, s->topic_resp);
	mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, s->cfg->id, (uint16_t)strlen(s->cfg->id));
	int rc = mosquitto_publish_v5(m, NULL, s->topic_cmd, (int)strlen(s->msg), s->msg, 1, false, props);
	mosquitto_property_free_all(&props);
	if (rc) {
		snprintf(s->err, sizeof s->err, "cannot publish the command: %s", mosquitto_strerror(rc));
		s->state = -1;
		return;
	}
	s->state = 1;
}

static void s_publish(struct mosquitto *m, void *obj, int mid, int reason, const mosquitto_property *p)
{
	struct sender *s = obj;
	if (reason >= 0x80 && reason != MQTT_RC_NO_MATCHING_SUBSCRIBERS) {
		snprintf(s->err, sizeof s->err, "the broker refused the command: %s (ACL?)",
		         mosquitto_reason_string(reason));
		s->state = -1;
	}
}

static void s_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
                      const mosquitto_property *props)
{
	struct sender *s = obj;
	void *cd = NULL;
	uint16_t cdlen = 0;
	mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &cd, &cdlen, false);
	int mine = cd && cdlen == strlen(s->cfg->id) && !memcmp(cd, s->cfg->id, cdlen);
	free(cd);
	if (!mine || s->state == 2)
		return;
	s->ack = malloc((size_t)msg->payloadlen + 1);
	if (!s->ack)
		return;
	memcpy(s->ack, msg->payload, (size_t)msg->payloadlen);
	s->ack[msg->payloadlen] = '\0';
	s->state = 2;
}

static void s_disconnect(struct mosquitto *m, void *obj, int rc, const mosquitto_property *p)
{
	struct sender *s = obj;
	if (s->state >= 0 && s->state != 2) {
		if (!s->err[0])
			snprintf(s->err, sizeof s->err, "MQTT connection lost: %s",
			         rc == MOSQ_ERR_CONN_LOST ? "connection lost" : mosquitto_strerror(rc));
		s->state = -1;
	}
}

static void s_log(struct mosquitto *m, void *obj, int level, const char *str)
{
	struct sender *s = obj;
	if ((level & MOSQ_LOG_ERR) && !s->err[0])
		nx_sanitize(s->err, sizeof s->err, str, strlen(str));
}

int nx_agent_send(const struct nx_send_config *c, char **ack, char *err, size_t errlen)
{
	*ack = NULL;
	struct sender s = {.cfg = c};
	char nonce[NX_NONCE_LEN + 1];
	if (!nx_device_id_ok(c->device))
		return nx_err(err, errlen, "bad device id");
	if (nx_random_nonce(nonce, err, errlen) < 0)
		return -1;
	nonce[16] = '\0';
	snprintf(s.topic_cmd, sizeof s.topic_cmd, "device/%s/command", c->device);
	snprintf(s.topic_resp, sizeof s.topic_resp, "device/%s/command/ack/%s", c->device, nonce);
	json_error_t je;
	json_t *args = c->args_json ? json_loads(c->args_json, JSON_DECODE_ANY, &je) : json_null();
	if (!args)
		return nx_err(err, errlen, "ARGS is not JSON: %s", je.text);
	json_t *o = json_pack("{s:s, s:s, s:o}", "id", c->id, "command", c->command, "args", args);
	s.msg = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!s.msg)
		return nx_err(err, errlen, "out of memory");
	char clientid[64];
	snprintf(clientid, sizeof clientid, "nexus-agent-send-%s", nonce);
	mosquitto_lib_init();
	int rc = -1;
	struct mosquitto *m = mosquitto_new(clientid, true, &s);
	if (!m) {
		nx_err(err, errlen, "mosquitto_new: %s", strerror(errno));
		goto out;
	}
	mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_connect_v5_callback_set(m, s_connect);
	mosquitto_subscribe_v5_callback_set(m, s_subscribe);
	mosquitto_publish_v5_callback_set(m, s_publish);
	mosquitto_message_v5_callback_set(m, s_message);
	mosquitto_disconnect_v5_callback_set(m, s_disconnect);
	mosquitto_log_callback_set(m, s_log);
	if (c->mqtt.tls) {
		if (nx_mqtt_tls_files_ok(c->cafile, c->certfile, c->keyfile, err, errlen) < 0)
			goto out;
		int r = mosquitto_tls_set(m, c->cafile, NULL, c->certfile, c->keyfile, NULL);
		if (r) {
			nx_err(err, errlen, "MQTT TLS setup (--cafile/--cert/--key): %s",
			       r == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(r));
			goto out;
		}
	}
	int r = mosquitto_connect_bind_v5(m, c->mqtt.host, c->mqtt.port, 30, NULL, NULL);
	if (r) {
		nx_err(err, errlen, "cannot connect to MQTT broker %s:%d: %s%s%s", c->mqtt.host, c->mqtt.port,
		       r == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(r), s.err[0] ? ": " : "", s.err);
		goto out;
	}
	uint64_t deadline = nx_now_ms() + c->wait_ms;
	while (s.state >= 0 && s.state != 2 && nx_now_ms() < deadline) {
		r = mosquitto_loop(m, 100, 1);
		if (r && r != MOSQ_ERR_NO_CONN && s.state >= 0) {
			snprintf(s.err, sizeof s.err, "MQTT: %s%s", r == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(r),
			         r == MOSQ_ERR_ERRNO || r == MOSQ_ERR_TLS ? " (the broker may have refused our certificate)" : "");
			s.state = -1;
		}
	}
	if (s.state == 2) {
		*ack = s.ack;
		s.ack = NULL;
		rc = 0;
	} else if (s.state < 0) {
		nx_err(err, errlen, "%s", s.err);
	} else {
		char d[32];
		nx_err(err, errlen, "no ack from device %s within %s%s", c->device, nx_fmt_duration(d, sizeof d, c->wait_ms),
		       s.state == 0 ? " (not even connected to the broker)" : "");
	}
	mosquitto_disconnect_v5(m, 0, NULL);
	mosquitto_loop(m, 100, 1);
out:
	if (m)
		mosquitto_destroy(m);
	mosquitto_lib_cleanup();
	free(s.msg);
	free(s.ack);
	return rc;
}
