/* hub_verify.c — --verify-url: the reference's remote token verifier (shared/protocol.md
 * §2). A backend token (every stage, re-auth too) is POSTed as {"token":"…"} to an https
 * URL, with the hub's certificate and key as the TLS client certificate; the answer
 * {"valid":true,"claims":{…}} hands the claims to the same checks a locally verified
 * token's go through (hub_auth_claims), {"valid":false,"error":"…"} refuses with 1008.
 *
 * libcurl's multi interface runs on the hub's own loop: curl tells us which sockets to
 * watch (CURLMOPT_SOCKETFUNCTION) and when to wake it (CURLMOPT_TIMERFUNCTION), and we call
 * curl_multi_socket_action from the loop; nothing waits. The connection waiting for its
 * verdict stays a pending connection (hub_admit.c's bounds, per source and in all) and
 * keeps its stage deadline; at most cfg.max_verify verifications are in flight.
 *
 * Transport errors (the verifier is down, slow past --verify-timeout, a TLS failure) and
 * HTTP >= 500 fall back to the local --secret-file / --verify-key / --backends when one is
 * configured; anything else (valid:false, another status, an answer that is not one)
 * refuses. A token whose kid names a --backends key is always checked locally: that line's
 * grant decides what it may claim. The token is never logged, and wiped once sent.
 *
 * A stage-0 token the verifier found valid (and the hub let in) is remembered by its
 * SHA-256 until its exp, at most CACHE_MAX_S: a backend that reconnects with the same
 * stage-0 token is not sent to the verifier again for it (its claims still get every
 * check, exp and the deny list included). Stage 1 and re-auth tokens carry a fresh nonce,
 * so they always go. CACHE_SLOTS entries, direct-mapped: a newcomer takes its slot. */
#include "hub/hub_int.h"
#include "hub/verify_answer.h"
#include "token/jws.h"
#include "core/sbuf.h"
#include "core/log.h"
#include "core/util.h"

#include <bearssl.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOKEN_MAX (64 * 1024)
#define BUSY_REPORT_MS 10000
#define CACHE_SLOTS 256
#define CACHE_MAX_S 300

struct cache_ent {
	uint8_t h[br_sha256_SIZE];
	int64_t until; /* wall-clock seconds; 0: empty */
	json_t *claims;
};

struct hub_verify_req {
	struct hub_verifier *v;
	struct hub_verify_req *next, *prev;
	struct hub_session *s; /* NULL once cancelled */
	int stage;
	CURL *easy;
	char *body;   /* {"token":"…"} (wiped) */
	size_t body_len;
	char *token;  /* for a local fallback (wiped) */
	size_t token_len;
	struct nx_sbuf ans; /* the verifier's answer (core/sbuf: bounded, wiped) */
	char cerr[CURL_ERROR_SIZE];
};

struct hub_verifier {
	struct nx_hub *hub;
	CURLM *multi;
	struct curl_slist *headers;
	struct nx_timer timer;
	struct hub_verify_req *reqs;
	size_t n;
	struct nx_rate busy_rate;
	struct nx_rate down_rate; /* "verifier unavailable", logged once a second with a count */
	struct cache_ent cache[CACHE_SLOTS];
};

/* ---- the stage-0 cache ----------------------------------------------------------------- */

static struct cache_ent *cache_slot(struct hub_verifier *v, const char *t, size_t len,
                                    uint8_t h[br_sha256_SIZE])
{
	br_sha256_context c;
	br_sha256_init(&c);
	br_sha256_update(&c, t, len);
	br_sha256_out(&c, h);
	return &v->cache[h[0] % CACHE_SLOTS];
}

static const json_t *cache_get(struct hub_verifier *v, const char *t, size_t len)
{
	uint8_t h[br_sha256_SIZE];
	struct cache_ent *e = cache_slot(v, t, len, h);
	if (!e->until || memcmp(e->h, h, sizeof h) != 0)
		return NULL;
	if ((int64_t)time(NULL) >= e->until) {
		json_decref(e->claims);
		memset(e, 0, sizeof *e);
		return NULL;
	}
	return e->claims;
}

static void cache_put(struct hub_verifier *v, const char *t, size_t len, json_t *claims)
{
	json_t *exp = json_object_get(claims, "exp");
	if (!json_is_number(exp))
		return; /* no end: not remembered */
	int64_t now = (int64_t)time(NULL), until = (int64_t)json_number_value(exp);
	if (until > now + CACHE_MAX_S)
		until = now + CACHE_MAX_S;
	if (until <= now)
		return;
	uint8_t h[br_sha256_SIZE];
	struct cache_ent *e = cache_slot(v, t, len, h);
	json_decref(e->claims);
	memcpy(e->h, h, sizeof h);
	e->until = until;
	e->claims = json_incref(claims);
}

