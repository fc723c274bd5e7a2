/* session.c — see session.h. */
#include "bind/session.h"
#include "core/hostname.h"
#include "core/random.h"
#include "core/util.h"
#include "token/claims.h"
#include "token/jws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int has_scope(const char *list, const char *want)
{
	size_t wl = strlen(want);
	for (const char *p = list ? list : ""; *p;) {
		p += strspn(p, " ");
		size_t n = strcspn(p, " ");
		if (n == wl && memcmp(p, want, n) == 0)
			return 1;
		p += n;
	}
	return 0;
}

int nx_session_host(const char *host_tmpl, const char *device, char *out, size_t n, char *err,
                    size_t errlen)
{
	char raw[600];
	const char *at = strstr(host_tmpl, "{device}");
	if (at)
		snprintf(raw, sizeof raw, "%.*s%s%s", (int)(at - host_tmpl), host_tmpl, device,
		         at + strlen("{device}"));
	else
		snprintf(raw, sizeof raw, "%s", host_tmpl);
	char e[NX_ERRLEN];
	if (nx_hostname_normalize(raw, strlen(raw), out, n, 0, e, sizeof e) < 0)
		return nx_err(err, errlen, "session host '%.200s': %s", raw, e);
	return 0;
}

int nx_bind_session_new(struct nx_bind *b, const struct nx_session_req *r, json_t **out,
                        char *err, size_t errlen)
{
	char host[NX_HOSTNAME_MAX + 1], sid[NX_UUID_TEXT_LEN + 1], jti[NX_UUID_TEXT_LEN + 1];
	unsigned char raw[16];
	struct nx_rows rows = {0};
	*out = NULL;
	if (!r->grant_key || !nx_key_can_sign(r->grant_key) ||
	    !nx_key_allows_alg(r->grant_key, NX_ALG_ES256))
		return nx_err(err, errlen, "the grant signing key must be an EC P-256 private key");
	if (r->grant_ttl_s < 1 || r->grant_ttl_s > NX_SESSION_GRANT_TTL_MAX)
		return nx_err(err, errlen, "a grant lives 1 to %d seconds", NX_SESSION_GRANT_TTL_MAX);
	if (nx_session_host(r->host_tmpl, r->device, host, sizeof host, err, errlen) < 0)
		return -1;
	if (nx_random_uuid4(raw, sid, err, errlen) < 0 || nx_random_uuid4(raw, jti, err, errlen) < 0)
		return -1;
	int any = has_scope(r->scope, NX_SESSION_SCOPE_ANY);
	if (!any && !has_scope(r->scope, "sessions"))
		return nx_err(err, errlen, "the user token lacks the scope sessions"), 0;
	if (nx_store_begin(b->st, err, errlen) < 0)
		return -1;
	const char *p1[] = {r->device};
	int n = nx_store_exec(b->st, "SELECT owner FROM bindings WHERE device = $1", 1, p1, &rows,
	                      err, errlen);
	if (n < 0)
		goto fail;
	/* Another owner's device reads exactly like a device that does not exist. */
	if (n == 0 || (!any && strcmp(nx_rows_get(&rows, 0, 0), r->user) != 0)) {
		nx_rows_free(&rows);
		nx_store_rollback(b->st);
		nx_err(err, errlen, "no device %s bound to %s", r->device, r->user);
		return 0;
	}
	char owner[NX_HOSTNAME_MAX + 1];
	snprintf(owner, sizeof owner, "%s", nx_rows_get(&rows, 0, 0));
	nx_rows_free(&rows);
	int64_t now = nx_unix_ms(), sexp = now / 1000 + r->session_ttl_s;
	int64_t gexp = now / 1000 + r->grant_ttl_s;
	char tnow[24], texp[24];
	snprintf(tnow, sizeof tnow, "%lld", (long long)now);
	snprintf(texp, sizeof texp, "%lld", (long long)sexp * 1000);
	const char *p2[] = {sid, r->device, owner, r->user, host, jti, tnow, texp};
	if (nx_store_exec(b->st,
	                  "INSERT INTO sessions(id, device, owner, usr, host, grant_jti, created_at, "
	                  "expires_at) VALUES($1, $2, $3, $4, $5, $6, CAST($7 AS BIGINT), "
	                  "CAST($8 AS BIGINT))",
	                  8, p2, NULL, err, errlen) < 0)
		goto fail;
	char detail[400];
	snprintf(detail, sizeof detail, "session %s host %s user %s", sid, host, r->user);
	if (nx_bind_audit_add(b, "session", r->device, owner, detail, err, errlen) < 0)
		goto fail;
	json_t *claims = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "typ",
	                           "nx-grant", "iss", "nexus-bind", "sub", r->user, "dev",
	                           r->device, "sid", sid, "aud", host, "jti", jti, "iat",
	                           (json_int_t)(now / 1000), "exp", (json_int_t)gexp, "sexp",
	                           (json_int_t)sexp);
	char *tok = NULL;
	int rc = claims ? nx_jws_sign(r->grant_key, NX_ALG_ES256, NULL, claims, &tok, err, errlen)
	                : nx_err(err, errlen, "out of memory");
	json_decref(claims);
	if (rc < 0)
		goto fail;
	if (nx_store_commit(b->st, err, errlen) < 0) {
		free(tok);
		goto fail;
	}
	size_t ul = strlen(host) + strlen(tok) + 32;
	char *url = malloc(ul);
	if (url)
		snprintf(url, ul, "https://%s/?nx=%s", host, tok);
	free(tok);
	*out = json_pack("{s:s?, s:s, s:s, s:s, s:s, s:I, s:I}", "url", url, "session", sid,
	                 "device", r->device, "user", r->user, "host", host, "grant_expires_at",
	                 (json_int_t)gexp, "expires_at", (json_int_t)sexp);
	free(url);
	if (!*out || !url) {
		json_decref(*out);
		*out = NULL;
		return nx_err(err, errlen, "out of memory");
	}
	return 1;
