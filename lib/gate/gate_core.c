/* gate_core.c — the gate's state (gate.h, gate_int.h): configuration and keys, the
 * certificate new connections get, its log lines, and the places connections take (in all
 * and per end-user address), each connection a thread of its own. */
#include "gate/gate_int.h"
#include "core/random.h"
#include "core/sock.h"
#include "core/util.h"
#include "token/keys.h"
#include "wire/tls.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

void gate_log(struct nx_gate *g, int level, const char *msg, const char *kvfmt, ...)
{
	va_list ap;
	va_start(ap, kvfmt);
	nx_log_vemit(g->cfg.log, g->cfg.log_arg, level, msg, kvfmt, ap);
	va_end(ap);
}

void gate_log_remote(struct nx_gate *g, int level, const char *msg, const char *kvfmt, ...)
{
	uint64_t n = nx_rates_mt_note(&g->remote, kvfmt);
	va_list ap;
	va_start(ap, kvfmt);
	nx_log_vemit_times(g->cfg.log, g->cfg.log_arg, level, msg, n, kvfmt, ap);
	va_end(ap);
}

struct nx_gate *nx_gate_new(const struct nx_gate_cfg *cfg, char *err, size_t errlen)
{
	char e[NX_ERRLEN];
	uint8_t secret[32];
	struct nx_gate *g = calloc(1, sizeof *g);
	if (!g || !(g->replay = calloc(NX_GATE_REPLAY_MAX, sizeof *g->replay))) {
		free(g);
		return nx_err(err, errlen, "out of memory"), NULL;
	}
	g->cfg = *cfg;
	pthread_mutex_init(&g->mu, NULL);
	nx_rates_mt_init(&g->remote);
	if (cfg->n_hosts == 0 || cfg->n_hosts > NX_GATE_MAX_HOSTS) {
		nx_err(err, errlen, "the gate needs 1 to %d host names", NX_GATE_MAX_HOSTS);
		goto fail;
	}
	for (size_t i = 0; i < cfg->n_hosts; i++)
		if (nx_hostname_normalize(cfg->hosts[i], strlen(cfg->hosts[i]), g->hosts[i],
		                          sizeof g->hosts[i], 0, e, sizeof e) < 0) {
			nx_err(err, errlen, "gate host '%s': %s", cfg->hosts[i], e);
			goto fail;
		}
	g->n_hosts = cfg->n_hosts;
	if (nx_key_load_file(cfg->verify_key, &g->grant_key, e, sizeof e) < 0) {
		nx_err(err, errlen, "%s: %s", cfg->verify_key, e);
		goto fail;
	}
	if (!nx_key_allows_alg(g->grant_key, NX_ALG_ES256)) {
		nx_err(err, errlen, "%s: grants are ES256: an EC P-256 key is needed", cfg->verify_key);
		goto fail;
	}
	if (cfg->cert || !cfg->acme_directory) {
		struct nx_tls_server_creds *c =
		    nx_tls_server_creds_load(cfg->cert, cfg->cert_key, e, sizeof e);
		if (!c) {
			nx_err(err, errlen, "%s", e);
			goto fail;
		}
		gate_creds_set(g, c);
	}
	/* Session cookies are ours alone: a key that lives as long as this process. */
	if (nx_random_bytes(secret, sizeof secret, err, errlen) < 0 ||
	    nx_key_from_secret(secret, sizeof secret, &g->session_key, err, errlen) < 0) {
		nx_wipe(secret, sizeof secret);
		goto fail;
	}
	nx_wipe(secret, sizeof secret);
	if (cfg->check_only)
		return g;
	if (gate_revocations_start(g, err, errlen) < 0)
		goto fail;
	if (cfg->acme_directory && gate_acme_start(g, err, errlen) < 0)
		goto fail;
	return g;
fail:
	nx_gate_free(g);
	return NULL;
}