static int has_local(const struct nx_hub *hub) { return hub->key || hub->backends; }

/* ---- curl on the loop ------------------------------------------------------------------ */

static void check_done(struct hub_verifier *v);

static void on_io(struct nx_loop *loop, int fd, unsigned events, void *arg)
{
	struct hub_verifier *v = arg;
	int flags = (events & NX_EV_READ ? CURL_CSELECT_IN : 0) |
	            (events & NX_EV_WRITE ? CURL_CSELECT_OUT : 0);
	int running;
	curl_multi_socket_action(v->multi, fd, flags, &running);
	check_done(v);
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct hub_verifier *v = userp;
	struct nx_loop *loop = v->hub->loop;
	if (what == CURL_POLL_REMOVE) {
		if (socketp) {
			nx_loop_del(loop, fd);
			curl_multi_assign(v->multi, fd, NULL);
		}
		return 0;
	}
	unsigned ev = (what & CURL_POLL_IN ? NX_EV_READ : 0) | (what & CURL_POLL_OUT ? NX_EV_WRITE : 0);
	if (socketp)
		return nx_loop_mod(loop, fd, ev) < 0 ? -1 : 0;
	if (nx_loop_add(loop, fd, ev, on_io, v) < 0)
		return -1;
	curl_multi_assign(v->multi, fd, v); /* any non-NULL: "watched" */
	return 0;
}

static void on_timeout(struct nx_loop *loop, void *arg)
{
	struct hub_verifier *v = arg;
	int running;
	curl_multi_socket_action(v->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(v);
}

static int on_timer(CURLM *m, long ms, void *userp)
{
	struct hub_verifier *v = userp;
	if (ms < 0)
		nx_timer_stop(v->hub->loop, &v->timer);
	else
		nx_timer_start(v->hub->loop, &v->timer, (uint64_t)ms, on_timeout, v);
	return 0;
}

static size_t on_data(char *p, size_t sz, size_t nm, void *arg)
{
	struct hub_verify_req *r = arg;
	size_t n = sz * nm;
	return nx_sbuf_add(&r->ans, p, n, NX_VERIFY_ANSWER_MAX) == 0 ? n : 0;
}

/* ---- requests -------------------------------------------------------------------------- */

static void req_free(struct hub_verify_req *r)
{
	struct hub_verifier *v = r->v;
	if (r->prev)
		r->prev->next = r->next;
	else
		v->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	v->n--;
	if (r->easy) {
		curl_multi_remove_handle(v->multi, r->easy);
		curl_easy_cleanup(r->easy);
	}
	if (r->body)
		nx_wipe(r->body, r->body_len);
	if (r->token)
		nx_wipe(r->token, r->token_len);
	free(r->body);
	free(r->token);
	nx_sbuf_free(&r->ans);
	free(r);
}

void hub_verify_cancel(struct hub_session *s)
{
	struct hub_verify_req *r = s->verify;
	if (!r)
		return;
	s->verify = NULL;
	req_free(r);
}

enum outcome { OUT_CLAIMS, OUT_FALLBACK, OUT_REFUSE };

static void finish(struct hub_verify_req *r, CURLcode cc)
{
	struct hub_session *s = r->s;
	struct nx_hub *hub = s->hub;
	const char *stage = hub_auth_stage_name(r->stage);
	char why[NX_ERRLEN], err[NX_ERRLEN], q[NX_ERRLEN + 8];
	json_t *claims = NULL;
	long status = 0;
	enum outcome o = OUT_REFUSE;
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	if (r->ans.over) {
		nx_err(why, sizeof why, "bad verifier answer: longer than %d bytes", NX_VERIFY_ANSWER_MAX);
	} else if (cc != CURLE_OK) {
		o = OUT_FALLBACK;
		nx_err(why, sizeof why, "%s", r->cerr[0] ? r->cerr : curl_easy_strerror(cc));
	} else if (status >= 500) {
		o = OUT_FALLBACK;
		nx_err(why, sizeof why, "HTTP status %ld", status);
	} else if (status != 200) {
		nx_err(why, sizeof why, "verifier answered HTTP %ld", status);
	} else {
		char a[NX_ERRLEN];
		switch (nx_verify_answer_parse(r->ans.p ? r->ans.p : "", r->ans.n, &claims, a, sizeof a)) {
		case NX_VERIFY_VALID: o = OUT_CLAIMS; break;
		case NX_VERIFY_INVALID: nx_err(why, sizeof why, "verifier: %s", a); break;
		default: nx_err(why, sizeof why, "bad verifier answer: %s", a); break;
		}
	}
	s->verify = NULL;
	int rc = -1;
	uint64_t times = 0;
	if (o == OUT_CLAIMS)
		hub->ctr.verify_valid++;
	else if (o == OUT_FALLBACK) {
		hub->ctr.verify_unavailable++;
		times = nx_rate_note(&r->v->down_rate, nx_loop_now(hub->loop), NX_ACCEPT_REPORT_MS);
	} else
		hub->ctr.verify_refused++;
	if (o == OUT_CLAIMS) {
		rc = hub_auth_claims(s, r->stage, claims, err, sizeof err);
	} else if (o == OUT_FALLBACK && has_local(hub)) {
		if (times)
			hub_log(hub, NX_LOG_WARN, "token verifier unavailable, checking the token locally",
			        "session=%llu stage=%s error=%s times=%llu", (unsigned long long)s->id,
			        stage, nx_log_q(q, sizeof q, why), (unsigned long long)times);
		rc = hub_auth_token(s, r->stage, r->token, r->token_len, err, sizeof err);
	} else if (o == OUT_FALLBACK) {
		if (times)
			hub_log(hub, NX_LOG_WARN, "token verifier unavailable",
			        "session=%llu stage=%s error=%s times=%llu", (unsigned long long)s->id,
			        stage, nx_log_q(q, sizeof q, why), (unsigned long long)times);
		nx_err(err, sizeof err, "%s token validation failed: token verifier unavailable", stage);
	} else {
		nx_err(err, sizeof err, "%s token validation failed: %s", stage, why);
	}
	if (o == OUT_CLAIMS && r->stage == 0 && rc == 0)
		cache_put(r->v, r->token, r->token_len, claims);
	int st = r->stage;
	req_free(r);
	json_decref(claims);
	hub_auth_verdict(s, st, rc, err);
	if (!s->dead)
		hub_session_flush(s);
}

static void check_done(struct hub_verifier *v)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(v->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		CURLcode cc = m->data.result;
		struct hub_verify_req *r = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		if (r && r->s)
			finish(r, cc); /* may cancel others: their messages go with their handles */
	}
}

