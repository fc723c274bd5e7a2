/* tls_int.h — what tls.c and tls_creds.c share; not for other modules. */
#ifndef NEXUS_TLS_INT_H
#define NEXUS_TLS_INT_H
#include <bearssl.h>

#include "wire/tls.h"

struct nx_tls_server_creds {
	br_x509_certificate *chain; /* leaf first; data owned */
	size_t chain_len;
	br_skey_decoder_context skey; /* holds the private key (wiped on free) */
	int key_type;                 /* BR_KEYTYPE_RSA / BR_KEYTYPE_EC */
	unsigned issuer_key_type;     /* key type of the CA that signed the leaf */
};

struct nx_tls_trust {
	br_x509_trust_anchor *anchors; /* DN and keys owned */
	size_t n;
};

#endif
