/* oidc.c — discovery, JWKS and ID token verification (see oidc.h); the flows are in
 * flows.c. */
#include "oauth/oidc.h"
#include "core/util.h"
#include "oauth/http.h"
#include "token/claims.h"
#include "token/jws.h"
#include "token/keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int nx_oidc_discover(struct nx_oidc *p, const char *issuer, char *err, size_t errlen)
{
	char url[700];
	memset(p, 0, sizeof *p);
	p->leeway = 30;
	size_t n = strlen(issuer);
	if (n == 0 || n >= sizeof p->issuer)
		return nx_err(err, errlen, "issuer URL empty or too long");
	if (!nx_oauth_url_ok(issuer))
		return nx_err(err, errlen, "issuer %s: only https:// (or http:// to loopback)", issuer);
	memcpy(p->issuer, issuer, n + 1);
	snprintf(url, sizeof url, "%s%s.well-known/openid-configuration", issuer,
	         issuer[n - 1] == '/' ? "" : "/");
	if (nx_oauth_get_json(url, &p->meta, err, errlen) < 0)
		return -1;
	const char *iss = json_string_value(json_object_get(p->meta, "issuer"));
	if (!iss || strcmp(iss, issuer) != 0) {
		nx_oidc_free(p);
		return nx_err(err, errlen, "discovery document of %s names another issuer", issuer);
	}
	return 0;
}

void nx_oidc_free(struct nx_oidc *p)
{
	json_decref(p->meta);
	json_decref(p->jwks);
	p->meta = p->jwks = NULL;
}

static int fetch_jwks(struct nx_oidc *p, char *err, size_t errlen)
{
	const char *u = json_string_value(json_object_get(p->meta, "jwks_uri"));
	if (!u)
		return nx_err(err, errlen, "the issuer publishes no jwks_uri");
	json_t *j;
	if (nx_oauth_get_json(u, &j, err, errlen) < 0)
		return -1;
	if (!json_is_array(json_object_get(j, "keys"))) {
		json_decref(j);
		return nx_err(err, errlen, "%s: no \"keys\" array", u);
	}
	json_decref(p->jwks);
	p->jwks = j;
	return 0;
}

/* The key of kid (any key of the right type when the token names no kid). */
static int find_key(struct nx_oidc *p, const char *kid, enum nx_alg alg, struct nx_key **key,
                    char *err, size_t errlen)
{
	size_t i;
	json_t *k;
	json_array_foreach(json_object_get(p->jwks, "keys"), i, k)
	{
		const char *kk = json_string_value(json_object_get(k, "kid"));
		const char *kty = json_string_value(json_object_get(k, "kty"));
		const char *use = json_string_value(json_object_get(k, "use"));
		if ((kid && (!kk || strcmp(kk, kid) != 0)) || !kty || (use && strcmp(use, "sig") != 0))
			continue;
		/* keys of other types (OKP, a second RSA for encryption…) are skipped, not fatal */
		if ((alg == NX_ALG_RS256 && strcmp(kty, "RSA") == 0) ||
		    (alg == NX_ALG_ES256 && strcmp(kty, "EC") == 0)) {
			char why[NX_ERRLEN];
			if (nx_key_from_jwk(k, key, why, sizeof why) < 0)
				return nx_err(err, errlen, "JWKS key %s: %s", kk ? kk : "?", why);
			if (nx_key_can_sign(*key)) { /* a private key published by mistake: refuse it */
				nx_key_free(*key);
				*key = NULL;
				return nx_err(err, errlen, "JWKS key %s: a private key", kk ? kk : "?");
			}
			return 0;
		}
	}
	return 1; /* not there */
}

int nx_oidc_verify_id_token(struct nx_oidc *p, const char *client_id, const char *token,
                            const char *nonce, json_t **claims, char *err, size_t errlen)
{
	json_t *hdr = NULL, *cl = NULL;
	enum nx_alg alg;
	char why[NX_ERRLEN];
	size_t tl = strlen(token);
	if (nx_jws_decode(token, tl, &hdr, NULL, &alg, why, sizeof why) < 0)
		return nx_err(err, errlen, "ID token: %s", why);
	if (alg != NX_ALG_RS256 && alg != NX_ALG_ES256) {
		json_decref(hdr);
		return nx_err(err, errlen, "ID token: algorithm %s refused (RS256 or ES256 only)",
		              nx_alg_name(alg) ? nx_alg_name(alg) : "none/unknown");
	}
	const char *kid0 = json_string_value(json_object_get(hdr, "kid"));
	char kid[128] = "";
	if (kid0)
		snprintf(kid, sizeof kid, "%s", kid0);
	json_decref(hdr);
	struct nx_key *key = NULL;
	int rc = 1;
	/* An unknown kid: the issuer may have rotated its keys; fetch the set once more. */
	for (int round = 0; rc == 1 && round < 2; round++) {
		if ((round == 1 || !p->jwks) && fetch_jwks(p, err, errlen) < 0)
			return -1;
		rc = find_key(p, kid0 ? kid : NULL, alg, &key, err, errlen);
		if (rc < 0)
			return -1;
	}
	if (rc == 1)
		return nx_err(err, errlen, "ID token: no key %s in the issuer's JWKS", kid0 ? kid : "");
	if (nx_jws_verify(key, token, tl, NULL, &cl, why, sizeof why) < 0) {
		nx_key_free(key);
		return nx_err(err, errlen, "ID token: %s", why);
	}
	nx_key_free(key);
	static const char *const req[] = {"sub", "exp", "iat", NULL};
	struct nx_claims_policy pol = {.iss = p->issuer, .aud = client_id, .leeway = p->leeway,
	                               .required = req};
	if (nx_claims_check(cl, &pol, why, sizeof why) < 0) {
		json_decref(cl);
		return nx_err(err, errlen, "ID token: %s", why);
	}
	json_t *aud = json_object_get(cl, "aud");
	const char *azp = json_string_value(json_object_get(cl, "azp"));
	if ((json_is_array(aud) && json_array_size(aud) > 1 && (!azp || strcmp(azp, client_id))) ||
	    (azp && strcmp(azp, client_id) != 0)) {
		json_decref(cl);
		return nx_err(err, errlen, "ID token: azp is not this client");
	}
	if (nonce) {
		const char *n = json_string_value(json_object_get(cl, "nonce"));
		if (!n || strcmp(n, nonce) != 0) {
			json_decref(cl);
			return nx_err(err, errlen, "ID token: nonce mismatch (a replayed or injected token)");
		}
	}
	*claims = cl;
	return 0;
}
