/* hub_reload.c — SIGHUP and --check-config. A reload takes the configuration the command
 * hands back (options, --config file and environment as they are now) and loads every file
 * it names — certificate and key, secret or verify key, deny-list, backends file — before
 * anything changes: one that does not load refuses the whole reload with a log line and
 * the old configuration stays. Then the hub swaps them in; sessions and streams in flight
 * keep going (a TLS session keeps the certificate it started with, refcounted here), new
 * connections and tokens see the new configuration. */
#include "hub/hub_int.h"
#include "hub/hub_mesh_int.h"
#include "core/log.h"
#include "core/util.h"
#include "token/denylist.h"
#include "token/keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- refcounted TLS credentials ---------------------------------------------------------- */

struct hub_creds *hub_creds_new(struct nx_tls_server_creds *c)
{
	struct hub_creds *h = calloc(1, sizeof *h);
	if (!h) {
		nx_tls_server_creds_free(c);
		return NULL;
	}
	h->c = c;
	h->refs = 1;
	return h;
}

/* Atomic: a session a worker carries drops its reference there. */
struct hub_creds *hub_creds_hold(struct hub_creds *h)
{
	__atomic_add_fetch(&h->refs, 1, __ATOMIC_RELAXED);
	return h;
}

void hub_creds_drop(struct hub_creds *h)
{
	if (h && __atomic_sub_fetch(&h->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		nx_tls_server_creds_free(h->c);
		free(h);
	}
}

/* ---- loading ----------------------------------------------------------------------------- */

struct loaded {
	struct nx_tls_server_creds *creds;
	struct nx_key *key;
};

static void loaded_free(struct loaded *l)
{
	nx_tls_server_creds_free(l->creds);
	nx_key_free(l->key);
	memset(l, 0, sizeof *l);
}

/* Everything cfg names, loaded and checked the way nx_hub_new() does; nothing bound. */
static int load_all(const struct nx_hub_config *cfg, struct loaded *l, char *err, size_t errlen)
{
	char why[NX_ERRLEN];
	memset(l, 0, sizeof *l);
	if ((!cfg->cert_file || !cfg->key_file) && !cfg->acme_directory)
		return nx_err(err, errlen, "--cert FILE and --key FILE are required");
	if (cfg->cert_file &&
	    !(l->creds = nx_tls_server_creds_load(cfg->cert_file, cfg->key_file, why, sizeof why)))
		return nx_err(err, errlen, "%s", why);
	if (cfg->secret_file && cfg->verify_key) {
		loaded_free(l);
		return nx_err(err, errlen, "give only one of --secret-file and --verify-key");
	}
	const char *kf = cfg->secret_file ? cfg->secret_file : cfg->verify_key;
	if (!kf && !cfg->backends_file && !cfg->verify_url) {
		loaded_free(l);
		return nx_err(err, errlen, "no --secret-file, --verify-key, --backends or --verify-url");
	}
	if (kf && nx_key_load_file(kf, &l->key, why, sizeof why) < 0) {
		loaded_free(l);
		return nx_err(err, errlen, "%s", why);
	}
	if (cfg->secret_file && nx_key_type(l->key) != NX_KEY_HMAC) {
		loaded_free(l);
		return nx_err(err, errlen, "%s: not an HMAC secret (use --verify-key for public keys)",
		              kf);
	}
	if (cfg->verify_key && nx_key_type(l->key) == NX_KEY_HMAC) {
		loaded_free(l);
		return nx_err(err, errlen, "%s: not a public key (use --secret-file for HMAC secrets)",
		              kf);
	}
	if (cfg->backends_file) {
		struct nx_backends *nb;
		if (nx_backends_load_file(cfg->backends_file, &nb, why, sizeof why) < 0) {
			loaded_free(l);
			return nx_err(err, errlen, "%s", why);
		}
		nx_backends_free(nb);
	}
	/* A missing deny-list lists nothing; one that cannot be read is an error. */
	if (cfg->deny_list && nx_denylist_contains(cfg->deny_list, "-", why, sizeof why) < 0) {
		loaded_free(l);
		return nx_err(err, errlen, "%s", why);
	}
	return 0;
}

int nx_hub_check(const struct nx_hub_config *cfg, char *summary, size_t n, char *err,
                 size_t errlen)
{
	struct loaded l;
	if (load_all(cfg, &l, err, errlen) < 0)
		return -1;
	if (hub_mesh_check(cfg, err, errlen) < 0) {
		loaded_free(&l);
		return -1;
	}
	snprintf(summary, n, "listen=%s relay_socket=%s auth=%s%s%s allow_tcp_ports=%zu%s%s%s%s",
	         cfg->listen ? cfg->listen : "(systemd)", cfg->relay_socket,
	         cfg->secret_file ? "secret" : cfg->verify_key ? "verify-key"
	                                     : cfg->backends_file ? "backends" : "verify-url",
	         cfg->backends_file && (cfg->secret_file || cfg->verify_key) ? "+backends" : "",
	         cfg->verify_url && (cfg->secret_file || cfg->verify_key || cfg->backends_file)
	             ? "+verify-url" : "",
	         cfg->n_allow_tcp_ports, cfg->deny_list ? " deny_list=" : "",
	         cfg->deny_list ? cfg->deny_list : "", cfg->metrics_addr ? " metrics=" : "",
	         cfg->metrics_addr ? cfg->metrics_addr : "");
	if (cfg->acme_directory) {
		size_t used = strlen(summary);
		snprintf(summary + used, n - used, " acme=%s", cfg->acme_directory);
	}
	if (cfg->peer_secret_file) { /* a hub in a mesh */
		size_t used = strlen(summary);
		snprintf(summary + used, n - used, " mesh=on peers=%zu%s", cfg->n_peers,
		         cfg->peer_client_ca ? " peer_client_ca=on" : "");
	}
	loaded_free(&l);
	return 0;
}

/* ---- SIGHUP ------------------------------------------------------------------------------ */

static void refuse(struct nx_hub *hub, const char *err)
{
	char q[NX_ERRLEN + 8];
	hub->ctr.reload_failures++;
	hub_log(hub, NX_LOG_ERROR, "configuration not reloaded, keeping the old one", "error=%s",
	        nx_log_q(q, sizeof q, err));
}

static void reload(struct nx_hub *hub);

/* The workers wait meanwhile: keys, the backends file and the settings change under them
 * only while they do (hub_workers_unlock hands them the new ones). */
void nx_hub_reload(struct nx_hub *hub)
{
	hub_workers_lock(hub);
	reload(hub);
	hub_workers_unlock(hub);
}

static void reload(struct nx_hub *hub)
{
	char err[NX_ERRLEN];
	struct nx_hub_config nc = hub->cfg;
	if (hub->cfg.reload && hub->cfg.reload(hub->cfg.reload_arg, &nc, err, sizeof err) < 0) {
		refuse(hub, err);
		return;
	}
	hub_config_defaults(&nc); /* an option left out is back to its default */
	if (!nc.backends_file != !hub->cfg.backends_file) {
		refuse(hub, "adding or removing --backends needs a restart");
		return;
	}
	if (!nc.verify_url != !hub->cfg.verify_url) {
		refuse(hub, "adding or removing --verify-url needs a restart");
		return;
	}
	if (nc.verify_url && strncmp(nc.verify_url, "https://", 8) != 0) {
		refuse(hub, "--verify-url: want an https:// URL");
		return;
	}
	struct loaded l;
	if (load_all(&nc, &l, err, sizeof err) < 0) {
		refuse(hub, err);
		return;
	}
	/* The file names are the hub's own copies: the caller's vector goes with its next
	 * reload. */
	const char *names[HUB_OWNED] = {nc.cert_file,     nc.key_file,  nc.secret_file,
	                                nc.verify_key,    nc.backends_file, nc.deny_list,
	                                nc.verify_url,    nc.verify_ca};
	char *copies[HUB_OWNED] = {0};
	int oom = 0;
	for (int i = 0; i < HUB_OWNED; i++)
		if (names[i] && !(copies[i] = strdup(names[i])))
			oom = 1;
	/* ACME: the certificate it got stays (the --acme-* options need a restart) */
	int keep = !l.creds || hub_acme_installed(hub);
	if (keep) {
		nx_tls_server_creds_free(l.creds);
		l.creds = NULL;
	}
	struct hub_creds *hc = NULL;
	if (!oom && !keep) {
		hc = hub_creds_new(l.creds); /* takes it, even when it fails */
		l.creds = NULL;
	}
	if (oom || (!hc && !keep)) {
		for (int i = 0; i < HUB_OWNED; i++)
			free(copies[i]);
		loaded_free(&l);
		refuse(hub, "out of memory");
		return;
	}
	for (int i = 0; i < HUB_OWNED; i++) {
		free(hub->owned[i]);
		hub->owned[i] = copies[i];
	}
	if (hc) {
		hub_creds_drop(hub->creds); /* sessions still in TLS keep theirs */
		hub->creds = hc;
	}
	nx_key_free(hub->key);
	hub->key = l.key;
	/* What a reload may change; the listeners, the relay socket, --metrics and the
	 * timeouts stay as they started. */
	struct nx_hub_config *c = &hub->cfg;
	c->cert_file = copies[0];
	c->key_file = copies[1];
	c->secret_file = copies[2];
	c->verify_key = copies[3];
	c->backends_file = copies[4];
	c->deny_list = copies[5];
	/* a verification in flight keeps what libcurl copied when it started */
	c->verify_url = copies[6];
	c->verify_ca = copies[7];
	c->verify_timeout_ms = nc.verify_timeout_ms;
	c->max_verify = nc.max_verify;
	c->exclusive_hostnames = nc.exclusive_hostnames;
	/* read on the main thread only (hub_streams_admit): streams open now stay open */
	c->max_streams = nc.max_streams;
	c->max_buffered = nc.max_buffered;
	c->max_streams_per_source = nc.max_streams_per_source;
	/* sessions live now stay, also above a lowered cap: new ones wait for room */
	c->max_sessions = nc.max_sessions;
	c->max_sessions_per_backend = nc.max_sessions_per_backend;
	c->leeway_s = nc.leeway_s;
	memcpy(c->allow_tcp_ports, nc.allow_tcp_ports, sizeof c->allow_tcp_ports);
	c->n_allow_tcp_ports = nc.n_allow_tcp_ports;
	memcpy(c->allow_udp_ports, nc.allow_udp_ports, sizeof c->allow_udp_ports);
	c->n_allow_udp_ports = nc.n_allow_udp_ports;
	memcpy(c->relay_uids, nc.relay_uids, sizeof c->relay_uids);
	c->n_relay_uids = nc.n_relay_uids;
	memcpy(c->relay_gids, nc.relay_gids, sizeof c->relay_gids);
	c->n_relay_gids = nc.n_relay_gids;
	if (nc.workers != c->workers)
		hub_log(hub, NX_LOG_WARN, "not reloaded: needs a restart", "option=--workers now=%u "
		        "wanted=%u", c->workers, nc.workers);
	hub->ctr.reloads++;
	char q[300];
	const char *kf = c->secret_file ? c->secret_file : c->verify_key;
	hub_log(hub, NX_LOG_INFO, "configuration reloaded",
	        "cert=%s key_file=%s allow_tcp_ports=%zu allow_udp_ports=%zu deny_list=%s",
	        c->cert_file ? c->cert_file : hub_acme_installed(hub) ? "acme" : "-",
	        kf ? nx_log_q(q, sizeof q, kf) : "-", c->n_allow_tcp_ports,
	        c->n_allow_udp_ports,
	        c->deny_list ? c->deny_list : "-");
	if (c->backends_file)
		hub_backends_reload(hub);
}
