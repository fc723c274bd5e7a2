/* libFuzzer target: token parsing (the EC key is RFC 7515 A.3's, so the a3 seed verifies). The input is a compact JWS as it would arrive from a
 * client; it goes through decode (inspect/revoke), verify with an HMAC and an EC key (the
 * hub's paths) and, when it decodes, the claim checks. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "token/claims.h"
#include "token/jws.h"
#include "token/keys.h"
#include "core/util.h"

static const char EC_PUB[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEf83OJ3D2xF1Bg8vub9tLe1gHMzV7\n"
    "6e8Tus9uPHvRVEXH8UTNG72bfocs3+257rn0s2ldbqkLJK2KRiMohYjlrQ==\n"
    "-----END PUBLIC KEY-----\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nx_key *hs, *ec;
	char err[NX_ERRLEN];
	if (!hs) {
		if (nx_key_from_secret("fuzz-secret", 11, &hs, err, sizeof err) < 0 ||
		    nx_key_load_buf(EC_PUB, strlen(EC_PUB), &ec, err, sizeof err) < 0)
			__builtin_trap();
	}
	const char *tok = (const char *)data;
	json_t *h = NULL, *c = NULL;
	enum nx_alg alg;
	if (nx_jws_decode(tok, size, &h, &c, &alg, err, sizeof err) == 0) {
		const char *req[] = {"sub", NULL};
		struct nx_claims_policy p = {.iss = "authorizer", .aud = "nexus", .leeway = 5,
		                             .max_age = 60, .required = req, .now = 1700000000};
		nx_claims_check(c, &p, err, sizeof err);
		nx_claims_check(c, NULL, err, sizeof err);
		json_decref(h);
		json_decref(c);
	}
	if (nx_jws_verify(hs, tok, size, &h, &c, err, sizeof err) == 0) {
		json_decref(h);
		json_decref(c);
	}
	nx_jws_verify(ec, tok, size, NULL, NULL, err, sizeof err);
	return 0;
}
