/* keygen.c — generating keys and writing them as files (nx_key_generate, nx_key_*_pem,
 * nx_key_write_* in keys.h). BearSSL encodes private keys; the public SPKI is built here
 * with der.h because BearSSL 0.6 has no encoder for it. */
#include "token/keys.h"
#include "token/keys_int.h"
#include "core/b64url.h"
#include "core/der.h"
#include "core/random.h"
#include "core/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (0 unused bits) ... } for
 * a 65-byte uncompressed point: fixed, byte-identical to what openssl writes. */
static const unsigned char SPKI_P256_HEAD[] = {
	0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};
/* SEQUENCE { rsaEncryption, NULL } */
static const unsigned char ALGID_RSA[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                          0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};

int nx_key_generate(enum nx_alg alg, unsigned rsa_bits, struct nx_key **key, char *err,
                    size_t errlen)
{
	*key = NULL;
	if (alg == NX_ALG_HS256 || alg == NX_ALG_HS384 || alg == NX_ALG_HS512) {
		unsigned char raw[64];
		char text[NX_B64URL_ENCLEN(64) + 1];
		size_t n = alg == NX_ALG_HS256 ? 32 : alg == NX_ALG_HS384 ? 48 : 64;
		if (nx_random_bytes(raw, n, err, errlen) < 0)
			return -1;
		/* The secret is the printable text, as the file holds it (protocol.md §2). */
		size_t tl = nx_b64url_encode(text, raw, n);
		int rc = nx_key_from_secret(text, tl, key, err, errlen);
		nx_wipe(raw, sizeof raw);
		nx_wipe(text, sizeof text);
		return rc;
	}
	const br_prng_class **rng = nx_random_prng(err, errlen);
	if (!rng)
		return -1;
	struct nx_key *k = calloc(1, sizeof *k);
	if (!k)
		return nx_err(err, errlen, "out of memory");
	k->priv = 1;
	if (alg == NX_ALG_RS256) {
		if (rsa_bits == 0)
			rsa_bits = 2048;
		if (rsa_bits < 2048 || rsa_bits > RSA_MAX_BITS || rsa_bits % 8) {
			nx_key_free(k);
			return nx_err(err, errlen, "RSA key size %u not supported (2048 to %d)", rsa_bits,
			              RSA_MAX_BITS);
		}
		k->type = NX_KEY_RSA;
		unsigned char *priv = k->mem, *pub = k->mem + BR_RSA_KBUF_PRIV_SIZE(RSA_MAX_BITS);
		if (!br_rsa_keygen_get_default()(rng, &k->rsa_sk, priv, &k->rsa_pk, pub, rsa_bits,
		                                 65537)) {
			nx_key_free(k);
			return nx_err(err, errlen, "RSA key generation failed");
		}
		k->used = sizeof k->mem;
		k->bits = rsa_bits;
	} else if (alg == NX_ALG_ES256) {
		k->type = NX_KEY_EC;
		unsigned char *priv = k->mem, *pub = k->mem + BR_EC_KBUF_PRIV_MAX_SIZE;
		if (!br_ec_keygen(rng, br_ec_get_default(), &k->ec_sk, priv, BR_EC_secp256r1) ||
		    !br_ec_compute_pub(br_ec_get_default(), &k->ec_pk, pub, &k->ec_sk)) {
			nx_key_free(k);
			return nx_err(err, errlen, "EC key generation failed");
		}
		k->used = BR_EC_KBUF_PRIV_MAX_SIZE + BR_EC_KBUF_PUB_MAX_SIZE;
		k->bits = 256;
	} else {
		nx_key_free(k);
		return nx_err(err, errlen, "cannot generate a key for that algorithm");
	}
	*key = k;
	return 0;
}

static int pem_of(const unsigned char *der, size_t len, const char *label, char **out,
                  size_t *outlen, char *err, size_t errlen)
{
	size_t n = br_pem_encode(NULL, der, len, label, BR_PEM_LINE64);
	char *p = malloc(n + 1);
	if (!p)
		return nx_err(err, errlen, "out of memory");
	*outlen = br_pem_encode(p, der, len, label, BR_PEM_LINE64);
	*out = p;
	return 0;
}

