/* keys_int.h — the key object shared by keys.c (loading, generation, files) and
 * keysig.c (signing, verifying). Not for use outside those two files. */
#ifndef NEXUS_KEYS_INT_H
#define NEXUS_KEYS_INT_H
#include <bearssl.h>

#include "token/keys.h"

#define RSA_MIN_BITS 1024
#define RSA_MAX_BITS 4096
/* Room for the largest RSA key: five private parts, the modulus and the exponent. */
#define KEY_MEM (BR_RSA_KBUF_PRIV_SIZE(RSA_MAX_BITS) + BR_RSA_KBUF_PUB_SIZE(RSA_MAX_BITS) + 64)

struct nx_key {
	enum nx_key_type type;
	int priv;               /* a private RSA/EC key (HMAC keys are always secret) */
	unsigned bits;
	br_rsa_public_key rsa_pk;
	br_rsa_private_key rsa_sk;
	br_ec_public_key ec_pk;
	br_ec_private_key ec_sk;
	unsigned char *secret;  /* HMAC */
	size_t secret_len;
	size_t used;            /* bytes of mem in use */
	char kid[128];          /* a JWK's "kid", "" when none */
	struct nx_key *next;    /* the other keys of a JWKS (a key set; never secret) */
	int nkeys;              /* keys in the set this one heads (1: a single key) */
	unsigned char mem[KEY_MEM];
};

/* keys.c: building a key object (each returns 0 or -1 with err). */
struct nx_key *nx_keyi_new(enum nx_key_type type);
int nx_keyi_set_rsa_public(struct nx_key *k, const unsigned char *n, size_t nlen,
                           const unsigned char *e, size_t elen, char *err, size_t errlen);
int nx_keyi_set_ec_public(struct nx_key *k, int curve, const unsigned char *q, size_t qlen,
                          char *err, size_t errlen);
int nx_keyi_set_ec_private(struct nx_key *k, const br_ec_private_key *sk, char *err,
                           size_t errlen);
int nx_keyi_parse_spki(struct nx_key *k, const unsigned char *der, size_t len, char *err,
                       size_t errlen);
int nx_keyi_parse_rsa_public(struct nx_key *k, const unsigned char *der, size_t len,
                             char *err, size_t errlen);
int nx_keyi_parse_private(struct nx_key *k, const unsigned char *der, size_t len, char *err,
                          size_t errlen);
int nx_keyi_parse_certificate(struct nx_key *k, const unsigned char *der, size_t len,
                              char *err, size_t errlen);

/* keyfmt.c: the key formats that are not PEM (DER, JWK/JWKS) and the public-key formats we
 * recognise only to refuse them (OpenSSH, RFC 4716, base64 DER without armour), so that no
 * public key is ever taken for an HMAC secret. `buf` is the file's content as read.
 * Returns 1 and *key when it was a key, 0 when it is none of these formats (an HMAC
 * secret), -1 with err when it is one of them but cannot be used. */
int nx_keyi_load_other(const char *buf, size_t len, struct nx_key **key, char *err,
                       size_t errlen);

#endif
