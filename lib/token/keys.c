/* keys.c — see keys.h. BearSSL does the cryptography and the private-key formats; der.c
 * fills the gaps BearSSL 0.6 leaves (public-key SPKI in and out). */
#include "token/keys.h"
#include "token/keys_int.h"
#include "core/b64url.h"
#include "core/der.h"
#include "core/random.h"
#include "core/pem.h"
#include "core/util.h"

#include <bearssl.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_FILE_MAX (1u << 20)

static const unsigned char OID_RSA[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};
static const unsigned char OID_EC[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
static const unsigned char OID_P256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

static const char *const alg_names[] = {
	[NX_ALG_HS256] = "HS256", [NX_ALG_HS384] = "HS384", [NX_ALG_HS512] = "HS512",
	[NX_ALG_RS256] = "RS256", [NX_ALG_ES256] = "ES256",
};

const char *nx_alg_name(enum nx_alg alg)
{
	if (alg <= NX_ALG_NONE || alg > NX_ALG_ES256)
		return NULL;
	return alg_names[alg];
}

enum nx_alg nx_alg_from_name(const char *name)
{
	for (int a = NX_ALG_HS256; a <= NX_ALG_ES256; a++)
		if (name && strcmp(name, alg_names[a]) == 0)
			return (enum nx_alg)a;
	return NX_ALG_NONE;
}

struct nx_key *nx_keyi_new(enum nx_key_type type)
{
	struct nx_key *k = calloc(1, sizeof *k);
	if (k)
		k->type = type, k->nkeys = 1;
	return k;
}

void nx_key_free(struct nx_key *k)
{
	if (!k)
		return;
	nx_key_free(k->next);
	nx_free_secret(k->secret, k->secret_len);
	nx_wipe(k, sizeof *k);
	free(k);
}

/* Copy n bytes into the key's own memory so it outlives the decoder that produced them. */
static unsigned char *keep(struct nx_key *k, const void *src, size_t n)
{
	if (n > sizeof k->mem - k->used)
		return NULL;
	unsigned char *d = k->mem + k->used;
	memcpy(d, src, n);
	k->used += n;
	return d;
}

static unsigned bit_length(const unsigned char *x, size_t n)
{
	while (n > 0 && *x == 0)
		x++, n--;
	if (n == 0)
		return 0;
	unsigned b = (unsigned)(n - 1) * 8;
	for (unsigned v = *x; v; v >>= 1)
		b++;
	return b;
}

int nx_keyi_set_rsa_public(struct nx_key *k, const unsigned char *n, size_t nlen,
                          const unsigned char *e, size_t elen, char *err, size_t errlen)
{
	while (nlen > 0 && *n == 0)
		n++, nlen--;
	while (elen > 0 && *e == 0)
		e++, elen--;
	unsigned bits = bit_length(n, nlen);
	if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS)
		return nx_err(err, errlen, "RSA key of %u bits not supported (%d to %d)", bits,
		              RSA_MIN_BITS, RSA_MAX_BITS);
	if (elen == 0 || elen > 4 || !(e[elen - 1] & 1))
		return nx_err(err, errlen, "RSA public exponent not supported");
	k->rsa_pk.n = keep(k, n, nlen);
	k->rsa_pk.nlen = nlen;
	k->rsa_pk.e = keep(k, e, elen);
	k->rsa_pk.elen = elen;
	k->bits = bits;
	if (!k->rsa_pk.n || !k->rsa_pk.e)
		return nx_err(err, errlen, "RSA key too large");
	return 0;
}

int nx_keyi_set_ec_public(struct nx_key *k, int curve, const unsigned char *q, size_t qlen,
                         char *err, size_t errlen)
{
	if (curve != BR_EC_secp256r1)
		return nx_err(err, errlen, "EC key not on P-256 (only ES256 is supported)");
	if (qlen != 65 || q[0] != 0x04)
		return nx_err(err, errlen, "EC public key is not an uncompressed P-256 point");
	k->ec_pk.curve = curve;
	k->ec_pk.q = keep(k, q, qlen);
	k->ec_pk.qlen = qlen;
	k->bits = 256;
	return k->ec_pk.q ? 0 : nx_err(err, errlen, "EC key too large");
}

