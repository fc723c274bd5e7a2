/* agent.c — see agent.h: the command queue and handlers, telemetry, the main loop. */
#include "agent/agent_int.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <mqtt_protocol.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int nx_device_id_ok(const char *id)
{
	/* the same alphabet as command names: safe in a topic level, a path, an ACL %u */
	return id && strlen(id) <= NX_DEVICE_ID_MAX && nx_cmd_name_ok(id, strlen(id));
}

void agent_event(struct nx_agent *a, int level, const char *msg, const char *kvfmt, ...)
{
	va_list ap;
	va_start(ap, kvfmt);
	nx_log_vemit(a->cfg->on_event, a->cfg->event_ctx, level, msg, kvfmt, ap);
	va_end(ap);
}

void agent_event_often(struct nx_agent *a, int level, const char *msg, const char *kvfmt, ...)
{
	uint64_t n = nx_rates_mt_note(&a->often, msg);
	va_list ap;
	va_start(ap, kvfmt);
	nx_log_vemit_times(a->cfg->on_event, a->cfg->event_ctx, level, msg, n, kvfmt, ap);
	va_end(ap);
}

static const char *q(char *buf, size_t n, const char *s)
{
	return nx_log_q(buf, (unsigned)n, s);
}

void agent_publish_ack(struct nx_agent *a, const char *id, const char *ack, const char *rt,
                       const void *cd, size_t cdlen)
{
	const char *topic = a->topic_ack;
	char b1[200], b2[300];
	if (rt && rt[0]) {
		if (!strncmp(rt, a->prefix, strlen(a->prefix)) && !strpbrk(rt, "+#"))
			topic = rt;
		else
			agent_event_often(a, 1, "response topic outside the device's namespace: answering on the ack topic",
			            "id=%s response_topic=%s", q(b1, sizeof b1, id), q(b2, sizeof b2, rt));
	}
	mosquitto_property *props = NULL;
	if (cdlen)
		mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, cd, (uint16_t)cdlen);
	int rc = mosquitto_publish_v5(a->mosq, NULL, topic, (int)strlen(ack), ack, 1, false, props);
	mosquitto_property_free_all(&props);
	if (rc)
		agent_event(a, 1, "cannot publish an ack (a redelivered command re-sends it)",
		            "id=%s error=\"%s\"", q(b1, sizeof b1, id), mosquitto_strerror(rc));
}

/* Journal a final answer and send it (under a->mu). "busy" is not journaled: nothing ran,
 * so the same id sent again later may run. */
static void answer(struct nx_agent *a, const char *id, const char *status, const char *out,
                   size_t outlen, int truncated, const char *rt, const void *cd, size_t cdlen)
{
	int remember = id[0] && strcmp(status, "busy") != 0;
	char *ack = nx_cmd_ack(id, status, out, outlen, truncated);
	if (!ack) {
		agent_event(a, 0, "out of memory building an ack", NULL);
		return;
	}
	char e[NX_ERRLEN], b1[200];
	if (remember && nx_journal_finish(a->journal, id, ack, e, sizeof e) < 0) {
		a->fatal = 1;
		snprintf(a->fatal_err, sizeof a->fatal_err, "%s", e);
	}
	agent_event(a, 2, "command answered", "id=%s status=%s output_bytes=%zu%s",
	            q(b1, sizeof b1, id[0] ? id : "-"), status, outlen, truncated ? " truncated=1" : "");
	agent_publish_ack(a, id, ack, rt, cd, cdlen);
	free(ack);
}

