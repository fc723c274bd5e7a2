/* der.h — the little DER (X.690) reading and writing that keys.c needs for public keys and
 * x509_names.c for certificate names, which BearSSL 0.6 neither decodes (outside
 * certificates) nor encodes. A pure parser over (buf, len); fuzzed through
 * tests/fuzz/fuzz_keys.c and fuzz_x509_names.c. */
#ifndef NEXUS_DER_H
#define NEXUS_DER_H
#include <stddef.h>

#define NX_DER_INTEGER 0x02
#define NX_DER_BITSTRING 0x03
#define NX_DER_OCTETSTRING 0x04
#define NX_DER_NULL 0x05
#define NX_DER_OID 0x06
#define NX_DER_SEQUENCE 0x30

struct nx_der {
	const unsigned char *p;
	size_t len;
};

/* Take the next element from *in: it must have tag `tag`; its content goes to *out and *in
 * moves past it. Definite lengths only, minimal-form lengths, nothing past in->len.
 * Returns 0 or -1. */
int nx_der_take(struct nx_der *in, unsigned char tag, struct nx_der *out);

/* Take an INTEGER that must be positive; *out gets its magnitude without leading zeros. */
int nx_der_take_uint(struct nx_der *in, struct nx_der *out);

/* Write a tag and length header for `len` content bytes into dst (NULL: only measure).
 * Returns the header size (at most 6 bytes). */
size_t nx_der_put_header(unsigned char *dst, unsigned char tag, size_t len);

/* Write an INTEGER holding the unsigned big-endian magnitude m (leading zeros dropped, a
 * 0x00 added when the top bit is set). dst NULL: only measure. Returns the size. */
size_t nx_der_put_uint(unsigned char *dst, const unsigned char *m, size_t mlen);

#endif
