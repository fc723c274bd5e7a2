/* tunnel_group.c — the nexus-tunnel process: one event loop, the signals, --metrics, and
 * --connections N sessions to the hub (struct tunnel each, tunnel.c). The hub sees N
 * backends with the same name and claims and spreads new streams over them (weighted round
 * robin), so one tunnel's traffic is not bound to one TLS stream and one TCP connection: a
 * slow or lossy path stalls only its share. The first session starts alone; the others
 * follow once it has served, so a name the hub assigned (the quick start) is the one they
 * claim. SIGHUP, SIGUSR1 and SIGTERM go to every session. */
#include "core/promtext.h"
#include "core/random.h"
#include "core/util.h"
#include "token/keys.h"
#include "tunnel/tunnel_int.h"
#include "wire/metrics_http.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* ---- life of the members --------------------------------------------------------------- */

static void stop_all(struct tunnel_group *g, int signo)
{
	for (size_t i = 0; i < g->n; i++) {
		struct tunnel *t = g->t[i];
		if (i < g->started)
			tunnel_stop(t, signo);
		else
			t->stopping = true; /* never started: nothing to end */
	}
}

void tunnel_group_stopped(struct tunnel *t)
{
	struct tunnel_group *g = t->grp;
	g->stopped++;
	if (t->exit_code) /* a refusal retrying cannot fix: the others have the same config */
		stop_all(g, SIGTERM);
	if (g->stopped >= g->started)
		nx_loop_stop(g->loop);
}

void tunnel_group_served(struct tunnel *t)
{
	struct tunnel_group *g = t->grp;
	if (t->index != 0 || g->started != 1)
		return;
	for (size_t i = 1; i < g->n; i++) {
		struct tunnel *o = g->t[i];
		if (o->stopping)
			continue;
		snprintf(o->assigned, sizeof o->assigned, "%s", t->assigned);
		g->started++;
		tunnel_session_start(o);
	}
}

static struct tunnel *member_new(const struct nx_tunnel_cfg *cfg, struct tunnel_group *g,
                                 size_t index, char *err, size_t errlen)
{
	struct tunnel *t = calloc(1, sizeof *t);
	if (!t) {
		nx_err(err, errlen, "out of memory");
		return NULL;
	}
	t->grp = g;
	t->index = index;
	t->loop = g->loop;
	t->live = *cfg;
	t->cfg = &t->live;
	t->fd = -1;
	t->job.fd = -1;
	if (!(t->resolved = calloc(cfg->n_map + 1, sizeof *t->resolved))) {
		free(t);
		nx_err(err, errlen, "out of memory");
		return NULL;
	}
	if (nx_tunnel_parse_url(cfg->hub_url, &t->url, err, errlen) < 0)
		goto fail;
	if (!(t->trust = nx_tls_trust_load(cfg->ca_file, err, errlen)))
		goto fail;
	if (cfg->secret_file) {
		if (nx_key_load_file(cfg->secret_file, &t->key, err, errlen) < 0)
			goto fail;
		if (!nx_key_can_sign(t->key)) {
			nx_err(err, errlen, "%s: a public key cannot sign tokens", cfg->secret_file);
			goto fail;
		}
	} else if (!cfg->token_cmd) {
		nx_err(err, errlen, "no way to make tokens (secret file or token command)");
		goto fail;
	}
	return t;
fail:
	nx_tls_trust_free(t->trust);
	nx_key_free(t->key);
	free(t->resolved);
	free(t);
	return NULL;
}

static void member_free(struct tunnel *t)
{
	if (!t)
		return;
	if (t->state != T_IDLE) {
		t->stopping = true;
		streams_close_all(t);
		token_cancel(t);
	}
	nx_timer_stop(t->loop, &t->reconnect);
	if (t->fd >= 0)
		close(t->fd);
	nx_tls_free(t->tls);
	nx_ws_reader_free(&t->rd);
	nx_chunkq_clear(&t->out);
	nx_tls_trust_free(t->trust);
	nx_key_free(t->key);
	nx_srcmap_free(t->stream_src);
	free(t->resolved);
	if (t->reloaded.free_mem)
		t->reloaded.free_mem(t->reloaded.mem);
	free(t);
}

/* ---- status and metrics ---------------------------------------------------------------- */