int agent_take_command(struct nx_agent *a, const void *payload, size_t len, const char *rt,
                       const void *cd, size_t cdlen)
{
	struct nx_cmd c;
	char e[NX_ERRLEN], b1[200], b2[300];
	pthread_mutex_lock(&a->mu);
	int rc = 0;
	if (a->fatal || (a->cfg->stop && *a->cfg->stop)) {
		rc = -1; /* no PUBACK: the broker keeps it for our next run */
		goto out;
	}
	int ok = nx_cmd_parse(payload, len, &c, e, sizeof e) == 0;
	const struct nx_jrec *known = c.id[0] ? nx_journal_find(a->journal, c.id) : NULL;
	if (known && known->st == NX_J_DONE) {
		agent_event_often(a, 2, "command id seen before: not run again, stored ack re-sent", "id=%s",
		            q(b1, sizeof b1, c.id));
		agent_publish_ack(a, c.id, known->ack, rt, cd, cdlen);
		goto out;
	}
	if (known) {
		agent_event_often(a, 2, "command id already running: not run again", "id=%s", q(b1, sizeof b1, c.id));
		goto out;
	}
	if (!ok) {
		agent_event_often(a, 1, "command rejected", "id=%s error=%s", q(b1, sizeof b1, c.id[0] ? c.id : "-"),
		            q(b2, sizeof b2, e));
		answer(a, c.id, "rejected", e, strlen(e), 0, rt, cd, cdlen);
		goto out;
	}
	if (a->qlen == a->qcap) {
		answer(a, c.id, "busy", "too many commands waiting", 25, 0, rt, cd, cdlen);
		goto out;
	}
	/* At most once: on disk before the handler can start and before the PUBACK leaves. */
	if (nx_journal_begin(a->journal, c.id, rt, cd, cdlen, e, sizeof e) < 0) {
		a->fatal = 1;
		snprintf(a->fatal_err, sizeof a->fatal_err, "%s", e);
		rc = -1;
		goto out;
	}
	struct agent_cmd *s = &a->q[(a->qhead + a->qlen) % a->qcap];
	memset(s, 0, sizeof *s);
	s->cmd = c;
	s->payload = malloc(len ? len : 1);
	if (s->payload)
		memcpy(s->payload, payload, len);
	s->len = len;
	snprintf(s->rt, sizeof s->rt, "%s", rt ? rt : "");
	if (cdlen)
		memcpy(s->cd, cd, cdlen);
	s->cdlen = cdlen;
	a->qlen++;
	agent_event(a, 2, "command received", "id=%s command=%s", q(b1, sizeof b1, c.id), c.name);
out:
	pthread_mutex_unlock(&a->mu);
	if (write(a->wake[1], "m", 1) < 0) {
		/* full pipe: the loop is awake already */
	}
	return rc;
}

/* Start queued commands while slots are free (main thread, under a->mu). The first
 * max_running entries of the ring are the running ones. */
static void start_commands(struct nx_agent *a)
{
	const struct nx_agent_config *c = a->cfg;
	for (int i = 0; i < a->qlen && i < c->max_running; i++) {
		struct agent_cmd *s = &a->q[(a->qhead + i) % a->qcap];
		if (s->started)
			continue;
		s->started = 1;
		char path[4096], e[NX_ERRLEN];
		struct stat st;
		int exists = c->handlers &&
		             snprintf(path, sizeof path, "%s/%s", c->handlers, s->cmd.name) < (int)sizeof path &&
		             stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
		if (exists && s->payload) {
			char env_dev[128], env_id[NX_CMD_ID_MAX + 32], env_cmd[NX_CMD_NAME_MAX + 32];
			snprintf(env_dev, sizeof env_dev, "NEXUS_DEVICE=%s", c->device);
			snprintf(env_id, sizeof env_id, "NEXUS_COMMAND_ID=%s", s->cmd.id);
			snprintf(env_cmd, sizeof env_cmd, "NEXUS_COMMAND=%s", s->cmd.name);
			char *env[] = {env_dev, env_id, env_cmd, NULL};
			if (nx_job_start(&s->job, path, 0, env, s->payload, s->len, c->max_output,
			                 c->timeout_ms, c->grace_ms, e, sizeof e) == 0) {
				char b1[200];
				agent_event(a, 3, "handler started", "id=%s command=%s pid=%d",
				            q(b1, sizeof b1, s->cmd.id), s->cmd.name, (int)s->job.pid);
				continue;
			}
			char b1[300];
			agent_event(a, 0, "cannot start a handler", "error=%s", q(b1, sizeof b1, e));
			s->job.done = 1;
			s->job.exit_code = 1;
			s->job.out = NULL;
			continue;
		}
		/* Unknown: nothing runs. Answered in the reap pass below. */
		memset(&s->job, 0, sizeof s->job);
		s->job.out_fd = s->job.pid_fd = -1;
		s->job.done = 1;
		s->job.exit_code = 127;
	}
}

