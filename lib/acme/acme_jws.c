/* acme_jws.c — the flattened JWS JSON serialization ACME requests are (RFC 8555 §6.2,
 * RFC 7515 §7.2.2). The signing is lib/token's (nx_jws_sign_raw): we only build the
 * protected header and regroup the compact form's three parts. */
#include "acme/acme_int.h"
#include "core/b64url.h"
#include "core/util.h"
#include "token/jws.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

char *acme_jws(const struct nx_key *key, const char *kid, const char *nonce, const char *url,
               const char *payload, char *err, size_t errlen)
{
	json_t *hdr = json_pack("{ssssss}", "alg", "ES256", "nonce", nonce, "url", url);
	if (!hdr) {
		nx_err(err, errlen, "out of memory");
		return NULL;
	}
	if (kid) {
		json_object_set_new(hdr, "kid", json_string(kid));
	} else {
		char jwk[1400];
		json_error_t je;
		if (nx_key_public_jwk(key, jwk, sizeof jwk, err, errlen) < 0) {
			json_decref(hdr);
			return NULL;
		}
		json_object_set_new(hdr, "jwk", json_loads(jwk, 0, &je));
	}
	char *hs = json_dumps(hdr, JSON_COMPACT);
	json_decref(hdr);
	char *compact = NULL;
	if (!hs || nx_jws_sign_raw(key, hs, payload, strlen(payload), &compact, err, errlen) < 0) {
		if (!hs)
			nx_err(err, errlen, "out of memory");
		free(hs);
		return NULL;
	}
	free(hs);
	/* "h.p.s": the payload part is empty for POST-as-GET */
	char *d1 = strchr(compact, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (!d2) {
		free(compact);
		nx_err(err, errlen, "signer gave no compact JWS");
		return NULL;
	}
	*d1 = *d2 = 0;
	json_t *o = json_pack("{ssssss}", "protected", compact, "payload", d1 + 1, "signature",
	                      d2 + 1);
	free(compact);
	char *out = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!out)
		nx_err(err, errlen, "out of memory");
	return out;
}
