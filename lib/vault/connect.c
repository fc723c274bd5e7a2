/* connect.c — see connect.h. */
#include "vault/connect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "oauth/http.h"
#include "vault/cred.h"

static int has_word(const char *s, const char *w)
{
	size_t wl = strlen(w);
	for (const char *q = s; *q;) {
		q += strspn(q, " ");
		size_t l = strcspn(q, " ");
		if (l == wl && memcmp(q, w, l) == 0)
			return 1;
		q += l;
	}
	return 0;
}

/* The credential from the token endpoint's answer, checked as a put would check it. */
static int build(const struct nx_oidc *p, const struct nx_vault_connect *c, const char *secret,
                 const char *asked, json_t *ans, json_t **cred, char *err, size_t errlen)
{
	const char *at = json_string_value(json_object_get(ans, "access_token"));
	if (!at)
		return nx_err(err, errlen, "the token endpoint answered no access_token");
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "oauth", "access_token", at,
	                      "issuer", p->issuer, "client_id", c->client_id, "token_endpoint",
	                      json_string_value(json_object_get(p->meta, "token_endpoint")));
	if (!o)
		return nx_err(err, errlen, "out of memory");
	const char *rt = json_string_value(json_object_get(ans, "refresh_token"));
	if (rt)
		json_object_set_new(o, "refresh_token", json_string(rt));
	json_t *ei = json_object_get(ans, "expires_in");
	if (json_is_integer(ei) && json_integer_value(ei) > 0)
		json_object_set_new(o, "expires_at", json_integer(nx_unix_time() + json_integer_value(ei)));
	const char *sc = json_string_value(json_object_get(ans, "scope"));
	json_object_set_new(o, "scopes", json_string(sc && *sc ? sc : asked));
	const char *tt = json_string_value(json_object_get(ans, "token_type"));
	if (tt)
		json_object_set_new(o, "token_type", json_string(tt));
	if (secret)
		json_object_set_new(o, "client_secret", json_string(secret));
	char *text = json_dumps(o, JSON_COMPACT);
	nx_oauth_json_free_secret(o);
	if (!text)
		return nx_err(err, errlen, "out of memory");
	int rc = nx_cred_parse(text, strlen(text), cred, err, errlen);
	nx_free_secret(text, strlen(text));
	return rc < 0 ? nx_err(err, errlen, "the provider's answer is not storable") : 0;
}

int nx_vault_connect(const struct nx_vault_connect *c, json_t **cred, char *err,
                     size_t errlen)
{
	struct nx_oidc p;
	char *secret = NULL, *idt = NULL, scope[1024];
	size_t sl = 0;
	json_t *claims = NULL, *ans = NULL;
	int rc = -1;
	const char *s = c->scope ? c->scope : "";
	if ((size_t)snprintf(scope, sizeof scope, "%s%s%s", s,
	                     *s && !has_word(s, "offline_access") ? " " : "",
	                     has_word(s, "offline_access") ? "" : "offline_access") >= sizeof scope)
		return nx_err(err, errlen, "--scope: too long");
	if (nx_oidc_discover(&p, c->issuer, err, errlen) < 0)
		return -1;
	if (!json_string_value(json_object_get(p.meta, "token_endpoint"))) {
		nx_err(err, errlen, "the issuer names no token_endpoint");
		goto out;
	}
	if (c->client_secret_file) {
		if (nx_read_file(c->client_secret_file, 4096, &secret, &sl, err, errlen) < 0)
			goto out;
		while (sl && (secret[sl - 1] == '\n' || secret[sl - 1] == '\r' || secret[sl - 1] == ' '))
			secret[--sl] = '\0';
		if (!sl) {
			nx_err(err, errlen, "%s: empty", c->client_secret_file);
			goto out;
		}
	}
	struct nx_oidc_client oc = {.client_id = c->client_id, .client_secret = secret,
	                            .scope = scope, .timeout_s = c->timeout_s,
	                            .prompt = "consent", .tokens = &ans};
	if (c->device_flow)
		rc = nx_oidc_device_flow(&p, &oc, c->show, c->show_arg, &idt, &claims, err, errlen);
	else
		rc = nx_oidc_code_flow(&p, &oc, c->show, c->show_arg, &idt, &claims, err, errlen);
	if (rc == 0)
		rc = build(&p, c, secret, scope, ans, cred, err, errlen);
out:
	nx_oauth_json_free_secret(ans);
	if (idt)
		nx_free_secret(idt, strlen(idt));
	if (secret)
		nx_free_secret(secret, sl);
	json_decref(claims);
	nx_oidc_free(&p);
	return rc;
}