/* Does the token's kid name a --backends key? Then its line, not the verifier, decides. */
static int keyed_token(const struct nx_hub *hub, const char *token, size_t len)
{
	if (!hub->backends)
		return 0;
	json_t *hdr = NULL;
	char why[NX_ERRLEN];
	if (nx_jws_decode(token, len, &hdr, NULL, NULL, why, sizeof why) < 0)
		return 0;
	const char *kid = json_string_value(json_object_get(hdr, "kid"));
	int keyed = kid && nx_backends_find_kid(hub->backends, kid) != NULL;
	json_decref(hdr);
	return keyed;
}

/* {"token":"…"} with the token escaped as a JSON string. */
static char *make_body(const char *t, size_t len, size_t *out_len)
{
	char *b = malloc(len * 6 + 16);
	if (!b)
		return NULL;
	size_t o = (size_t)sprintf(b, "{\"token\":\"");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c == '"' || c == '\\') {
			b[o++] = '\\';
			b[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)sprintf(b + o, "\\u%04x", c);
		} else {
			b[o++] = (char)c;
		}
	}
	o += (size_t)sprintf(b + o, "\"}");
	*out_len = o;
	return b;
}

int hub_verify_start(struct hub_session *s, int stage, const char *token, size_t len,
                     char *err, size_t errlen)
{
	struct nx_hub *hub = s->hub;
	struct hub_verifier *v = hub->verifier;
	if (!v)
		return 0;
	while (len && (token[len - 1] == '\n' || token[len - 1] == '\r' || token[len - 1] == ' '))
		len--;
	if (keyed_token(hub, token, len))
		return 0;
	const char *sn = hub_auth_stage_name(stage);
	if (len > TOKEN_MAX)
		return nx_err(err, errlen, "%s token validation failed: token longer than %d bytes", sn,
		              TOKEN_MAX);
	const json_t *cached = stage == 0 ? cache_get(v, token, len) : NULL;
	if (cached) {
		hub_log(hub, NX_LOG_DEBUG, "token verified before", "session=%llu stage=%s",
		        (unsigned long long)s->id, sn);
		char e[NX_ERRLEN];
		hub_auth_verdict(s, 0, hub_auth_claims(s, 0, cached, e, sizeof e), e);
		return 1;
	}
	if (v->n >= hub->cfg.max_verify) {
		uint64_t n = nx_rate_note(&v->busy_rate, nx_loop_now(hub->loop), BUSY_REPORT_MS);
		if (n)
			hub_log(hub, NX_LOG_WARN, "token verifier busy", "in_flight=%zu times=%llu local=%d",
			        v->n, (unsigned long long)n, has_local(hub));
		if (has_local(hub))
			return 0;
		return nx_err(err, errlen, "%s token validation failed: token verifier busy", sn);
	}
	struct hub_verify_req *r = calloc(1, sizeof *r);
	if (!r)
		return nx_err(err, errlen, "%s token validation failed: out of memory", sn);
	r->v = v;
	r->s = s;
	r->stage = stage;
	r->next = v->reqs;
	if (r->next)
		r->next->prev = r;
	v->reqs = r;
	v->n++;
	r->body = make_body(token, len, &r->body_len);
	r->token = malloc(len + 1);
	r->easy = curl_easy_init();
	if (!r->body || !r->token || !r->easy) {
		req_free(r);
		return nx_err(err, errlen, "%s token validation failed: out of memory", sn);
	}
	memcpy(r->token, token, len);
	r->token[len] = '\0';
	r->token_len = len;
	CURL *c = r->easy;
	const struct nx_hub_config *cfg = &hub->cfg;
	curl_easy_setopt(c, CURLOPT_URL, cfg->verify_url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)r->body_len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, v->headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_PRIVATE, r);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->cerr);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)cfg->verify_timeout_ms);
	curl_easy_setopt(c, CURLOPT_SSLCERT, cfg->cert_file);
	curl_easy_setopt(c, CURLOPT_SSLKEY, cfg->key_file);
	if (cfg->verify_ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, cfg->verify_ca);
	if (curl_multi_add_handle(v->multi, c) != CURLM_OK) {
		req_free(r);
		if (has_local(hub))
			return 0;
		return nx_err(err, errlen, "%s token validation failed: token verifier unavailable", sn);
	}
	s->verify = r;
	return 1;
}