static void finish_command(struct nx_agent *a, struct agent_cmd *s)
{
	const char *status = s->job.timed_out ? "timeout"
	                     : s->job.truncated ? "error"
	                     : s->job.signaled ? "error"
	                     : nx_cmd_status(s->job.exit_code);
	const char *out = s->job.out ? s->job.out : "";
	size_t outlen = s->job.out ? s->job.outlen : 0;
	static const char unknown[] = "no such command";
	if (!s->job.out && s->job.exit_code == 127)
		out = unknown, outlen = sizeof unknown - 1;
	answer(a, s->cmd.id, status, out, outlen, s->job.truncated, s->rt, s->cd, s->cdlen);
	nx_job_free(&s->job);
	free(s->payload);
	s->payload = NULL;
}

/* Answer and drop every finished command among the running ones, keeping ring order. */
static void reap_commands(struct nx_agent *a, uint64_t now)
{
	for (int i = 0; i < a->qlen && i < a->cfg->max_running;) {
		struct agent_cmd *s = &a->q[(a->qhead + i) % a->qcap];
		if (!s->started || !(s->job.done || nx_job_step(&s->job, now))) {
			i++;
			continue;
		}
		finish_command(a, s);
		/* close the gap: move the entries before i one step towards the tail */
		for (int k = i; k > 0; k--)
			a->q[(a->qhead + k) % a->qcap] = a->q[(a->qhead + k - 1) % a->qcap];
		a->qhead = (a->qhead + 1) % a->qcap;
		a->qlen--;
	}
}

static void publish_telemetry(struct nx_agent *a, const char *json)
{
	pthread_mutex_lock(&a->mu);
	int up = a->connected;
	int rc = up ? mosquitto_publish_v5(a->mosq, NULL, a->topic_info, (int)strlen(json), json, 1, false, NULL) : 0;
	pthread_mutex_unlock(&a->mu);
	if (!up)
		agent_event(a, 3, "telemetry skipped: not connected", NULL);
	else if (rc)
		agent_event(a, 1, "cannot publish telemetry", "error=\"%s\"", mosquitto_strerror(rc));
	else
		agent_event(a, 3, "telemetry sent", "bytes=%zu", strlen(json));
}

static void telemetry_tick(struct nx_agent *a)
{
	const struct nx_agent_config *c = a->cfg;
	char e[NX_ERRLEN], b[300];
	if (!c->telemetry_cmd) {
		char *json;
		if (nx_telemetry_collect(c->device, c->version, &a->cpu, &json, e, sizeof e) < 0) {
			agent_event(a, 1, "telemetry collector failed", "error=%s", q(b, sizeof b, e));
			return;
		}
		publish_telemetry(a, json);
		free(json);
		return;
	}
	if (a->tjob_running) {
		agent_event(a, 1, "telemetry command still running: this period skipped", NULL);
		return;
	}
	char env_dev[128];
	snprintf(env_dev, sizeof env_dev, "NEXUS_DEVICE=%s", c->device);
	char *env[] = {env_dev, NULL};
	uint64_t limit = c->timeout_ms < c->interval_ms ? c->timeout_ms : c->interval_ms;
	if (nx_job_start(&a->tjob, c->telemetry_cmd, 1, env, "", 0, 1 << 20, limit, c->grace_ms, e,
	                 sizeof e) < 0) {
		agent_event(a, 1, "cannot start the telemetry command", "error=%s", q(b, sizeof b, e));
		return;
	}
	a->tjob_running = 1;
}

static void telemetry_reap(struct nx_agent *a, uint64_t now)
{
	if (!a->tjob_running || !nx_job_step(&a->tjob, now))
		return;
	a->tjob_running = 0;
	char e[NX_ERRLEN], b[300];
	char *json = NULL;
	if (a->tjob.timed_out)
		agent_event(a, 1, "telemetry command timed out: skipped", NULL);
	else if (a->tjob.exit_code != 0)
		agent_event(a, 1, "telemetry command failed: skipped", "exit=%d", a->tjob.exit_code);
	else if (a->tjob.truncated)
		agent_event(a, 1, "telemetry command wrote more than 1MiB: skipped", NULL);
	else if (nx_telemetry_check(a->tjob.out, a->tjob.outlen, &json, e, sizeof e) < 0)
		agent_event(a, 1, "telemetry command output skipped", "error=%s", q(b, sizeof b, e));
	else
		publish_telemetry(a, json);
	free(json);
	nx_job_free(&a->tjob);
}

struct interrupted {
	struct nx_agent *a;
	char (*ids)[NX_CMD_ID_MAX + 1];
	struct nx_jrec *recs;
	int n, cap;
};