/* RSA private key: BearSSL keeps only the CRT parts, so derive n and e for the public half. */
static int set_rsa_private(struct nx_key *k, const br_rsa_private_key *sk,
                           const struct nx_der *e, char *err, size_t errlen)
{
	if (sk->n_bitlen < RSA_MIN_BITS || sk->n_bitlen > RSA_MAX_BITS)
		return nx_err(err, errlen, "RSA key of %u bits not supported (%d to %d)",
		              (unsigned)sk->n_bitlen, RSA_MIN_BITS, RSA_MAX_BITS);
	k->rsa_sk.n_bitlen = sk->n_bitlen;
	k->rsa_sk.p = keep(k, sk->p, sk->plen), k->rsa_sk.plen = sk->plen;
	k->rsa_sk.q = keep(k, sk->q, sk->qlen), k->rsa_sk.qlen = sk->qlen;
	k->rsa_sk.dp = keep(k, sk->dp, sk->dplen), k->rsa_sk.dplen = sk->dplen;
	k->rsa_sk.dq = keep(k, sk->dq, sk->dqlen), k->rsa_sk.dqlen = sk->dqlen;
	k->rsa_sk.iq = keep(k, sk->iq, sk->iqlen), k->rsa_sk.iqlen = sk->iqlen;
	if (!k->rsa_sk.p || !k->rsa_sk.q || !k->rsa_sk.dp || !k->rsa_sk.dq || !k->rsa_sk.iq)
		return nx_err(err, errlen, "RSA key too large");
	unsigned char n[RSA_MAX_BITS / 8 + 1], ebuf[4];
	size_t nlen = br_rsa_compute_modulus_get_default()(NULL, &k->rsa_sk);
	if (nlen == 0 || nlen > sizeof n || br_rsa_compute_modulus_get_default()(n, &k->rsa_sk) != nlen)
		return nx_err(err, errlen, "invalid RSA private key");
	k->priv = 1;
	if (e)
		return nx_keyi_set_rsa_public(k, n, nlen, e->p, e->len, err, errlen);
	uint32_t ev = br_rsa_compute_pubexp_get_default()(&k->rsa_sk);
	if (ev == 0)
		return nx_err(err, errlen, "invalid RSA private key (public exponent not found)");
	ebuf[0] = (unsigned char)(ev >> 24), ebuf[1] = (unsigned char)(ev >> 16);
	ebuf[2] = (unsigned char)(ev >> 8), ebuf[3] = (unsigned char)ev;
	return nx_keyi_set_rsa_public(k, n, nlen, ebuf, 4, err, errlen);
}

/* The public exponent as the private-key file states it. BearSSL keeps only the CRT parts
 * and br_rsa_compute_pubexp() fails for about half of the keys openssl makes, so read it
 * from RSAPrivateKey (PKCS#1: version, n, e, ...) directly or inside PKCS#8. */
static int rsa_file_pubexp(const unsigned char *der, size_t len, struct nx_der *e)
{
	struct nx_der in = {der, len}, seq, ver, alg, oct, n;
	if (nx_der_take(&in, NX_DER_SEQUENCE, &seq) < 0 ||
	    nx_der_take(&seq, NX_DER_INTEGER, &ver) < 0)
		return -1;
	if (nx_der_take(&seq, NX_DER_SEQUENCE, &alg) == 0) {
		if (nx_der_take(&seq, NX_DER_OCTETSTRING, &oct) < 0)
			return -1;
		return rsa_file_pubexp(oct.p, oct.len, e);
	}
	if (nx_der_take_uint(&seq, &n) < 0 || nx_der_take_uint(&seq, e) < 0)
		return -1;
	return 0;
}

int nx_keyi_set_ec_private(struct nx_key *k, const br_ec_private_key *sk, char *err,
                          size_t errlen)
{
	if (sk->curve != BR_EC_secp256r1)
		return nx_err(err, errlen, "EC key not on P-256 (only ES256 is supported)");
	k->ec_sk.curve = sk->curve;
	k->ec_sk.x = keep(k, sk->x, sk->xlen);
	k->ec_sk.xlen = sk->xlen;
	if (!k->ec_sk.x)
		return nx_err(err, errlen, "EC key too large");
	unsigned char q[BR_EC_KBUF_PUB_MAX_SIZE];
	br_ec_public_key pk;
	if (br_ec_compute_pub(br_ec_get_default(), &pk, q, &k->ec_sk) == 0)
		return nx_err(err, errlen, "invalid EC private key");
	k->priv = 1;
	return nx_keyi_set_ec_public(k, pk.curve, pk.q, pk.qlen, err, errlen);
}

