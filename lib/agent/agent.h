/* agent.h — nexus-agent's engine: the device side of MQTT.
 *
 *  - Telemetry: every interval, QoS 1 on device/<id>/info (telemetry.h), while connected.
 *  - Status: retained device/<id>/status "online" on every connect, "offline" as the Last
 *    Will and on a clean stop.
 *  - Commands: device/<id>/command, QoS 1, persistent session (client id = device id).
 *    libmosquitto runs its threaded loop, so a command's PUBACK leaves only after on_message
 *    returned, and on_message journals the id (journal.h, fsync) before that. The handler
 *    DIR/<command> runs on the main thread's loop (runner.h); its ack goes to the MQTT 5
 *    Response Topic when it lies under device/<id>/, else to device/<id>/command/ack, with the
 *    Correlation Data copied back. At most once per id, across restarts.
 *
 * The library never prints: what happens is reported through cfg->on_event. */
#ifndef NEXUS_AGENT_H
#define NEXUS_AGENT_H
#include <stddef.h>
#include <stdint.h>

#include "core/log.h"
#include "mqtt/url.h"

#define NX_DEVICE_ID_MAX 64

struct nx_agent_config {
	struct nx_mqtt_url mqtt;
	const char *cafile, *certfile, *keyfile;
	const char *device;
	const char *handlers;      /* directory of command handlers; NULL: every command is unknown */
	const char *telemetry_cmd; /* NULL: the built-in collector */
	const char *journal;       /* path of the command journal */
	const char *version;       /* client.version in the telemetry */
	uint64_t interval_ms;      /* telemetry period */
	uint64_t timeout_ms;       /* a handler's (and the telemetry command's) time limit */
	uint64_t grace_ms;         /* TERM → KILL */
	int max_running;           /* handlers at once */
	int max_queued;            /* commands waiting for a slot; more are answered busy */
	size_t max_output;         /* bytes of a handler's stdout kept in the ack */
	int keepalive_s;
	uint32_t session_expiry_s;
	int journal_ids;           /* finished ids remembered */
	nx_log_sink_fn on_event;
	void *event_ctx;
	/* For sd_notify: on_ready once running (journal open, MQTT loop started); on_status with
	 * a one-line state ("mqtt=up", "mqtt=down") from any thread. Either may be NULL. */
	void (*on_ready)(void *ctx);
	void (*on_status)(void *ctx, const char *status);
	const volatile int *stop;  /* set (SIGTERM) to stop */
};

/* 1 if id may be a device id: 1 to NX_DEVICE_ID_MAX of [A-Za-z0-9._-], no leading '.'. */
int nx_device_id_ok(const char *id);

/* Run until *cfg->stop: 0, or -1 with err on a fatal error (journal not writable, ...). */
int nx_agent_run(const struct nx_agent_config *cfg, char *err, size_t errlen);

/* nexus-agent send: publish {"id","command","args"} to device/<device>/command with a
 * Response Topic of our own under device/<device>/command/ack/ and wait for the ack.
 * *ack: the ack JSON (malloc'd). 0, or -1 with err (no ack in time, connection failed). */
struct nx_send_config {
	struct nx_mqtt_url mqtt;
	const char *cafile, *certfile, *keyfile;
	const char *device, *command, *id;
	const char *args_json;    /* NULL: null */
	uint64_t wait_ms;
	nx_log_sink_fn on_event;
	void *event_ctx;
};
int nx_agent_send(const struct nx_send_config *cfg, char **ack, char *err, size_t errlen);

#endif
