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
	unsigned char mem[KEY_MEM];
};

#endif
