/* b64url.c — see b64url.h. */
#include "core/b64url.h"
#include "core/util.h"

#include <stdint.h>
#include <stdlib.h>

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t nx_b64url_encode(char *dst, const void *src, size_t n)
{
	const unsigned char *s = src;
	size_t o = 0, i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		dst[o++] = alphabet[v >> 18];
		dst[o++] = alphabet[(v >> 12) & 63];
		dst[o++] = alphabet[(v >> 6) & 63];
		dst[o++] = alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)s[i] << 16;
		dst[o++] = alphabet[v >> 18];
		dst[o++] = alphabet[(v >> 12) & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
		dst[o++] = alphabet[v >> 18];
		dst[o++] = alphabet[(v >> 12) & 63];
		dst[o++] = alphabet[(v >> 6) & 63];
	}
	dst[o] = '\0';
	return o;
}

char *nx_b64url_encode_alloc(const void *src, size_t n)
{
	char *d = malloc(NX_B64URL_ENCLEN(n) + 1);
	if (d)
		nx_b64url_encode(d, src, n);
	return d;
}

static int value_of(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int nx_b64url_decode(const char *src, size_t n, unsigned char *dst, size_t dstcap,
                     size_t *outlen, char *err, size_t errlen)
{
	if (n % 4 == 1)
		return nx_err(err, errlen, "bad base64url: impossible length %zu", n);
	size_t need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
	if (need > dstcap)
		return nx_err(err, errlen, "bad base64url: decodes to more than %zu bytes", dstcap);
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int v = value_of((unsigned char)src[i]);
		if (v < 0)
			return nx_err(err, errlen, "bad base64url: invalid character at offset %zu", i);
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			dst[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)
		return nx_err(err, errlen, "bad base64url: non-zero trailing bits");
	*outlen = o;
	return 0;
}
