/* gate_revoke.c — how the gate learns that sessions ended: every NX_GATE_REVOCATIONS_EVERY
 * seconds it fetches nexus-bind serve's GET /v1/revocations (libcurl), a list of session
 * ids signed with the grant key (bind/session.h), so the transport needs no trust of its
 * own (HTTPS still keeps it private). A list is taken only when it verifies, is a
 * revocation list, and is newer than the one held. When the newest list held is older
 * than NX_GATE_REVOCATIONS_STALE the gate fails closed: no request goes through. */
#include "gate/gate_int.h"
#include "core/util.h"
#include "token/claims.h"
#include "core/sbuf.h"
#include "token/jws.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LIST_MAX (1024 * 1024)

static size_t on_data(char *p, size_t sz, size_t nm, void *arg)
{
	size_t n = sz * nm;
	return nx_sbuf_add(arg, p, n, LIST_MAX) == 0 ? n : 0;
}

static int fetch(struct nx_gate *g, char *err, size_t errlen)
{
	struct nx_sbuf b = {0};
	CURL *c = curl_easy_init();
	if (!c)
		return nx_err(err, errlen, "curl_easy_init failed");
	char cerr[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, g->cfg.revocations_url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (g->cfg.revocations_ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, g->cfg.revocations_ca);
	CURLcode rc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	int out = -1;
	json_t *claims = NULL;
	char e[NX_ERRLEN];
	static const char *const required[] = {"typ", "iat", "exp", "revoked", NULL};
	struct nx_claims_policy pol = {.iss = "nexus-bind", .leeway = 5, .required = required};
	size_t n = b.n;
	while (n && (b.p[n - 1] == '\n' || b.p[n - 1] == '\r'))
		n--;
	if (rc != CURLE_OK)
		nx_err(err, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
	else if (status != 200)
		nx_err(err, errlen, "HTTP status %ld", status);
	else if (nx_jws_verify(g->grant_key, b.p, n, NULL, &claims, e, sizeof e) < 0 ||
	         nx_claims_check(claims, &pol, e, sizeof e) < 0)
		nx_err(err, errlen, "list refused: %s", e);
	else {
		const char *typ = json_string_value(json_object_get(claims, "typ"));
		json_t *ids = json_object_get(claims, "revoked"), *iat = json_object_get(claims, "iat");
		if (!typ || strcmp(typ, "nx-revocations") != 0 || !json_is_array(ids) ||
		    !json_is_integer(iat)) {
			nx_err(err, errlen, "list refused: not a revocation list");
		} else {
			pthread_mutex_lock(&g->mu);
			if (json_integer_value(iat) >= g->rev_iat) {
				json_decref(g->revoked);
				g->revoked = json_incref(ids);
				g->rev_iat = json_integer_value(iat);
			}
			pthread_mutex_unlock(&g->mu);
			out = 0;
		}
	}
	json_decref(claims);
	nx_sbuf_free(&b);
	return out;
}

static int max_age(const struct nx_gate *g)
{
	return g->cfg.revocations_max_age_s > 0 ? g->cfg.revocations_max_age_s
	                                        : NX_GATE_REVOCATIONS_STALE;
}

/* Three tries within the staleness bound, so one lost fetch never fails the gate closed. */
static unsigned fetch_every(const struct nx_gate *g)
{
	int every = max_age(g) / 3;
	if (every > NX_GATE_REVOCATIONS_EVERY)
		every = NX_GATE_REVOCATIONS_EVERY;
	return every < 1 ? 1 : (unsigned)every;
}

static void *fetcher(void *arg)
{
	struct nx_gate *g = arg;
	char err[NX_ERRLEN];
	int failing = -1;
	for (;;) {
		if (fetch(g, err, sizeof err) < 0) {
			if (failing != 1)
				gate_log(g, NX_LOG_WARN, "gate: cannot fetch the revocation list",
				         "url=%s error=%s", g->cfg.revocations_url,
				         nx_log_q((char[600]){0}, 600, err));
			failing = 1;
		} else {
			if (failing != 0)
				gate_log(g, NX_LOG_INFO, "gate: revocation list fetched", "url=%s",
				         g->cfg.revocations_url);
			failing = 0;
		}
		sleep(fetch_every(g));
	}
	return NULL;
}

int gate_revocations_start(struct nx_gate *g, char *err, size_t errlen)
{
	if (!g->cfg.revocations_url)
		return 0;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pthread_t th;
	int rc = pthread_create(&th, NULL, fetcher, g);
	if (rc != 0)
		return nx_err(err, errlen, "cannot start the revocation fetcher");
	pthread_detach(th);
	return 0;
}

int gate_session_live(struct nx_gate *g, const char *sid)
{
	if (!g->cfg.revocations_url)
		return GATE_LIVE;
	int rc = GATE_LIVE;
	pthread_mutex_lock(&g->mu);
	if (nx_unix_time() - g->rev_iat > max_age(g)) {
		rc = GATE_STALE;
	} else {
		size_t i;
		json_t *v;
		json_array_foreach(g->revoked, i, v)
		{
			const char *s = json_string_value(v);
			if (s && strcmp(s, sid) == 0) {
				rc = GATE_REVOKED;
				break;
			}
		}
	}
	pthread_mutex_unlock(&g->mu);
	return rc;
}
