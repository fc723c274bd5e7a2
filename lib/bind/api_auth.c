/* api_auth.c — credentials, scopes and the rate window of the API (see api.h): user
 * tokens (ours, lib/token) and API keys (apikeys.h). */
#include "bind/api_int.h"
#include "bind/apikeys.h"
#include "core/util.h"
#include "token/claims.h"
#include "token/jws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int nx_api_has_scope(const char *list, const char *want)
{
	size_t wl = strlen(want);
	for (const char *p = list; *p;) {
		p += strspn(p, " ");
		size_t n = strcspn(p, " ");
		if (n == wl && memcmp(p, want, n) == 0)
			return 1;
		p += n;
	}
	return 0;
}

/* 1 authenticated, 0 answered (401) in out. */
int nx_api_authenticate(struct nx_api *api, const struct nx_http_req *req, struct principal *who,
                        struct nx_api_resp *out)
{
	char err[NX_ERRLEN];
	const struct nx_http_slice *h = nx_http_req_field(req, "authorization");
	nx_api_add_header(out, "WWW-Authenticate: Bearer realm=\"nexus-bind\"\r\n");
	if (!h || h->n < 8 || strncasecmp(h->p, "Bearer ", 7) != 0) {
		nx_api_problem(out, 401, "a bearer token or API key is required");
		return 0;
	}
	const char *cred = h->p + 7;
	size_t clen = h->n - 7;
	while (clen && *cred == ' ')
		cred++, clen--;
	if (clen > 4 && memcmp(cred, "nxk_", 4) == 0) {
		char id[NX_APIKEY_ID_HEX + 1];
		int rc = nx_apikey_check(api->b, cred, clen, id, who->owner, sizeof who->owner,
		                         who->scope, sizeof who->scope, err, sizeof err);
		if (rc <= 0) {
			nx_api_problemf(out, rc < 0 ? 500 : 401, "%s", rc < 0 ? "store failure" : err);
			return 0;
		}
		snprintf(who->rate_key, sizeof who->rate_key, "key:%s", id);
		snprintf(who->actor, sizeof who->actor, "%s/key:%s", who->owner, id);
	} else {
		json_t *claims = NULL;
		if (!api->verify_key) {
			nx_api_problem(out, 401, "user tokens are not accepted here (no --verify-key)");
			return 0;
		}
		static const char *const required[] = {"sub", "exp", NULL};
		struct nx_claims_policy pol = {.iss = api->iss, .aud = api->aud, .leeway = 30,
		                               .required = required, .deny_list = api->deny_list};
		int cached = api->last_token && strlen(api->last_token) == clen &&
		             memcmp(api->last_token, cred, clen) == 0;
		if (cached)
			claims = json_incref(api->last_claims);
		else if (nx_jws_verify(api->verify_key, cred, clen, NULL, &claims, err, sizeof err) == 0) {
			nx_api_reset(api);
			if ((api->last_token = strndup(cred, clen)))
				api->last_claims = json_incref(claims);
		}
		if (!claims || nx_claims_check(claims, &pol, err, sizeof err) < 0) {
			json_decref(claims);
			nx_api_problemf(out, 401, "invalid token: %s", err);
			return 0;
		}
		const char *sub = json_string_value(json_object_get(claims, "sub"));
		const char *scope = json_string_value(json_object_get(claims, "scope"));
		const char *jti = json_string_value(json_object_get(claims, "jti"));
		if (!sub || !nx_ingest_name_ok(sub, strlen(sub)) ||
		    (scope && strlen(scope) >= sizeof who->scope) ||
		    (jti && strlen(jti) > NX_DEVICE_ID_MAX)) {
			json_decref(claims);
			nx_api_problem(out, 401, "invalid token: unusable sub, scope or jti");
			return 0;
		}
		snprintf(who->owner, sizeof who->owner, "%s", sub);
		snprintf(who->scope, sizeof who->scope, "%s", scope ? scope : "");
		snprintf(who->rate_key, sizeof who->rate_key, "tok:%s", jti ? jti : sub);
		snprintf(who->actor, sizeof who->actor, "%s", sub);
		json_decref(claims);
	}
	out->headers[0] = '\0';
	return 1;
}

/* Count this request against the principal's window; 1 go on, 0 answered (429 / 500). */
int nx_api_rate_check(struct nx_api *api, const struct principal *who, struct nx_api_resp *out)
{
	char err[NX_ERRLEN], name[220], tnow[24], twin[24];
	struct nx_rows r;
	int64_t now = nx_unix_time();
	snprintf(name, sizeof name, "api:%s", who->rate_key);
	snprintf(tnow, sizeof tnow, "%lld", (long long)now * 1000);
	snprintf(twin, sizeof twin, "%lld", (long long)(now - RATE_WINDOW_S) * 1000);
	struct nx_store *st = api->b->st;
	if (nx_store_begin(st, err, sizeof err) < 0)
		goto fail;
	if (nx_store_exec(st,
	                  "INSERT INTO rate(name, window_start, count) VALUES($1, $2, 1) "
	                  "ON CONFLICT(name) DO UPDATE SET "
	                  "count = CASE WHEN rate.window_start <= $3 THEN 1 ELSE rate.count + 1 END, "
	                  "window_start = CASE WHEN rate.window_start <= $3 THEN $2 "
	                  "ELSE rate.window_start END RETURNING count, window_start",
	                  3, (const char *[]){name, tnow, twin}, &r, err, sizeof err) < 0) {
		nx_store_rollback(st);
		goto fail;
	}
	long count = strtol(nx_rows_get(&r, 0, 0) ? nx_rows_get(&r, 0, 0) : "1", NULL, 10);
	/* Every token id gets a row: when a window starts (at most once a minute per
	 * credential), drop the rows of credentials quiet for an hour, so the table stays
	 * the size of the active ones. */
	char thour[24];
	snprintf(thour, sizeof thour, "%lld", (long long)(now - 3600) * 1000);
	if ((count == 1 &&
	     nx_store_exec(st, "DELETE FROM rate WHERE name LIKE 'api:%' AND window_start < $1", 1,
	                   (const char *[]){thour}, NULL, err, sizeof err) < 0) ||
	    nx_store_commit(st, err, sizeof err) < 0) {
		nx_store_rollback(st);
		nx_rows_free(&r);
		goto fail;
	}
	int64_t start = strtoll(nx_rows_get(&r, 0, 1) ? nx_rows_get(&r, 0, 1) : tnow, NULL, 10) / 1000;
	nx_rows_free(&r);
	long left = api->rate - count;
	int64_t reset = start + RATE_WINDOW_S - now;
	if (reset < 1)
		reset = 1;
	char hdr[200];
	snprintf(hdr, sizeof hdr,
	         "RateLimit-Policy: %ld;w=%d\r\nRateLimit-Limit: %ld\r\nRateLimit-Remaining: %ld\r\n"
	         "RateLimit-Reset: %lld\r\n",
	         api->rate, RATE_WINDOW_S, api->rate, left < 0 ? 0 : left, (long long)reset);
	if (left < 0) {
		nx_api_problemf(out, 429, "more than %ld requests in %d s with this credential", api->rate,
		         RATE_WINDOW_S);
		nx_api_add_header(out, "%sRetry-After: %lld\r\n", hdr, (long long)reset);
		return 0;
	}
	nx_api_add_header(out, "%s", hdr);
	return 1;
fail:
	nx_api_problem(out, 500, "store failure");
	return 0;
}