fail:
	nx_rows_free(&rows);
	nx_store_rollback(b->st);
	return -1;
}

int nx_bind_session_end(struct nx_bind *b, const char *sid, char *err, size_t errlen)
{
	struct nx_rows r = {0};
	char tnow[24];
	snprintf(tnow, sizeof tnow, "%lld", (long long)nx_unix_ms());
	if (nx_store_begin(b->st, err, errlen) < 0)
		return -1;
	const char *p[] = {sid, b->only_owner, tnow};
	int n = nx_store_exec(b->st,
	                      "UPDATE sessions SET ended_at = CAST($3 AS BIGINT) WHERE id = $1 "
	                      "AND ended_at IS NULL AND (CAST($2 AS TEXT) IS NULL OR owner = "
	                      "CAST($2 AS TEXT)) RETURNING device, owner",
	                      3, p, &r, err, errlen);
	if (n <= 0) {
		nx_store_rollback(b->st);
		return n;
	}
	char detail[100];
	snprintf(detail, sizeof detail, "session %s", sid);
	int rc = nx_bind_audit_add(b, "session-end", nx_rows_get(&r, 0, 0), nx_rows_get(&r, 0, 1),
	                           detail, err, errlen);
	nx_rows_free(&r);
	if (rc < 0 || nx_store_commit(b->st, err, errlen) < 0) {
		nx_store_rollback(b->st);
		return -1;
	}
	return 1;
}

int nx_session_user_token(const struct nx_key *vk, const char *iss, const char *aud,
                          const char *deny_list, const char *tok, size_t len, char *user,
                          size_t ulen, char *scope, size_t slen, char *err, size_t errlen)
{
	static const char *const required[] = {"sub", "exp", NULL};
	struct nx_claims_policy pol = {.iss = iss, .aud = aud, .leeway = 30, .required = required,
	                               .deny_list = deny_list};
	json_t *claims = NULL;
	char e[NX_ERRLEN];
	if (nx_jws_verify(vk, tok, len, NULL, &claims, e, sizeof e) < 0 ||
	    nx_claims_check(claims, &pol, e, sizeof e) < 0) {
		json_decref(claims);
		return nx_err(err, errlen, "invalid user token: %s", e);
	}
	const char *sub = json_string_value(json_object_get(claims, "sub"));
	const char *sc = json_string_value(json_object_get(claims, "scope"));
	int rc = 0;
	if (!sub || !*sub || strlen(sub) >= ulen || (sc && strlen(sc) >= slen))
		rc = nx_err(err, errlen, "invalid user token: bad sub or scope");
	else {
		snprintf(user, ulen, "%s", sub);
		snprintf(scope, slen, "%s", sc ? sc : "");
	}
	json_decref(claims);
	return rc;
}

int nx_bind_sessions_end_all(struct nx_bind *b, const char *device, int64_t now, char *err,
                             size_t errlen)
{
	char tnow[24];
	snprintf(tnow, sizeof tnow, "%lld", (long long)now);
	const char *p[] = {device, tnow};
	return nx_store_exec(b->st,
	                     "UPDATE sessions SET ended_at = CAST($2 AS BIGINT) WHERE device = $1 "
	                     "AND ended_at IS NULL",
	                     2, p, NULL, err, errlen) < 0
	           ? -1
	           : 0;
}

int nx_session_revocations(struct nx_bind *b, const struct nx_key *grant_key, char **token,
                           char *err, size_t errlen)
{
	struct nx_rows r = {0};
	char tnow[24];
	int64_t now = nx_unix_ms();
	snprintf(tnow, sizeof tnow, "%lld", (long long)now);
	const char *p[] = {tnow};
	/* ended, or the device no longer bound to the owner it had (belt and braces: unbind
	 * and revoke end the sessions themselves) */
	if (nx_store_exec(b->st,
	                  "SELECT s.id FROM sessions s LEFT JOIN bindings b ON b.device = s.device "
	                  "WHERE s.expires_at > CAST($1 AS BIGINT) AND (s.ended_at IS NOT NULL OR "
	                  "b.device IS NULL OR b.owner <> s.owner) ORDER BY s.id LIMIT 10000",
	                  1, p, &r, err, errlen) < 0)
		return -1;
	json_t *ids = json_array();
	for (int i = 0; ids && i < r.nrows; i++)
		json_array_append_new(ids, json_string(nx_rows_get(&r, i, 0)));
	nx_rows_free(&r);
	json_t *c = ids ? json_pack("{s:s, s:s, s:I, s:I, s:o}", "typ", "nx-revocations", "iss",
	                            "nexus-bind", "iat", (json_int_t)(now / 1000), "exp",
	                            (json_int_t)(now / 1000 + NX_SESSION_REVOCATIONS_TTL),
	                            "revoked", ids)
	                : NULL;
	int rc = c ? nx_jws_sign(grant_key, NX_ALG_ES256, NULL, c, token, err, errlen)
	           : nx_err(err, errlen, "out of memory");
	json_decref(c);
	return rc;
}