static void collect_running(void *arg, const struct nx_jrec *r)
{
	struct interrupted *it = arg;
	if (it->n == it->cap) {
		int ncap = it->cap ? it->cap * 2 : 8;
		struct nx_jrec *nr = realloc(it->recs, (size_t)ncap * sizeof *nr);
		if (!nr)
			return;
		it->recs = nr;
		it->cap = ncap;
	}
	it->recs[it->n] = *r;
	it->recs[it->n].ack = NULL;
	it->n++;
}

/* Commands an earlier run journaled but never answered: the agent died while they ran (or
 * waited). Never re-run; answered "interrupted". */
static void answer_interrupted(struct nx_agent *a)
{
	struct interrupted it = {.a = a};
	pthread_mutex_lock(&a->mu);
	nx_journal_each_running(a->journal, collect_running, &it);
	for (int i = 0; i < it.n; i++) {
		static const char msg[] = "the agent stopped while this command ran; it was not run again";
		answer(a, it.recs[i].id, "interrupted", msg, sizeof msg - 1, 0, it.recs[i].rt,
		       it.recs[i].cd, it.recs[i].cdlen);
	}
	pthread_mutex_unlock(&a->mu);
	free(it.recs);
}

/* On SIGTERM: running handlers are stopped (TERM, grace, KILL) and answered "interrupted",
 * as are the commands still waiting. */
static void stop_commands(struct nx_agent *a)
{
	uint64_t now = nx_now_ms();
	pthread_mutex_lock(&a->mu);
	for (int i = 0; i < a->qlen && i < a->cfg->max_running; i++) {
		struct agent_cmd *s = &a->q[(a->qhead + i) % a->qcap];
		if (s->started && !s->job.done && s->job.pid > 0)
			s->job.deadline = now;
	}
	pthread_mutex_unlock(&a->mu);
	uint64_t until = now + a->cfg->grace_ms + 2000;
	for (;;) {
		int left = 0;
		now = nx_now_ms();
		pthread_mutex_lock(&a->mu);
		for (int i = 0; i < a->qlen && i < a->cfg->max_running; i++) {
			struct agent_cmd *s = &a->q[(a->qhead + i) % a->qcap];
			if (s->started && !s->job.done && !nx_job_step(&s->job, now))
				left++;
		}
		pthread_mutex_unlock(&a->mu);
		if (!left || now > until)
			break;
		usleep(20000);
	}
	pthread_mutex_lock(&a->mu);
	static const char msg[] = "the agent was stopped while this command ran or waited";
	while (a->qlen) {
		struct agent_cmd *s = &a->q[a->qhead];
		answer(a, s->cmd.id, "interrupted", msg, sizeof msg - 1, 0, s->rt, s->cd, s->cdlen);
		nx_job_free(&s->job);
		free(s->payload);
		s->payload = NULL;
		a->qhead = (a->qhead + 1) % a->qcap;
		a->qlen--;
	}
	pthread_mutex_unlock(&a->mu);
}

static int run_loop(struct nx_agent *a, char *err, size_t errlen)
{
	const struct nx_agent_config *c = a->cfg;
	uint64_t next_tel = nx_now_ms() + 200; /* soon after the first connection */
	int sent_first = 0;
	while (!*c->stop) {
		uint64_t now = nx_now_ms();
		pthread_mutex_lock(&a->mu);
		reap_commands(a, now);
		start_commands(a);
		int fatal = a->fatal, up = a->connected;
		if (fatal)
			nx_err(err, errlen, "%s", a->fatal_err);
		pthread_mutex_unlock(&a->mu);
		if (fatal)
			return -1;
		telemetry_reap(a, now);
		if (up && (now >= next_tel || !sent_first)) {
			telemetry_tick(a);
			sent_first = 1;
			next_tel = now + c->interval_ms;
		}
		/* poll set: the wake pipe, each running job's pipe and pidfd, the telemetry job */
		struct pollfd pf[2 + 2 * 256 + 2];
		int n = 0;
		uint64_t wake_at = next_tel;
		pf[n++] = (struct pollfd){.fd = a->wake[0], .events = POLLIN};
		pthread_mutex_lock(&a->mu);
		for (int i = 0; i < a->qlen && i < c->max_running && i < 256; i++) {
			struct agent_cmd *s = &a->q[(a->qhead + i) % a->qcap];
			if (!s->started || s->job.done)
				continue;
			int fds[2];
			nx_job_pollfds(&s->job, fds);
			for (int k = 0; k < 2; k++)
				if (fds[k] >= 0)
					pf[n++] = (struct pollfd){.fd = fds[k], .events = POLLIN};
			uint64_t d = nx_job_next_deadline(&s->job);
			if (d && d < wake_at)
				wake_at = d;
		}
		pthread_mutex_unlock(&a->mu);
		if (a->tjob_running) {
			int fds[2];
			nx_job_pollfds(&a->tjob, fds);
			for (int k = 0; k < 2; k++)
				if (fds[k] >= 0)
					pf[n++] = (struct pollfd){.fd = fds[k], .events = POLLIN};
			uint64_t d = nx_job_next_deadline(&a->tjob);
			if (d && d < wake_at)
				wake_at = d;
		}
		now = nx_now_ms();
		int timeout = wake_at > now ? (int)(wake_at - now) : 0;
		if (timeout > 200)
			timeout = 200; /* notice *c->stop */
		if (poll(pf, (nfds_t)n, timeout) > 0 && (pf[0].revents & POLLIN)) {
			char buf[256];
			while (read(a->wake[0], buf, sizeof buf) > 0) {
			}
		}
	}
	return 0;
}