/* ---- the verifier ---------------------------------------------------------------------- */

int hub_verify_open(struct nx_hub *hub, char *err, size_t errlen)
{
	struct nx_hub_config *cfg = &hub->cfg;
	if (!cfg->verify_url)
		return 0;
	if (strncmp(cfg->verify_url, "https://", 8) != 0)
		return nx_err(err, errlen, "--verify-url: want an https:// URL");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return nx_err(err, errlen, "--verify-url: libcurl did not initialise");
	/* Name lookups run on curl's resolver thread (Debian's libcurl has AsynchDNS); without
	 * one, a slow DNS answer for the verifier's host would stall the whole hub. */
	if (!(curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_ASYNCHDNS))
		hub_log(hub, NX_LOG_WARN, "libcurl resolves names synchronously: give --verify-url an "
		        "IP address or a name in /etc/hosts", "url_host_lookup=blocking");
	struct hub_verifier *v = calloc(1, sizeof *v);
	if (!v)
		return nx_err(err, errlen, "out of memory");
	v->hub = hub;
	hub->verifier = v;
	v->multi = curl_multi_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	if (h)
		v->headers = h;
	h = h ? curl_slist_append(h, "Accept: application/json") : NULL;
	h = h ? curl_slist_append(h, "Expect:") : NULL; /* no 100-continue round trip */
	if (!v->multi || !h)
		return nx_err(err, errlen, "out of memory"); /* nx_hub_free closes it */
	curl_multi_setopt(v->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(v->multi, CURLMOPT_SOCKETDATA, v);
	curl_multi_setopt(v->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(v->multi, CURLMOPT_TIMERDATA, v);
	return 0;
}

void hub_verify_close(struct nx_hub *hub)
{
	struct hub_verifier *v = hub->verifier;
	if (!v)
		return;
	while (v->reqs) {
		if (v->reqs->s)
			v->reqs->s->verify = NULL;
		req_free(v->reqs);
	}
	if (v->multi)
		curl_multi_cleanup(v->multi); /* its sockets leave the loop through on_socket */
	nx_timer_stop(hub->loop, &v->timer);
	curl_slist_free_all(v->headers);
	for (size_t i = 0; i < CACHE_SLOTS; i++)
		json_decref(v->cache[i].claims);
	free(v);
	hub->verifier = NULL;
}