/* SubjectPublicKeyInfo (RFC 5280 §4.1) for rsaEncryption or id-ecPublicKey on P-256. */
int nx_keyi_parse_spki(struct nx_key *k, const unsigned char *der, size_t len, char *err,
                      size_t errlen)
{
	struct nx_der in = {der, len}, spki, algid, oid, bits, rest;
	if (nx_der_take(&in, NX_DER_SEQUENCE, &spki) < 0 || in.len != 0 ||
	    nx_der_take(&spki, NX_DER_SEQUENCE, &algid) < 0 ||
	    nx_der_take(&spki, NX_DER_BITSTRING, &bits) < 0 || spki.len != 0 ||
	    nx_der_take(&algid, NX_DER_OID, &oid) < 0 || bits.len < 2 || bits.p[0] != 0)
		return nx_err(err, errlen, "malformed public key (SubjectPublicKeyInfo)");
	if (oid.len == sizeof OID_RSA && memcmp(oid.p, OID_RSA, oid.len) == 0) {
		struct nx_der body = {bits.p + 1, bits.len - 1}, seq, n, e;
		k->type = NX_KEY_RSA;
		if (nx_der_take(&body, NX_DER_SEQUENCE, &seq) < 0 || body.len != 0 ||
		    nx_der_take_uint(&seq, &n) < 0 || nx_der_take_uint(&seq, &e) < 0 || seq.len != 0)
			return nx_err(err, errlen, "malformed RSA public key");
		return nx_keyi_set_rsa_public(k, n.p, n.len, e.p, e.len, err, errlen);
	}
	if (oid.len == sizeof OID_EC && memcmp(oid.p, OID_EC, oid.len) == 0) {
		k->type = NX_KEY_EC;
		if (nx_der_take(&algid, NX_DER_OID, &rest) < 0 || rest.len != sizeof OID_P256 ||
		    memcmp(rest.p, OID_P256, rest.len) != 0)
			return nx_err(err, errlen, "EC key not on P-256 (only ES256 is supported)");
		return nx_keyi_set_ec_public(k, BR_EC_secp256r1, bits.p + 1, bits.len - 1, err, errlen);
	}
	return nx_err(err, errlen, "public key algorithm not supported (RSA or EC P-256 only)");
}

int nx_keyi_parse_rsa_public(struct nx_key *k, const unsigned char *der, size_t len,
                            char *err, size_t errlen)
{
	struct nx_der in = {der, len}, seq, n, e;
	k->type = NX_KEY_RSA;
	if (nx_der_take(&in, NX_DER_SEQUENCE, &seq) < 0 || in.len != 0 ||
	    nx_der_take_uint(&seq, &n) < 0 || nx_der_take_uint(&seq, &e) < 0 || seq.len != 0)
		return nx_err(err, errlen, "malformed RSA public key");
	return nx_keyi_set_rsa_public(k, n.p, n.len, e.p, e.len, err, errlen);
}

int nx_keyi_parse_private(struct nx_key *k, const unsigned char *der, size_t len, char *err,
                         size_t errlen)
{
	br_skey_decoder_context sd;
	int rc;
	br_skey_decoder_init(&sd);
	br_skey_decoder_push(&sd, der, len);
	if (br_skey_decoder_last_error(&sd) != 0) {
		rc = nx_err(err, errlen, "malformed private key, or a type not supported "
		                         "(RSA and EC P-256 only)");
	} else if (br_skey_decoder_key_type(&sd) == BR_KEYTYPE_RSA) {
		struct nx_der e;
		k->type = NX_KEY_RSA;
		rc = set_rsa_private(k, br_skey_decoder_get_rsa(&sd),
		                     rsa_file_pubexp(der, len, &e) == 0 ? &e : NULL, err, errlen);
	} else if (br_skey_decoder_key_type(&sd) == BR_KEYTYPE_EC) {
		k->type = NX_KEY_EC;
		rc = nx_keyi_set_ec_private(k, br_skey_decoder_get_ec(&sd), err, errlen);
	} else {
		rc = nx_err(err, errlen, "private key type not supported");
	}
	nx_wipe(&sd, sizeof sd);
	return rc;
}

