/* keysig.c — raw JWS signatures (RFC 7518 §3), see nx_key_sign / nx_key_verify in keys.h. */
#include "token/keys.h"
#include "token/keys_int.h"
#include "core/util.h"

#include <string.h>

static const br_hash_class *hmac_hash(enum nx_alg alg)
{
	return alg == NX_ALG_HS256 ? &br_sha256_vtable
	       : alg == NX_ALG_HS384 ? &br_sha384_vtable
	       : alg == NX_ALG_HS512 ? &br_sha512_vtable
	                             : NULL;
}

static size_t hmac(const struct nx_key *k, enum nx_alg alg, const void *data, size_t len,
                   unsigned char *out)
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	br_hmac_key_init(&kc, hmac_hash(alg), k->secret, k->secret_len);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, data, len);
	size_t n = br_hmac_out(&hc, out);
	nx_wipe(&kc, sizeof kc);
	nx_wipe(&hc, sizeof hc);
	return n;
}

static void sha256(const void *data, size_t len, unsigned char out[32])
{
	br_sha256_context c;
	br_sha256_init(&c);
	br_sha256_update(&c, data, len);
	br_sha256_out(&c, out);
}

static int alg_mismatch(const struct nx_key *k, enum nx_alg alg, char *err, size_t errlen)
{
	char d[64];
	const char *name = nx_alg_name(alg);
	if (!name)
		return nx_err(err, errlen, "algorithm 'none' is not accepted");
	return nx_err(err, errlen, "algorithm %s does not match the key (%s)", name,
	              nx_key_describe(k, d, sizeof d));
}

int nx_key_sign(const struct nx_key *k, enum nx_alg alg, const void *data, size_t len,
                unsigned char *sig, size_t *siglen, char *err, size_t errlen)
{
	if (!nx_key_allows_alg(k, alg))
		return alg_mismatch(k, alg, err, errlen);
	if (!k->priv)
		return nx_err(err, errlen, "a public key cannot sign (use the private key)");
	unsigned char h[32];
	switch (alg) {
	case NX_ALG_HS256:
	case NX_ALG_HS384:
	case NX_ALG_HS512:
		*siglen = hmac(k, alg, data, len, sig);
		return 0;
	case NX_ALG_RS256:
		sha256(data, len, h);
		if (!br_rsa_pkcs1_sign_get_default()(BR_HASH_OID_SHA256, h, sizeof h, &k->rsa_sk, sig))
			return nx_err(err, errlen, "RSA signing failed");
		*siglen = (k->rsa_sk.n_bitlen + 7) / 8;
		return 0;
	case NX_ALG_ES256:
		sha256(data, len, h);
		*siglen = br_ecdsa_sign_raw_get_default()(br_ec_get_default(), &br_sha256_vtable, h,
		                                           &k->ec_sk, sig);
		if (*siglen != 64)
			return nx_err(err, errlen, "ECDSA signing failed");
		return 0;
	default:
		return alg_mismatch(k, alg, err, errlen);
	}
}

/* Constant time, so a forger learns nothing from how long a wrong MAC takes to reject. */
static int same_bytes(const unsigned char *a, const unsigned char *b, size_t n)
{
	unsigned char d = 0;
	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

int nx_key_verify(const struct nx_key *k, enum nx_alg alg, const void *data, size_t len,
                  const unsigned char *sig, size_t siglen, char *err, size_t errlen)
{
	if (!nx_key_allows_alg(k, alg))
		return alg_mismatch(k, alg, err, errlen);
	unsigned char h[64], out[64];
	size_t n;
	switch (alg) {
	case NX_ALG_HS256:
	case NX_ALG_HS384:
	case NX_ALG_HS512:
		n = hmac(k, alg, data, len, h);
		if (siglen != n || !same_bytes(h, sig, n))
			return nx_err(err, errlen, "signature mismatch");
		return 0;
	case NX_ALG_RS256:
		if (siglen != k->rsa_pk.nlen)
			return nx_err(err, errlen, "signature mismatch (RSA signature of %zu bytes, "
			                           "expected %zu)", siglen, k->rsa_pk.nlen);
		sha256(data, len, h);
		if (!br_rsa_pkcs1_vrfy_get_default()(sig, siglen, BR_HASH_OID_SHA256, 32, &k->rsa_pk,
		                                     out) ||
		    memcmp(out, h, 32) != 0)
			return nx_err(err, errlen, "signature mismatch");
		return 0;
	case NX_ALG_ES256:
		if (siglen != 64)
			return nx_err(err, errlen, "signature mismatch (ES256 signature of %zu bytes, "
			                           "expected 64 raw r||s)", siglen);
		sha256(data, len, h);
		if (!br_ecdsa_vrfy_raw_get_default()(br_ec_get_default(), h, 32, &k->ec_pk, sig, siglen))
			return nx_err(err, errlen, "signature mismatch");
		return 0;
	default:
		return alg_mismatch(k, alg, err, errlen);
	}
}