int nx_agent_run(const struct nx_agent_config *c, char *err, size_t errlen)
{
	struct nx_agent *a = calloc(1, sizeof *a);
	if (!a)
		return nx_err(err, errlen, "out of memory");
	a->cfg = c;
	a->wake[0] = a->wake[1] = -1;
	pthread_mutex_init(&a->mu, NULL);
	nx_rates_mt_init(&a->often);
	int rc = -1;
	if (!nx_device_id_ok(c->device)) {
		nx_err(err, errlen, "bad device id");
		goto out;
	}
	snprintf(a->prefix, sizeof a->prefix, "device/%s/", c->device);
	snprintf(a->topic_info, sizeof a->topic_info, "device/%s/info", c->device);
	snprintf(a->topic_status, sizeof a->topic_status, "device/%s/status", c->device);
	snprintf(a->topic_cmd, sizeof a->topic_cmd, "device/%s/command", c->device);
	snprintf(a->topic_ack, sizeof a->topic_ack, "device/%s/command/ack", c->device);
	a->qcap = c->max_running + c->max_queued;
	a->q = calloc((size_t)a->qcap, sizeof *a->q);
	if (!a->q || pipe2(a->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		nx_err(err, errlen, "out of memory");
		goto out;
	}
	if (nx_journal_open(&a->journal, c->journal, c->journal_ids, err, errlen) < 0)
		goto out;
	if (nx_journal_skipped(a->journal))
		agent_event(a, 1, "journal: skipped torn or unreadable lines", "lines=%zu",
		            nx_journal_skipped(a->journal));
	struct stat hst;
	char hq[300];
	if (c->handlers && (stat(c->handlers, &hst) < 0 || !S_ISDIR(hst.st_mode)))
		agent_event(a, 1, "--handlers is not a directory (yet): every command is unknown_command until it is",
		            "handlers=%s", q(hq, sizeof hq, c->handlers));
	if (agent_mqtt_start(a, err, errlen) < 0)
		goto out;
	char b[300];
	agent_event(a, 2, "running", "device=%s mqtt=%s:%d handlers=%s journal=%s", c->device,
	            c->mqtt.host, c->mqtt.port, q(b, sizeof b, c->handlers ? c->handlers : "-"), c->journal);
	/* Interrupted commands are answered once we can tell someone: the acks are queued by
	 * libmosquitto in our session and go out on the (first) connection. */
	answer_interrupted(a);
	if (c->on_ready)
		c->on_ready(c->event_ctx);
	rc = run_loop(a, err, errlen);
	stop_commands(a);
	if (a->tjob_running)
		nx_job_free(&a->tjob);
	agent_mqtt_stop(a);
	if (rc == 0)
		agent_event(a, 2, "stopped", NULL);
out:
	if (a->mosq)
		agent_mqtt_stop(a);
	nx_journal_close(a->journal);
	if (a->wake[0] >= 0)
		close(a->wake[0]), close(a->wake[1]);
	free(a->q);
	pthread_mutex_destroy(&a->mu);
	nx_rates_mt_destroy(&a->often);
	free(a);
	return rc;
}