static void ignore_dn(void *ctx, const void *buf, size_t len) { (void)ctx, (void)buf, (void)len; }

int nx_keyi_parse_certificate(struct nx_key *k, const unsigned char *der, size_t len,
                             char *err, size_t errlen)
{
	br_x509_decoder_context dc;
	br_x509_decoder_init(&dc, ignore_dn, NULL);
	br_x509_decoder_push(&dc, der, len);
	const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
	if (!pk || br_x509_decoder_last_error(&dc) != 0)
		return nx_err(err, errlen, "malformed X.509 certificate");
	if (pk->key_type == BR_KEYTYPE_RSA) {
		k->type = NX_KEY_RSA;
		return nx_keyi_set_rsa_public(k, pk->key.rsa.n, pk->key.rsa.nlen, pk->key.rsa.e,
		                      pk->key.rsa.elen, err, errlen);
	}
	if (pk->key_type == BR_KEYTYPE_EC) {
		k->type = NX_KEY_EC;
		return nx_keyi_set_ec_public(k, pk->key.ec.curve, pk->key.ec.q, pk->key.ec.qlen, err, errlen);
	}
	return nx_err(err, errlen, "certificate key type not supported");
}

struct key_pem {
	struct nx_key *k;
	char *err;
	size_t errlen;
	int found;
};

/* One PEM object: a key (or a certificate's) sets *k and stops the walk; EC PARAMETERS
 * are skipped; anything else is an error. */
static int use_pem_object(void *arg, const char *name, const unsigned char *der, size_t n)
{
	struct key_pem *kp = arg;
	struct nx_key *k = kp->k;
	char *err = kp->err;
	size_t errlen = kp->errlen;
	if (strcmp(name, "EC PARAMETERS") == 0)
		return 0;
	int rc;
	if (!strcmp(name, "RSA PRIVATE KEY") || !strcmp(name, "EC PRIVATE KEY") ||
	    !strcmp(name, "PRIVATE KEY"))
		rc = nx_keyi_parse_private(k, der, n, err, errlen);
	else if (!strcmp(name, "PUBLIC KEY"))
		rc = nx_keyi_parse_spki(k, der, n, err, errlen);
	else if (!strcmp(name, "RSA PUBLIC KEY"))
		rc = nx_keyi_parse_rsa_public(k, der, n, err, errlen);
	else if (!strcmp(name, "CERTIFICATE"))
		rc = nx_keyi_parse_certificate(k, der, n, err, errlen);
	else if (!strcmp(name, "ENCRYPTED PRIVATE KEY"))
		rc = nx_err(err, errlen, "encrypted private keys are not supported "
		                         "(decrypt with 'openssl pkey' first)");
	else {
		char safe[64];
		rc = nx_err(err, errlen, "unsupported PEM object '%s'",
		            nx_sanitize(safe, sizeof safe, name, strlen(name)));
	}
	if (rc < 0)
		return -1;
	kp->found = 1;
	return 1;
}

static int load_pem(struct nx_key *k, const char *buf, size_t len, char *err, size_t errlen)
{
	struct key_pem kp = {k, err, errlen, 0};
	int rc = nx_pem_each(buf, len, use_pem_object, &kp);
	if (rc == -1)
		return -1; /* the object's own error, said */
	if (rc < 0)
		return nx_err(err, errlen, "%s", nx_pem_strerror(rc));
	return kp.found ? 0 : nx_err(err, errlen, "no key found in PEM data");
}

int nx_key_from_secret(const void *secret, size_t len, struct nx_key **key, char *err,
                       size_t errlen)
{
	*key = NULL;
	if (len == 0)
		return nx_err(err, errlen, "empty HMAC secret");
	struct nx_key *k = nx_keyi_new(NX_KEY_HMAC);
	if (!k || !(k->secret = malloc(len))) {
		free(k);
		return nx_err(err, errlen, "out of memory");
	}
	memcpy(k->secret, secret, len);
	k->secret_len = len;
	k->bits = (unsigned)(len * 8 > 0xffffffu ? 0xffffffu : len * 8);
	k->priv = 1;
	*key = k;
	return 0;
}