void nx_gate_free(struct nx_gate *g)
{
	if (!g)
		return;
	nx_key_free(g->grant_key);
	nx_key_free(g->session_key);
	if (g->creds)
		gate_creds_drop(g, g->creds);
	pthread_mutex_destroy(&g->mu);
	nx_rates_mt_destroy(&g->remote);
	nx_srcmap_free(g->conns_src);
	free(g->replay);
	json_decref(g->revoked);
	free(g);
}

struct gate_creds *gate_creds_hold(struct nx_gate *g)
{
	pthread_mutex_lock(&g->mu);
	struct gate_creds *gc = g->creds;
	if (gc)
		gc->refs++;
	pthread_mutex_unlock(&g->mu);
	return gc;
}

void gate_creds_drop(struct nx_gate *g, struct gate_creds *gc)
{
	pthread_mutex_lock(&g->mu);
	int last = --gc->refs == 0;
	pthread_mutex_unlock(&g->mu);
	if (last) {
		nx_tls_server_creds_free(gc->c);
		free(gc);
	}
}

void gate_creds_set(struct nx_gate *g, struct nx_tls_server_creds *c)
{
	struct gate_creds *gc = calloc(1, sizeof *gc);
	if (!gc) {
		nx_tls_server_creds_free(c);
		return;
	}
	gc->c = c;
	gc->refs = 1;
	pthread_mutex_lock(&g->mu);
	struct gate_creds *old = g->creds;
	g->creds = gc;
	pthread_mutex_unlock(&g->mu);
	if (old)
		gate_creds_drop(g, old);
}

int nx_gate_handles(const struct nx_gate *g, const char *hostname)
{
	for (size_t i = 0; hostname && i < g->n_hosts; i++)
		if (strcasecmp(g->hosts[i], hostname) == 0)
			return 1;
	return 0;
}

void gate_slot_release(struct nx_gate *g, const struct gate_slot *slot)
{
	pthread_mutex_lock(&g->mu);
	g->conns--;
	if (slot->has_src)
		nx_srcmap_dec(g->conns_src, &slot->src);
	pthread_mutex_unlock(&g->mu);
}

int gate_thread_open(struct nx_gate *g, struct gate_slot *slot, const char *client,
                     void *(*fn)(void *), void *arg, int *fdp, size_t stack, char *err,
                     size_t errlen)
{
	int sv[2];
	slot->has_src = client && nx_src_of_text(client, &slot->src) == 0;
	pthread_mutex_lock(&g->mu);
	if (slot->has_src && !g->conns_src && !(g->conns_src = nx_srcmap_new()))
		slot->has_src = 0;
	int busy = g->conns >= NX_GATE_MAX_CONNS ? 1
	           : slot->has_src && nx_srcmap_get(g->conns_src, &slot->src) >= NX_GATE_MAX_CONNS_PER_SOURCE ? 2
	                                                                                          : 0;
	if (!busy) {
		g->conns++;
		if (slot->has_src && !nx_srcmap_inc(g->conns_src, &slot->src))
			slot->has_src = 0;
	}
	pthread_mutex_unlock(&g->mu);
	if (busy == 1)
		return nx_err(err, errlen, "%d gated connections open, refusing another",
		              NX_GATE_MAX_CONNS);
	if (busy == 2)
		return nx_err(err, errlen, "%d gated connections open from one address, refusing another",
		              NX_GATE_MAX_CONNS_PER_SOURCE);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		nx_err(err, errlen, "gate: %s", strerror(errno));
		goto undo;
	}
	*fdp = sv[1];
	nx_set_nonblock(sv[0], 1);
	nx_set_nonblock(sv[1], 1);
	pthread_attr_t at;
	pthread_t th;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, stack);
	int rc = pthread_create(&th, &at, fn, arg);
	pthread_attr_destroy(&at);
	if (rc != 0) {
		close(sv[0]);
		close(sv[1]);
		nx_err(err, errlen, "gate: cannot start a thread: %s", strerror(rc));
		goto undo;
	}
	return sv[0];
undo:
	gate_slot_release(g, slot);
	return -1;
}