int nx_key_private_pem(const struct nx_key *k, char **out, size_t *len, char *err,
                       size_t errlen)
{
	*out = NULL;
	if (k->type == NX_KEY_HMAC) {
		char *p = malloc(k->secret_len + 2);
		if (!p)
			return nx_err(err, errlen, "out of memory");
		memcpy(p, k->secret, k->secret_len);
		p[k->secret_len] = '\n';
		p[k->secret_len + 1] = '\0';
		*out = p;
		*len = k->secret_len + 1;
		return 0;
	}
	if (!k->priv)
		return nx_err(err, errlen, "not a private key");
	unsigned char *der = NULL;
	size_t dlen, cap;
	int rc;
	if (k->type == NX_KEY_RSA) {
		uint32_t e = 0;
		for (size_t i = 0; i < k->rsa_pk.elen; i++)
			e = e << 8 | k->rsa_pk.e[i];
		unsigned char d[RSA_MAX_BITS / 8];
		size_t dl = br_rsa_compute_privexp_get_default()(d, &k->rsa_sk, e);
		if (dl == 0)
			return nx_err(err, errlen, "cannot compute the RSA private exponent");
		cap = br_encode_rsa_raw_der(NULL, &k->rsa_sk, &k->rsa_pk, d, dl);
		if (!(der = malloc(cap))) {
			nx_wipe(d, sizeof d);
			return nx_err(err, errlen, "out of memory");
		}
		dlen = br_encode_rsa_raw_der(der, &k->rsa_sk, &k->rsa_pk, d, dl);
		nx_wipe(d, sizeof d);
		rc = pem_of(der, dlen, "RSA PRIVATE KEY", out, len, err, errlen);
	} else {
		cap = br_encode_ec_raw_der(NULL, &k->ec_sk, &k->ec_pk);
		if (!(der = malloc(cap)))
			return nx_err(err, errlen, "out of memory");
		dlen = br_encode_ec_raw_der(der, &k->ec_sk, &k->ec_pk);
		rc = pem_of(der, dlen, "EC PRIVATE KEY", out, len, err, errlen);
	}
	nx_free_secret(der, cap);
	return rc;
}

int nx_key_public_pem(const struct nx_key *k, char **out, size_t *len, char *err,
                      size_t errlen)
{
	*out = NULL;
	if (k->type == NX_KEY_HMAC)
		return nx_err(err, errlen, "an HMAC secret has no public key");
	if (k->type == NX_KEY_EC) {
		unsigned char der[sizeof SPKI_P256_HEAD + 65];
		memcpy(der, SPKI_P256_HEAD, sizeof SPKI_P256_HEAD);
		memcpy(der + sizeof SPKI_P256_HEAD, k->ec_pk.q, 65);
		return pem_of(der, sizeof der, "PUBLIC KEY", out, len, err, errlen);
	}
	/* SEQUENCE { algid, BIT STRING { 0, SEQUENCE { INTEGER n, INTEGER e } } } */
	size_t ints = nx_der_put_uint(NULL, k->rsa_pk.n, k->rsa_pk.nlen) +
	              nx_der_put_uint(NULL, k->rsa_pk.e, k->rsa_pk.elen);
	size_t rsapub = nx_der_put_header(NULL, NX_DER_SEQUENCE, ints) + ints;
	size_t bits = nx_der_put_header(NULL, NX_DER_BITSTRING, rsapub + 1) + rsapub + 1;
	size_t body = sizeof ALGID_RSA + bits;
	size_t total = nx_der_put_header(NULL, NX_DER_SEQUENCE, body) + body;
	unsigned char *der = malloc(total), *p = der;
	if (!der)
		return nx_err(err, errlen, "out of memory");
	p += nx_der_put_header(p, NX_DER_SEQUENCE, body);
	memcpy(p, ALGID_RSA, sizeof ALGID_RSA);
	p += sizeof ALGID_RSA;
	p += nx_der_put_header(p, NX_DER_BITSTRING, rsapub + 1);
	*p++ = 0;
	p += nx_der_put_header(p, NX_DER_SEQUENCE, ints);
	p += nx_der_put_uint(p, k->rsa_pk.n, k->rsa_pk.nlen);
	p += nx_der_put_uint(p, k->rsa_pk.e, k->rsa_pk.elen);
	int rc = pem_of(der, total, "PUBLIC KEY", out, len, err, errlen);
	free(der);
	return rc;
}

int nx_key_write_private(const struct nx_key *k, const char *path, char *err, size_t errlen)
{
	char *pem;
	size_t len;
	if (nx_key_private_pem(k, &pem, &len, err, errlen) < 0)
		return -1;
	int rc = nx_write_file(path, pem, len, 0600, err, errlen);
	nx_free_secret(pem, len);
	return rc;
}

int nx_key_write_public(const struct nx_key *k, const char *path, char *err, size_t errlen)
{
	char *pem;
	size_t len;
	if (nx_key_public_pem(k, &pem, &len, err, errlen) < 0)
		return -1;
	int rc = nx_write_file(path, pem, len, 0644, err, errlen);
	free(pem);
	return rc;
}