/* --metrics: the members' counters summed; session_up counts the sessions up. */
static long render_metrics(void *arg, char *buf, size_t cap)
{
	const struct tunnel_group *g = arg;
	struct tunnel_stats st = {0};
	uint64_t up = 0, streams = 0;
	for (size_t i = 0; i < g->n; i++) {
		const struct tunnel *t = g->t[i];
		st.bytes_from_hub += t->stats.bytes_from_hub;
		st.bytes_to_hub += t->stats.bytes_to_hub;
		st.streams_total += t->stats.streams_total;
		st.streams_refused += t->stats.streams_refused;
		st.sessions_served += t->stats.sessions_served;
		st.dials += t->stats.dials ? t->stats.dials - 1 : 0; /* here: reconnects */
		up += tunnel_up(t);
		streams += t->n_streams;
	}
	struct nx_prom p;
	nx_prom_init(&p, buf, cap);
	nx_prom_family(&p, "nexus_tunnel_session_up", "gauge",
	               "Sessions the hub has accepted now (1, or up to --connections).");
	nx_prom_u64(&p, "nexus_tunnel_session_up", NULL, NULL, up);
	nx_prom_family(&p, "nexus_tunnel_sessions_total", "counter",
	               "Sessions the hub accepted.");
	nx_prom_u64(&p, "nexus_tunnel_sessions_total", NULL, NULL, st.sessions_served);
	nx_prom_family(&p, "nexus_tunnel_reconnects_total", "counter",
	               "Sessions started after the first one of each connection.");
	nx_prom_u64(&p, "nexus_tunnel_reconnects_total", NULL, NULL, st.dials);
	nx_prom_family(&p, "nexus_tunnel_streams", "gauge", "Streams open now.");
	nx_prom_u64(&p, "nexus_tunnel_streams", NULL, NULL, streams);
	nx_prom_family(&p, "nexus_tunnel_streams_total", "counter",
	               "Streams that got a local service or command.");
	nx_prom_u64(&p, "nexus_tunnel_streams_total", NULL, NULL, st.streams_total);
	nx_prom_family(&p, "nexus_tunnel_stream_refusals_total", "counter",
	               "Streams turned away: no target, over --max-streams, local service unreachable.");
	nx_prom_u64(&p, "nexus_tunnel_stream_refusals_total", NULL, NULL, st.streams_refused);
	nx_prom_family(&p, "nexus_tunnel_bytes_total", "counter",
	               "Stream bytes: from_hub (end users to local services), to_hub (back).");
	nx_prom_u64(&p, "nexus_tunnel_bytes_total", "direction", "from_hub", st.bytes_from_hub);
	nx_prom_u64(&p, "nexus_tunnel_bytes_total", "direction", "to_hub", st.bytes_to_hub);
	nx_prom_family(&p, "nexus_tunnel_reloads_total", "counter", "Configurations taken on SIGHUP.");
	nx_prom_u64(&p, "nexus_tunnel_reloads_total", NULL, NULL, g->t[0]->reloads);
	return nx_prom_len(&p);
}

/* ---- signals --------------------------------------------------------------------------- */

static void on_signal(struct nx_loop *loop, int signo, void *arg)
{
	struct tunnel_group *g = arg;
	if (signo == SIGCHLD) {
		int status;
		pid_t pid;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			bool token = false;
			for (size_t i = 0; i < g->n && !token; i++)
				token = token_child_exited(g->t[i], pid, status);
			for (size_t i = 0; i < g->n && !token; i++)
				streams_child_exited(g->t[i], pid);
		}
		return;
	}
	for (size_t i = 0; i < g->n; i++) {
		struct tunnel *t = g->t[i];
		if (signo == SIGHUP) {
			if (!t->stopping)
				tunnel_reload(t);
		} else if (signo == SIGUSR1) {
			if (i < g->started)
				tunnel_say_status(t);
		}
	}
	if (signo != SIGHUP && signo != SIGUSR1)
		stop_all(g, signo);
}

/* ---- entry ----------------------------------------------------------------------------- */

int nx_tunnel_run(const struct nx_tunnel_cfg *cfg, char *err, size_t errlen)
{
	struct tunnel_group g = {.n = cfg->connections ? cfg->connections : 1};
	int rc = -1;
	char rb[4];
	if (g.n > NX_TUNNEL_MAX_CONNECTIONS)
		return nx_err(err, errlen, "--connections: at most %d", NX_TUNNEL_MAX_CONNECTIONS);
	if (nx_random_bytes(rb, sizeof rb, err, errlen) < 0)
		return -1;
	if (!(g.t = calloc(g.n, sizeof *g.t)))
		return nx_err(err, errlen, "out of memory");
	if (!(g.loop = nx_loop_new(err, errlen)))
		goto out;
	for (size_t i = 0; i < g.n; i++)
		if (!(g.t[i] = member_new(cfg, &g, i, err, errlen)))
			goto out;
	int sigs[] = {SIGTERM, SIGINT, SIGCHLD, SIGHUP, SIGUSR1};
	if (nx_loop_signals(g.loop, sigs, 5, on_signal, &g, err, errlen) < 0)
		goto out;
	signal(SIGPIPE, SIG_IGN);
	if (cfg->metrics_addr) {
		if (!(g.metrics = nx_metrics_listen(g.loop, cfg->metrics_addr, render_metrics, &g, err,
		                                    errlen)))
			goto out;
		tunnel_say(g.t[0], NX_LOG_INFO, "metrics on http://%s/metrics",
		           nx_metrics_addr(g.metrics));
	}
	int fast;
	const char *impl = nx_tls_crypto_impl(&fast);
	tunnel_say(g.t[0], fast ? NX_LOG_DEBUG : NX_LOG_WARN, "tls crypto: %s%s", impl,
	           fast ? "" : ": bulk costs several times the CPU");
	g.started = 1;
	tunnel_session_start(g.t[0]);
	if (nx_loop_run(g.loop) < 0) {
		nx_err(err, errlen, "event loop failed: %s", strerror(errno));
		goto out;
	}
	rc = 0;
	for (size_t i = 0; i < g.n && rc == 0; i++)
		if (g.t[i]->exit_code) {
			nx_err(err, errlen, "%s", g.t[i]->fatal);
			rc = -1;
		}
out:
	for (size_t i = 0; i < g.n; i++)
		member_free(g.t[i]);
	free(g.t);
	nx_metrics_free(g.metrics);
	if (g.loop)
		nx_loop_free(g.loop);
	return rc;
}
