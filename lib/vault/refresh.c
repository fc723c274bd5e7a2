/* refresh.c — the refresh_token grant for stored oauth credentials (refresh.h). */
#include "vault/refresh.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "oauth/http.h"
#include "vault/cred.h"

/* POST the grant; on success fold the answer into cred. 0, or -1 with a reason. */
static int grant(json_t *cred, char *err, size_t errlen)
{
	const char *ep = json_string_value(json_object_get(cred, "token_endpoint"));
	const char *rt = json_string_value(json_object_get(cred, "refresh_token"));
	const char *cid = json_string_value(json_object_get(cred, "client_id"));
	const char *cs = json_string_value(json_object_get(cred, "client_secret"));
	char *form = NULL;
	if (nx_oauth_form_add(&form, "grant_type", "refresh_token") < 0 ||
	    nx_oauth_form_add(&form, "refresh_token", rt) < 0 ||
	    (cid && nx_oauth_form_add(&form, "client_id", cid) < 0)) {
		nx_free_secret(form, form ? strlen(form) : 0);
		return nx_err(err, errlen, "out of memory");
	}
	json_t *ans = NULL;
	long status = 0;
	/* a confidential client authenticates as it did in connect (HTTP Basic) */
	int rc = nx_oauth_post_form(ep, form, cid && cs ? cid : NULL, cid && cs ? cs : NULL, &ans,
	                            &status, err, errlen);
	nx_free_secret(form, strlen(form));
	if (rc < 0)
		return -1;
	const char *at = json_string_value(json_object_get(ans, "access_token"));
	if (status / 100 != 2 || !at) {
		const char *e = json_string_value(json_object_get(ans, "error"));
		char safe[96];
		nx_sanitize(safe, sizeof safe, e ? e : "no access_token", strlen(e ? e : "no access_token"));
		nx_oauth_json_free_secret(ans);
		return nx_err(err, errlen, "%s: HTTP %ld: %s", ep, status, safe);
	}
	json_t *next = json_deep_copy(cred);
	json_object_set_new(next, "access_token", json_string(at));
	const char *nrt = json_string_value(json_object_get(ans, "refresh_token"));
	if (nrt) /* else the old refresh token stays: providers often reuse it */
		json_object_set_new(next, "refresh_token", json_string(nrt));
	json_t *ei = json_object_get(ans, "expires_in");
	if (json_is_integer(ei) && json_integer_value(ei) > 0)
		json_object_set_new(next, "expires_at",
		                    json_integer(nx_unix_time() + json_integer_value(ei)));
	else
		json_object_del(next, "expires_at");
	const char *sc = json_string_value(json_object_get(ans, "scope"));
	if (sc && *sc)
		json_object_set_new(next, "scopes", json_string(sc));
	nx_oauth_json_free_secret(ans);
	/* what the provider sent must pass the same checks as a put */
	char *text = json_dumps(next, JSON_COMPACT);
	json_decref(next);
	json_t *checked;
	rc = text ? nx_cred_parse(text, strlen(text), &checked, err, errlen) : -1;
	if (text)
		nx_free_secret(text, strlen(text));
	if (rc < 0)
		return nx_err(err, errlen, "%s: the provider's answer is not storable", ep);
	json_object_update(cred, checked);
	if (!json_object_get(checked, "expires_at"))
		json_object_del(cred, "expires_at");
	json_decref(checked);
	return 0;
}

/* One record under the write lock: NX_REFRESH_* or -1 when the vault fails. */
static int refresh_one(struct nx_vault *v, const char *name, int named, int64_t before_s,
                       char *why, size_t whylen, char *err, size_t errlen)
{
	json_t *cred = NULL;
	if (nx_vault_begin(v, err, errlen) < 0)
		return -1;
	int rc = nx_vault_get(v, name, &cred, why, whylen);
	int out;
	if (rc < 0) {
		out = rc == NX_VAULT_NOT_FOUND && !named ? NX_REFRESH_SKIPPED : NX_REFRESH_FAILED;
	} else if (nx_cred_type(cred) != NX_CRED_OAUTH || !json_object_get(cred, "refresh_token") ||
	           !json_object_get(cred, "token_endpoint")) {
		snprintf(why, whylen, "not an oauth credential with a refresh_token and a "
		                      "token_endpoint");
		out = named ? NX_REFRESH_FAILED : NX_REFRESH_SKIPPED;
	} else if (nx_cred_expires(cred) && nx_cred_expires(cred) > nx_unix_time() + before_s) {
		snprintf(why, whylen, "not due");
		out = NX_REFRESH_SKIPPED;
	} else if (grant(cred, why, whylen) < 0) {
		out = NX_REFRESH_FAILED;
	} else if (nx_vault_put(v, name, cred, err, errlen) < 0 ||
	           nx_vault_commit(v, err, errlen) < 0) {
		json_decref(cred);
		nx_vault_rollback(v);
		return -1;
	} else
		out = NX_REFRESH_DONE;
	json_decref(cred);
	nx_vault_rollback(v); /* a no-op after the commit */
	return out;
}

int nx_vault_refresh(struct nx_vault *v, char *const *names, size_t n, int64_t before_s,
                     nx_refresh_report_fn report, void *arg, char *err, size_t errlen)
{
	size_t count = n;
	char **all = NULL;
	if (n == 0 && !(all = nx_vault_names(v, &count, err, errlen)))
		return -1;
	int failed = 0;
	for (size_t i = 0; i < count; i++) {
		const char *name = all ? all[i] : names[i];
		char why[NX_ERRLEN] = "";
		int o = refresh_one(v, name, all == NULL, before_s, why, sizeof why, err, errlen);
		if (o < 0) {
			nx_vault_names_free(all, count);
			return -1;
		}
		failed += o == NX_REFRESH_FAILED;
		report(arg, name, (enum nx_refresh_outcome)o, o == NX_REFRESH_DONE ? NULL : why);
	}
	nx_vault_names_free(all, count);
	return failed;
}
