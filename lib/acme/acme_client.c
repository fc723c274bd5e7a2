/* acme_client.c — the RFC 8555 flow of nx_acme_obtain (see acme.h): directory, nonce,
 * account, order, authorizations and their http-01 challenges, finalize, download. */
#include "acme/acme_int.h"
#include "core/b64url.h"
#include "core/log.h"
#include "core/util.h"
#include "oauth/http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BADNONCE_RETRIES 8
#define RETRY_AFTER_MAX_S 60

struct ctx {
	const struct nx_acme_config *cfg;
	struct nx_acme_result *res;
	struct nx_key *akey;
	char thumb[NX_KID_MAX];
	char kid[NX_ACME_URL_MAX];
	char nonce[256];
	struct acme_directory dir;
	uint64_t deadline;
	char written[NX_ACME_MAX_NAMES][NX_ACME_TOKEN_MAX + 1]; /* challenge files to remove */
	size_t nwritten;
};

static void say(struct ctx *x, int lvl, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void say(struct ctx *x, int lvl, const char *msg, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	nx_log_vemit(x->cfg->log, x->cfg->log_arg, lvl, msg, fmt, ap);
	va_end(ap);
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int fetch(struct ctx *x, struct nx_http_fetch *f, const char *method, const char *url,
                 char *err, size_t errlen)
{
	memset(f, 0, sizeof *f);
	f->method = method;
	f->url = url;
	f->ca_file = x->cfg->ca_file;
	return nx_oauth_fetch(f, err, errlen);
}

static int new_nonce(struct ctx *x, char *err, size_t errlen)
{
	struct nx_http_fetch f;
	if (fetch(x, &f, "HEAD", x->dir.new_nonce, err, errlen) < 0)
		return -1;
	nx_oauth_fetch_done(&f);
	if (!f.replay_nonce[0])
		return nx_err(err, errlen, "%s: HTTP %ld without a Replay-Nonce", x->dir.new_nonce,
		              f.status);
	memcpy(x->nonce, f.replay_nonce, sizeof x->nonce);
	return 0;
}

/* POST a JWS of payload ("" = POST-as-GET) to url. A 4xx/5xx is an error naming the
 * problem; badNonce is retried with the nonce that came with it. f: the caller frees. */
static int post(struct ctx *x, const char *url, const char *payload, const char *accept,
                struct nx_http_fetch *f, char *err, size_t errlen)
{
	for (int attempt = 0;; attempt++) {
		if (nx_now_ms() > x->deadline)
			return nx_err(err, errlen, "timed out");
		if (!x->nonce[0] && new_nonce(x, err, errlen) < 0)
			return -1;
		char *jws = acme_jws(x->akey, x->kid[0] ? x->kid : NULL, x->nonce, url, payload,
		                     err, errlen);
		if (!jws)
			return -1;
		memset(f, 0, sizeof *f);
		f->method = "POST";
		f->url = url;
		f->ca_file = x->cfg->ca_file;
		f->body = jws;
		f->body_len = strlen(jws);
		f->content_type = "application/jose+json";
		f->accept = accept;
		int rc = nx_oauth_fetch(f, err, errlen);
		free(jws);
		memcpy(x->nonce, f->replay_nonce, sizeof x->nonce); /* "" when none came */
		if (rc < 0)
			return -1;
		if (f->status < 400)
			return 0;
		struct acme_problem p;
		if (acme_parse_problem(f->resp ? f->resp : "", f->resp_len, &p) < 0)
			snprintf(p.type, sizeof p.type, "-"), p.detail[0] = 0;
		int64_t ra = acme_parse_retry_after(f->retry_after, nx_unix_time());
		nx_oauth_fetch_done(f);
		const char *t = strrchr(p.type, ':') ? strrchr(p.type, ':') + 1 : p.type;
		if (strcmp(t, "badNonce") == 0 && attempt < BADNONCE_RETRIES) {
			say(x, NX_LOG_DEBUG, "acme badNonce, retrying with the fresh nonce", "url=%s",
			    url);
			continue;
		}
		if (strcmp(t, "rateLimited") == 0) {
			x->res->retry_at = nx_unix_time() + (ra >= 0 ? ra : 3600);
			return nx_err(err, errlen, "%s: rate limited (%s), retry after %lld s", url,
			              p.detail, (long long)(ra >= 0 ? ra : 3600));
		}
		return nx_err(err, errlen, "%s: HTTP %ld %s%s%s", url, f->status, p.type,
		              p.detail[0] ? ": " : "", p.detail);
	}
}

/* Between polls: the server's Retry-After (bounded), else poll_ms. */
static int poll_pause(struct ctx *x, const struct nx_http_fetch *f, char *err, size_t errlen)
{
	int64_t ra = acme_parse_retry_after(f->retry_after, nx_unix_time());
	uint64_t ms = ra >= 0 ? (uint64_t)(ra > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : ra) * 1000
	                      : x->cfg->poll_ms;
	if (ms == 0)
		ms = 50;
	if (nx_now_ms() + ms > x->deadline)
		return nx_err(err, errlen, "timed out waiting for the ACME server");
	sleep_ms(ms);
	return 0;
}

static int account_key(struct ctx *x, char *err, size_t errlen)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", x->cfg->state_dir, NX_ACME_ACCOUNT_FILE);
	if (access(path, F_OK) == 0) {
		if (nx_key_load_file(path, &x->akey, err, errlen) < 0)
			return -1;
		if (nx_key_type(x->akey) != NX_KEY_EC || !nx_key_can_sign(x->akey))
			return nx_err(err, errlen, "%s: not an EC P-256 private key", path);
		if (nx_file_is_loose(path))
			say(x, NX_LOG_WARN, "acme account key readable by group or others", "file=%s",
			    path);
	} else {
		if (nx_key_generate(NX_ALG_ES256, 0, &x->akey, err, errlen) < 0 ||
		    nx_key_write_private(x->akey, path, err, errlen) < 0)
			return -1;
		say(x, NX_LOG_INFO, "acme account key created", "file=%s", path);
	}
	return nx_key_thumbprint(x->akey, x->thumb, err, errlen);
}

static int get_directory(struct ctx *x, char *err, size_t errlen)
{
	struct nx_http_fetch f;
	if (fetch(x, &f, "GET", x->cfg->directory_url, err, errlen) < 0)
		return -1;
	int rc = f.status == 200 ? acme_parse_directory(f.resp ? f.resp : "", f.resp_len, &x->dir,
	                                                err, errlen)
	                         : nx_err(err, errlen, "HTTP %ld", f.status);
	nx_oauth_fetch_done(&f);
	if (rc < 0) {
		char e2[NX_ERRLEN];
		snprintf(e2, sizeof e2, "%s", err);
		return nx_err(err, errlen, "%s: %s", x->cfg->directory_url, e2);
	}
	return 0;
}

static int new_account(struct ctx *x, char *err, size_t errlen)
{
	json_t *p = json_pack("{sb}", "termsOfServiceAgreed", 1);
	if (x->cfg->email) {
		char c[600];
		snprintf(c, sizeof c, "mailto:%s", x->cfg->email);
		json_object_set_new(p, "contact", json_pack("[s]", c));
	}
	char *ps = json_dumps(p, JSON_COMPACT);
	json_decref(p);
	struct nx_http_fetch f;
	int rc = ps ? post(x, x->dir.new_account, ps, NULL, &f, err, errlen) : -1;
	free(ps);
	if (rc < 0)
		return -1;
	nx_oauth_fetch_done(&f);
	if (!f.location[0] || !nx_oauth_url_ok(f.location))
		return nx_err(err, errlen, "%s: no account URL (Location) in the answer",
		              x->dir.new_account);
	memcpy(x->kid, f.location, sizeof x->kid);
	say(x, NX_LOG_DEBUG, "acme account", "status=%ld kid=%s", f.status, x->kid);
	return 0;
}

static int challenge_file(struct ctx *x, const char *token, char *err, size_t errlen)
{
	char path[4096], ka[NX_ACME_TOKEN_MAX + NX_KID_MAX + 4];
	snprintf(path, sizeof path, "%s/%s", x->cfg->challenge_dir, token);
	int n = snprintf(ka, sizeof ka, "%s.%s", token, x->thumb);
	if (nx_write_file(path, ka, (size_t)n, 0644, err, errlen) < 0)
		return -1;
	if (x->nwritten < NX_ACME_MAX_NAMES)
		memcpy(x->written[x->nwritten++], token, strlen(token) + 1);
	return 0;
}

static int do_authz(struct ctx *x, const char *url, char *err, size_t errlen)
{
	struct nx_http_fetch f;
	struct acme_authz a;
	int answered = 0;
	for (;;) {
		if (post(x, url, "", NULL, &f, err, errlen) < 0)
			return -1;
		int rc = acme_parse_authz(f.resp ? f.resp : "", f.resp_len, &a, err, errlen);
		if (rc < 0) {
			nx_oauth_fetch_done(&f);
			return -1;
		}
		if (a.status == ACME_ST_VALID) {
			nx_oauth_fetch_done(&f);
			say(x, NX_LOG_INFO, answered ? "acme authorization valid"
			                             : "acme authorization already valid, reused",
			    "name=%s", a.identifier);
			return 0;
		}
		if (a.status != ACME_ST_PENDING) {
			nx_oauth_fetch_done(&f);
			return nx_err(err, errlen, "authorization for %s is %s%s%s", a.identifier,
			              acme_status_name(a.status), a.error[0] ? ": " : "", a.error);
		}
		if (!answered) {
			nx_oauth_fetch_done(&f);
			if (!a.has_http01)
				return nx_err(err, errlen, "authorization for %s offers no http-01 challenge",
				              a.identifier);
			if (challenge_file(x, a.token, err, errlen) < 0)
				return -1;
			if (post(x, a.chall_url, "{}", NULL, &f, err, errlen) < 0)
				return -1;
			nx_oauth_fetch_done(&f);
			answered = 1;
			say(x, NX_LOG_DEBUG, "acme challenge answered", "name=%s token=%s", a.identifier,
			    a.token);
			sleep_ms(x->cfg->poll_ms < 200 ? x->cfg->poll_ms : 200);
			continue;
		}
		rc = poll_pause(x, &f, err, errlen);
		nx_oauth_fetch_done(&f);
		if (rc < 0)
			return -1;
	}
}

/* POST-as-GET the order until it is not `while_st` any more. */
static int order_wait(struct ctx *x, const char *url, enum acme_status while_st,
                      struct acme_order *o, char *err, size_t errlen)
{
	struct nx_http_fetch f;
	for (;;) {
		if (post(x, url, "", NULL, &f, err, errlen) < 0)
			return -1;
		if (acme_parse_order(f.resp ? f.resp : "", f.resp_len, o, err, errlen) < 0) {
			nx_oauth_fetch_done(&f);
			return -1;
		}
		if (o->status != while_st && o->status != ACME_ST_PROCESSING) {
			nx_oauth_fetch_done(&f);
			return 0;
		}
		int rc = poll_pause(x, &f, err, errlen);
		nx_oauth_fetch_done(&f);
		if (rc < 0)
			return -1;
	}
}

static int finalize_and_fetch(struct ctx *x, const char *order_url, struct acme_order *o,
                              char *err, size_t errlen)
{
	struct nx_key *ck = NULL;
	unsigned char *csr = NULL;
	size_t csrlen = 0;
	char *keypem = NULL, *payload = NULL, *b64 = NULL;
	size_t keylen = 0;
	struct nx_http_fetch f = {0};
	int rc = -1;
	if (nx_key_generate(NX_ALG_ES256, 0, &ck, err, errlen) < 0 ||
	    acme_csr(ck, x->cfg->hostnames, x->cfg->nhostnames, &csr, &csrlen, err, errlen) < 0 ||
	    nx_key_private_pem(ck, &keypem, &keylen, err, errlen) < 0)
		goto out;
	b64 = nx_b64url_encode_alloc(csr, csrlen);
	json_t *p = b64 ? json_pack("{ss}", "csr", b64) : NULL;
	payload = p ? json_dumps(p, JSON_COMPACT) : NULL;
	json_decref(p);
	if (!payload) {
		nx_err(err, errlen, "out of memory");
		goto out;
	}
	if (post(x, o->finalize, payload, NULL, &f, err, errlen) < 0)
		goto out;
	nx_oauth_fetch_done(&f);
	if (order_wait(x, order_url, ACME_ST_READY, o, err, errlen) < 0)
		goto out;
	if (o->status != ACME_ST_VALID || !o->certificate[0]) {
		nx_err(err, errlen, "order is %s after finalize", acme_status_name(o->status));
		goto out;
	}
	if (post(x, o->certificate, "", "application/pem-certificate-chain", &f, err, errlen) < 0)
		goto out;
	if (!f.resp || !strstr(f.resp, "-----BEGIN CERTIFICATE-----")) {
		nx_err(err, errlen, "%s: the answer is no PEM certificate chain", o->certificate);
		goto out;
	}
	/* chain then key, one file, one rename: never a new chain with an old key */
	size_t cl = strlen(f.resp), tl = cl + 1 + keylen;
	char *all = malloc(tl + 1);
	if (!all) {
		nx_err(err, errlen, "out of memory");
		goto out;
	}
	memcpy(all, f.resp, cl);
	size_t o2 = cl;
	if (cl && all[cl - 1] != '\n')
		all[o2++] = '\n';
	memcpy(all + o2, keypem, keylen);
	o2 += keylen;
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", x->cfg->state_dir, NX_ACME_CERT_FILE);
	rc = nx_write_file(path, all, o2, 0600, err, errlen);
	nx_free_secret(all, tl + 1);
	if (rc == 0)
		rc = nx_acme_cert_info(path, &x->res->not_before, &x->res->not_after,
		                       x->res->serial, err, errlen);
out:
	nx_oauth_fetch_done(&f);
	nx_key_free(ck);
	if (keypem)
		nx_free_secret(keypem, keylen);
	free(csr);
	free(b64);
	free(payload);
	return rc;
}

static int flow(struct ctx *x, char *err, size_t errlen)
{
	const struct nx_acme_config *c = x->cfg;
	if (mkdir(c->state_dir, 0700) < 0 && errno != EEXIST)
		return nx_err(err, errlen, "%s: %s", c->state_dir, strerror(errno));
	if (account_key(x, err, errlen) < 0 || get_directory(x, err, errlen) < 0 ||
	    new_account(x, err, errlen) < 0)
		return -1;
	json_t *ids = json_array();
	for (size_t i = 0; i < c->nhostnames; i++)
		json_array_append_new(ids, json_pack("{ssss}", "type", "dns", "value", c->hostnames[i]));
	json_t *p = json_pack("{so}", "identifiers", ids);
	char *ps = p ? json_dumps(p, JSON_COMPACT) : NULL;
	json_decref(p);
	struct nx_http_fetch f;
	int rc = ps ? post(x, x->dir.new_order, ps, NULL, &f, err, errlen)
	            : nx_err(err, errlen, "out of memory");
	free(ps);
	if (rc < 0)
		return -1;
	struct acme_order o;
	char order_url[NX_ACME_URL_MAX];
	snprintf(order_url, sizeof order_url, "%s", f.location);
	rc = acme_parse_order(f.resp ? f.resp : "", f.resp_len, &o, err, errlen);
	nx_oauth_fetch_done(&f);
	if (rc < 0)
		return -1;
	if (!order_url[0] || !nx_oauth_url_ok(order_url))
		return nx_err(err, errlen, "%s: no order URL (Location) in the answer",
		              x->dir.new_order);
	say(x, NX_LOG_DEBUG, "acme order", "url=%s status=%s authorizations=%zu", order_url,
	    acme_status_name(o.status), o.nauthz);
	for (size_t i = 0; i < o.nauthz; i++)
		if (do_authz(x, o.authz[i], err, errlen) < 0)
			return -1;
	if (order_wait(x, order_url, ACME_ST_PENDING, &o, err, errlen) < 0)
		return -1;
	if (o.status != ACME_ST_READY && o.status != ACME_ST_VALID)
		return nx_err(err, errlen, "order is %s", acme_status_name(o.status));
	return finalize_and_fetch(x, order_url, &o, err, errlen);
}

int nx_acme_obtain(const struct nx_acme_config *cfg, struct nx_acme_result *res, char *err,
                   size_t errlen)
{
	memset(res, 0, sizeof *res);
	if (!cfg->directory_url || !cfg->state_dir || !cfg->challenge_dir || !cfg->nhostnames)
		return nx_err(err, errlen, "ACME needs a directory URL, a state and a challenge "
		              "directory, and a host name");
	struct nx_acme_config c = *cfg;
	if (!c.poll_ms)
		c.poll_ms = 1000;
	if (!c.timeout_ms)
		c.timeout_ms = 120000;
	struct ctx x = {.cfg = &c, .res = res, .deadline = nx_now_ms() + c.timeout_ms};
	int rc = flow(&x, err, errlen);
	for (size_t i = 0; i < x.nwritten; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", c.challenge_dir, x.written[i]);
		unlink(path);
	}
	nx_key_free(x.akey);
	return rc;
}
