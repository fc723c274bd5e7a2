/* agent_int.h — shared between agent.c (loop, handlers, telemetry) and agent_mqtt.c. */
#ifndef NEXUS_AGENT_INT_H
#define NEXUS_AGENT_INT_H
#include <mosquitto.h>
#include <pthread.h>

#include "agent/agent.h"
#include "agent/command.h"
#include "agent/journal.h"
#include "agent/runner.h"
#include "agent/telemetry.h"
#include "core/accept.h"
#include "core/util.h"

/* A command waiting for, or holding, a handler slot. */
struct agent_cmd {
	struct nx_cmd cmd;
	char *payload;             /* the message, the handler's stdin */
	size_t len;
	char rt[NX_JOURNAL_RT_MAX + 1];
	unsigned char cd[NX_JOURNAL_CD_MAX];
	size_t cdlen;
	struct nx_job job;
	int started;
};

struct nx_agent {
	const struct nx_agent_config *cfg;
	struct mosquitto *mosq;
	pthread_mutex_t mu;        /* journal, queue, publishing acks, connected */
	struct nx_journal *journal;
	struct agent_cmd *q;       /* ring of max_running + max_queued */
	int qcap, qhead, qlen;
	int wake[2];               /* on_message → main loop */
	int connected;
	int ever_connected;
	int fatal;
	char fatal_err[NX_ERRLEN];
	char topic_info[128], topic_status[128], topic_cmd[128], topic_ack[128], prefix[128];
	char last_mqtt_err[200];
	int offline_mid;
	int offline_acked;
	struct nx_cpu_sample cpu;
	struct nx_job tjob;        /* the telemetry command, when one runs */
	int tjob_running;
	struct nx_rates_mt often;  /* agent_event_often: called under mu and outside it */
};

void agent_event(struct nx_agent *a, int level, const char *msg, const char *kvfmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A line whoever may publish commands can cause once per message (a rejection, a repeat):
 * ten a second at most of each kind (msg), the rest counted into the next one's times=. */
void agent_event_often(struct nx_agent *a, int level, const char *msg, const char *kvfmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Publish an ack for a command (under a->mu): to rt when it lies under device/<id>/, else
 * the ack topic; cd copied as Correlation Data. */
void agent_publish_ack(struct nx_agent *a, const char *id, const char *ack, const char *rt,
                       const void *cd, size_t cdlen);

/* agent_mqtt.c */
int agent_mqtt_start(struct nx_agent *a, char *err, size_t errlen);
void agent_mqtt_stop(struct nx_agent *a);

/* agent.c: a command message from on_message (network thread). Returns -1 when it could not
 * be journaled: the caller must keep the PUBACK from leaving. */
int agent_take_command(struct nx_agent *a, const void *payload, size_t len, const char *rt,
                       const void *cd, size_t cdlen);

#endif