int nx_key_load_buf(const void *buf, size_t len, struct nx_key **key, char *err,
                    size_t errlen)
{
	*key = NULL;
	const char *s = buf;
	if (memmem(s, len, "-----BEGIN", 10)) {
		struct nx_key *k = nx_keyi_new(0);
		if (!k)
			return nx_err(err, errlen, "out of memory");
		if (load_pem(k, s, len, err, errlen) < 0) {
			nx_key_free(k);
			return -1;
		}
		*key = k;
		return 0;
	}
	/* A public key in any other format must never become an HMAC secret: anyone who has
	 * the public key could then sign HS256 tokens (algorithm confusion). */
	int r = nx_keyi_load_other(s, len, key, err, errlen);
	if (r != 0)
		return r < 0 ? -1 : 0;
	/* Otherwise an HMAC secret, trimmed, used as bytes (shared/protocol.md §2). */
	while (len > 0 && isspace((unsigned char)s[0]))
		s++, len--;
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 0)
		return nx_err(err, errlen, "empty key (neither PEM nor an HMAC secret)");
	return nx_key_from_secret(s, len, key, err, errlen);
}

int nx_key_load_file(const char *path, struct nx_key **key, char *err, size_t errlen)
{
	char *buf;
	size_t len;
	*key = NULL;
	if (nx_read_file(path, KEY_FILE_MAX, &buf, &len, err, errlen) < 0)
		return -1;
	char e2[NX_ERRLEN];
	int rc = nx_key_load_buf(buf, len, key, e2, sizeof e2);
	nx_free_secret(buf, len + 1);
	if (rc < 0)
		return nx_err(err, errlen, "%s: %s", path, e2);
	return 0;
}

enum nx_key_type nx_key_type(const struct nx_key *k) { return k->type; }
int nx_key_is_secret(const struct nx_key *k) { return k->priv; }
int nx_key_can_sign(const struct nx_key *k) { return k->priv && !k->next; }

const struct nx_key *nx_key_select(const struct nx_key *k, const char *kid, enum nx_alg alg,
                                   char *err, size_t errlen)
{
	char safe[64];
	if (!k->next)
		return k; /* a single key: the token's kid is not ours to check */
	if (kid) {
		for (const struct nx_key *c = k; c; c = c->next)
			if (strcmp(c->kid, kid) == 0)
				return c;
		nx_err(err, errlen, "no key with kid '%s' in the key set",
		       nx_sanitize(safe, sizeof safe, kid, strlen(kid)));
		return NULL;
	}
	const struct nx_key *found = NULL;
	int n = 0;
	for (const struct nx_key *c = k; c; c = c->next)
		if (nx_key_allows_alg(c, alg))
			found = c, n++;
	if (n == 1)
		return found;
	if (n == 0)
		nx_err(err, errlen, "no key for algorithm %s in the key set",
		       nx_alg_name(alg) ? nx_alg_name(alg) : "?");
	else
		nx_err(err, errlen, "token has no \"kid\" and the key set has %d keys for %s", n,
		       nx_alg_name(alg));
	return NULL;
}
unsigned nx_key_bits(const struct nx_key *k) { return k->bits; }

const char *nx_key_describe(const struct nx_key *k, char *buf, size_t n)
{
	if (k->next)
		snprintf(buf, n, "JWKS of %d public keys", k->nkeys);
	else if (k->type == NX_KEY_HMAC)
		snprintf(buf, n, "HMAC secret (%zu bytes)", k->secret_len);
	else if (k->type == NX_KEY_RSA)
		snprintf(buf, n, "RSA-%u %s key", k->bits, k->priv ? "private" : "public");
	else
		snprintf(buf, n, "EC P-256 %s key", k->priv ? "private" : "public");
	return buf;
}

int nx_key_allows_alg(const struct nx_key *k, enum nx_alg alg)
{
	switch (k->type) {
	case NX_KEY_HMAC:
		return alg == NX_ALG_HS256 || alg == NX_ALG_HS384 || alg == NX_ALG_HS512;
	case NX_KEY_RSA:
		return alg == NX_ALG_RS256;
	case NX_KEY_EC:
		return alg == NX_ALG_ES256;
	}
	return 0;
}

enum nx_alg nx_key_default_alg(const struct nx_key *k)
{
	return k->type == NX_KEY_HMAC ? NX_ALG_HS256 : k->type == NX_KEY_RSA ? NX_ALG_RS256
	                                                                   : NX_ALG_ES256;
}

