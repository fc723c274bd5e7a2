/* hub_backends.c — the hub's side of --backends (backends.h): which key checks a backend
 * token (its header's kid, looked up in the table), the grant applied to what it claims,
 * the stream limit, and the table re-read on SIGHUP, disconnecting backends whose line went
 * away or whose claims no longer fit their grant. */
#include "hub/hub_int.h"
#include "token/jws.h"
#include "core/b64url.h"
#include "core/random.h"
#include "core/hostname.h"
#include "core/log.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The file is looked at every HUB_BACKENDS_POLL_MS: a change of inode, size or mtime
 * (an editor's rename, an append, a touch) reloads it as SIGHUP would. One stat per poll. */
#define HUB_BACKENDS_POLL_MS 2000

static void file_sig(const char *path, struct hub_file_sig *sig)
{
	struct stat st;
	memset(sig, 0, sizeof *sig);
	if (stat(path, &st) == 0) {
		sig->ino = st.st_ino;
		sig->size = st.st_size;
		sig->mtime = st.st_mtim;
	}
}

static void backends_poll(struct nx_loop *loop, void *arg)
{
	struct nx_hub *hub = arg;
	struct hub_file_sig now;
	if (hub->cfg.backends_file) {
		file_sig(hub->cfg.backends_file, &now);
		if (memcmp(&now, &hub->backends_sig, sizeof now) != 0) {
			hub_log(hub, NX_LOG_INFO, "backends file changed, reloading", "file=%s",
			        hub->cfg.backends_file);
			hub_workers_lock(hub);
			hub_backends_reload(hub);
			hub_workers_unlock(hub);
		}
	}
	nx_timer_start(loop, &hub->backends_timer, HUB_BACKENDS_POLL_MS, backends_poll, hub);
}

int hub_backends_open(struct nx_hub *hub, char *err, size_t errlen)
{
	if (!hub->cfg.backends_file)
		return 0;
	file_sig(hub->cfg.backends_file, &hub->backends_sig);
	if (nx_backends_load_file(hub->cfg.backends_file, &hub->backends, err, errlen) < 0)
		return -1;
	nx_timer_start(hub->loop, &hub->backends_timer, HUB_BACKENDS_POLL_MS, backends_poll, hub);
	return 0;
}

static int kid_ok(const char *k)
{
	size_t n = k ? strlen(k) : 0;
	return n > 0 && n < NX_KID_MAX &&
	       strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

int hub_backends_pick(struct hub_session *s, int stage, const char *token, size_t len,
                      const struct nx_key **key, const struct nx_backend **be, char *why,
                      size_t whylen)
{
	struct nx_hub *hub = s->hub;
	*key = hub->key;
	*be = NULL;
	if (!hub->backends)
		return 0; /* no --backends: the kid means nothing here */
	json_t *hdr = NULL;
	enum nx_alg alg = NX_ALG_NONE;
	if (nx_jws_decode(token, len, &hdr, NULL, &alg, why, whylen) < 0)
		return hub->key ? 0 : -1; /* nx_jws_verify says the same with the shared key */
	const char *kid = json_string_value(json_object_get(hdr, "kid"));
	char k[NX_KID_MAX] = "";
	if (kid_ok(kid))
		snprintf(k, sizeof k, "%s", kid);
	json_decref(hdr);
	if (stage == 0)
		snprintf(s->kid, sizeof s->kid, "%s", k);
	const struct nx_backend *e = k[0] ? nx_backends_find_kid(hub->backends, k) : NULL;
	int hmac = alg == NX_ALG_HS256 || alg == NX_ALG_HS384 || alg == NX_ALG_HS512;
	if (e) {
		if (hmac || alg == NX_ALG_NONE)
			return nx_err(why, whylen, "an %s token cannot use a backend key",
			              alg == NX_ALG_NONE ? "unsigned" : nx_alg_name(alg));
		if (stage > 0 && (!s->keyed || strcmp(s->kid, k) != 0))
			return nx_err(why, whylen, "signed by another key than the stage0 token");
		*key = e->key;
		*be = e;
		if (stage == 0)
			snprintf(s->bname, sizeof s->bname, "%s", e->name);
		return 0;
	}
	if (stage > 0 && s->keyed)
		return nx_err(why, whylen, "backend key is no longer in the backends file");
	if (kid && !hmac && !(hub->key && nx_key_allows_alg(hub->key, alg)))
		return nx_err(why, whylen, "unknown key (kid %.43s)", k[0] ? k : "?");
	if (!hub->key)
		return nx_err(why, whylen, hmac ? "this hub has no shared secret, only backend keys"
		                                : "token has no kid: this hub takes backend keys only");
	return 0;
}

int hub_backends_grant(struct hub_session *s, int stage, const struct nx_backend *be,
                       struct nx_route_claims *c, char *why, size_t whylen)
{
	if (nx_backend_grant_check(be, c, why, whylen) < 0)
		return -1;
	/* the name in the file is the backend's identity (logs, --exclusive-hostnames) */
	snprintf(c->sub, sizeof c->sub, "%s", be->name);
	if (stage == 0) {
		s->keyed = 1;
		s->max_streams = be->max_streams;
	}
	return 0;
}

/* Quick start: a backend with a key that claims nothing gets a name under its grant's first
 * wildcard, the same each time for the same key: the first 12 hex digits of its kid's
 * bytes ("3f1ac0de99b2.dev.example.com"); or, when its stage-0 token lists the random_name
 * extension, 12 random hex digits. */
int hub_backends_assign(struct hub_session *s, const struct nx_backend *be,
                        struct nx_route_claims *c, char *why, size_t whylen)
{
	if (c->n_hostnames || c->n_tcp_ports || c->n_udp_routes)
		return 0;
	const char *wild = NULL;
	for (size_t i = 0; i < be->n_hosts && !wild; i++)
		if (nx_hostname_is_wildcard(be->hosts[i]))
			wild = be->hosts[i];
	if (!wild)
		return nx_err(why, whylen, "nothing claimed, and no wildcard in this key's grant to "
		                           "assign a name under");
	unsigned char raw[32];
	size_t rl = 0;
	if (c->has_random_name) {
		if (nx_random_bytes(raw, 6, why, whylen) < 0)
			return -1;
	} else if (nx_b64url_decode(s->kid, strlen(s->kid), raw, sizeof raw, &rl, why, whylen) < 0 ||
	           rl < 6)
		return nx_err(why, whylen, "cannot derive a name from the kid");
	char name[NX_HOSTNAME_MAX + 1];
	int n = snprintf(name, sizeof name, "%02x%02x%02x%02x%02x%02x%s", raw[0], raw[1], raw[2],
	                 raw[3], raw[4], raw[5], wild + 1);
	if (n < 0 || (size_t)n >= sizeof name)
		return nx_err(why, whylen, "assigned name too long");
	c->hostnames = calloc(1, sizeof *c->hostnames);
	if (!c->hostnames || !(c->hostnames[0] = strdup(name)))
		return nx_err(why, whylen, "out of memory");
	c->n_hostnames = 1;
	snprintf(s->assigned, sizeof s->assigned, "%s", name);
	return 0;
}

/* The handshake challenge with the assigned name in "hostnames" (ours: only a backend that
 * asked for a name by claiming nothing gets it; it claims the name from stage 1 on). */
int hub_backends_challenge(const struct hub_session *s, char *text, size_t cap, int n)
{
	if (!s->assigned[0] || n < 0)
		return n;
	json_t *o = json_loadb(text, (size_t)n, 0, NULL);
	if (!o)
		return -1;
	json_object_set_new(o, "hostnames", json_pack("[s]", s->assigned));
	char *d = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!d || strlen(d) >= cap) {
		free(d);
		return -1;
	}
	n = (int)strlen(d);
	memcpy(text, d, (size_t)n + 1);
	free(d);
	return n;
}

const char *hub_backend_kv(const struct hub_session *s, char *buf, size_t n)
{
	buf[0] = 0;
	if (s->bname[0])
		snprintf(buf, n, " key=%s kid=%s", s->bname, s->kid);
	else if (s->kid[0])
		snprintf(buf, n, " kid=%s", s->kid);
	return buf;
}

int hub_backends_stream_allowed(struct hub_session *s)
{
	if (!s->max_streams || s->n_streams < s->max_streams)
		return 1;
	/* an end user can knock at the cap as fast as they connect: one line a second, counted */
	uint64_t n = nx_rate_note(&s->streams_refused, nx_loop_now(s->hub->loop), 1000);
	char b[160];
	if (n)
		hub_log(s->hub, 2, "stream refused",
		        "session=%llu backend=%s reason=\"streams=%u reached\" times=%llu",
		        (unsigned long long)s->id, nx_log_q(b, sizeof b, s->claims.sub), s->max_streams,
		        (unsigned long long)n);
	return 0;
}

static void recheck(struct nx_hub *hub, const struct nx_backends *nb);

void hub_backends_reload(struct nx_hub *hub)
{
	char err[NX_ERRLEN], q[NX_ERRLEN + 8];
	if (!hub->cfg.backends_file) {
		hub_log(hub, 2, "reload: nothing to reload", "detail=\"no --backends file\"");
		return;
	}
	struct nx_backends *nb;
	/* what was read, changed or not: a bad file is logged once, not every poll */
	file_sig(hub->cfg.backends_file, &hub->backends_sig);
	if (nx_backends_load_file(hub->cfg.backends_file, &nb, err, sizeof err) < 0) {
		hub_log(hub, 1, "backends file not reloaded, keeping the old one", "error=%s",
		        nx_log_q(q, sizeof q, err));
		return;
	}
	struct nx_hub *h; /* the workers are locked: their sessions too */
	for (size_t i = 0; (h = hub_each(hub, i)); i++)
		recheck(h, nb);
	nx_backends_free(hub->backends);
	hub->backends = nb;
	hub_log(hub, 2, "backends file loaded", "file=%s backends=%zu",
	        nx_log_q(q, sizeof q, hub->cfg.backends_file), nb->n);
}

/* Sessions whose key went or whose claims left its grant end; the others take the new
 * entry's name and streams=. */
static void recheck(struct nx_hub *hub, const struct nx_backends *nb)
{
	char q[NX_ERRLEN + 8];
	for (struct hub_session *s = hub->sessions, *next; s; s = next) {
		next = s->next;
		if (s->dead || !s->keyed || s->state == SESS_CLOSING)
			continue;
		const struct nx_backend *e = nx_backends_find_kid(nb, s->kid);
		const char *reason = NULL;
		char why[NX_ERRLEN];
		if (!e)
			reason = "backend key removed from the backends file";
		else if (s->has_claims && nx_backend_grant_check(e, &s->claims, why, sizeof why) < 0)
			reason = why;
		if (!reason) {
			s->max_streams = e->max_streams;
			snprintf(s->bname, sizeof s->bname, "%s", e->name);
			continue;
		}
		char b[160];
		hub_log(hub, 1, "backend disconnected", "session=%llu backend=%s key=%s kid=%s reason=%s",
		        (unsigned long long)s->id, nx_log_q(b, sizeof b, s->claims.sub), s->bname,
		        s->kid, nx_log_q(q, sizeof q, reason));
		hub_session_fail(s, NX_WS_CLOSE_POLICY, reason);
	}
}
