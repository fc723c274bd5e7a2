/* b64url.h — base64url without padding (RFC 4648 §5, as JWS uses it, RFC 7515 §2).
 * Neither BearSSL nor jansson exports a base64 codec, so this small one is ours. */
#ifndef NEXUS_B64URL_H
#define NEXUS_B64URL_H
#include <stddef.h>

/* Characters nx_b64url_encode() writes for n input bytes, not counting the NUL. */
#define NX_B64URL_ENCLEN(n) ((((n) / 3) * 4) + (((n) % 3) ? ((n) % 3) + 1 : 0))
/* Upper bound of the bytes nx_b64url_decode() writes for a text of n characters. */
#define NX_B64URL_DECLEN(n) (((n) / 4) * 3 + 2)

/* Encode n bytes into dst, which has room for NX_B64URL_ENCLEN(n) + 1 bytes; NUL-terminated.
 * Returns the number of characters written. */
size_t nx_b64url_encode(char *dst, const void *src, size_t n);

/* Encode into a malloc'd NUL-terminated string; NULL when out of memory. */
char *nx_b64url_encode_alloc(const void *src, size_t n);

/* Strict decode of `n` characters: only the base64url alphabet, no padding, no whitespace,
 * no length that leaves 1 spare character, unused trailing bits must be zero (so every byte
 * string has exactly one accepted encoding). Writes at most dstcap bytes.
 * Returns 0 and *outlen, or -1 with a reason in err. */
int nx_b64url_decode(const char *src, size_t n, unsigned char *dst, size_t dstcap,
                     size_t *outlen, char *err, size_t errlen);

#endif
