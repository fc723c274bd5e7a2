/* der.c — see der.h. */
#include "core/der.h"

#include <string.h>

int nx_der_take(struct nx_der *in, unsigned char tag, struct nx_der *out)
{
	const unsigned char *p = in->p;
	size_t n = in->len;
	if (n < 2 || p[0] != tag)
		return -1;
	size_t len, hdr;
	if (p[1] < 0x80) {
		len = p[1];
		hdr = 2;
	} else {
		size_t nb = p[1] & 0x7f;
		if (nb == 0 || nb > 4 || n < 2 + nb || p[2] == 0)
			return -1;
		len = 0;
		for (size_t i = 0; i < nb; i++)
			len = len << 8 | p[2 + i];
		if (len < 0x80)
			return -1; /* not minimal */
		hdr = 2 + nb;
	}
	if (len > n - hdr)
		return -1;
	out->p = p + hdr;
	out->len = len;
	in->p = p + hdr + len;
	in->len = n - hdr - len;
	return 0;
}

int nx_der_take_uint(struct nx_der *in, struct nx_der *out)
{
	if (nx_der_take(in, NX_DER_INTEGER, out) < 0 || out->len == 0 || (out->p[0] & 0x80))
		return -1;
	while (out->len > 0 && out->p[0] == 0) {
		out->p++;
		out->len--;
	}
	return out->len > 0 ? 0 : -1;
}

size_t nx_der_put_header(unsigned char *dst, unsigned char tag, size_t len)
{
	unsigned char h[6];
	size_t n = 0;
	h[n++] = tag;
	if (len < 0x80) {
		h[n++] = (unsigned char)len;
	} else {
		size_t nb = len > 0xffffff ? 4 : len > 0xffff ? 3 : len > 0xff ? 2 : 1;
		h[n++] = (unsigned char)(0x80 | nb);
		for (size_t i = nb; i > 0; i--)
			h[n++] = (unsigned char)(len >> (8 * (i - 1)));
	}
	if (dst)
		memcpy(dst, h, n);
	return n;
}

size_t nx_der_put_uint(unsigned char *dst, const unsigned char *m, size_t mlen)
{
	while (mlen > 1 && m[0] == 0) {
		m++;
		mlen--;
	}
	int pad = mlen == 0 || (m[0] & 0x80);
	size_t clen = mlen + (size_t)pad;
	size_t h = nx_der_put_header(dst, NX_DER_INTEGER, clen);
	if (dst) {
		if (pad)
			dst[h] = 0;
		memcpy(dst + h + pad, m, mlen);
	}
	return h + clen;
}
