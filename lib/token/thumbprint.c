/* thumbprint.c — RFC 7638 JWK thumbprints (the kid a backend key is known by) and the
 * base64 SubjectPublicKeyInfo a backends file line carries. See keys.h. */
#include "token/keys.h"
#include "token/keys_int.h"
#include "core/b64url.h"
#include "core/util.h"

#include <bearssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* base64url of big-endian bytes without leading zeros (RFC 7518 §6.3.1: n and e carry no
 * leading zero octets). */
static void b64_uint(char *dst, const unsigned char *p, size_t n)
{
	while (n > 1 && *p == 0)
		p++, n--;
	nx_b64url_encode(dst, p, n);
}

int nx_key_public_jwk(const struct nx_key *k, char *json, size_t n, char *err, size_t errlen)
{
	/* the required members only, in lexicographic order, no white space (RFC 7638 §3.2) */
	char a[700], b[64];
	int w;
	if (k->type == NX_KEY_RSA) {
		b64_uint(a, k->rsa_pk.n, k->rsa_pk.nlen);
		b64_uint(b, k->rsa_pk.e, k->rsa_pk.elen);
		w = snprintf(json, n, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", b, a);
	} else if (k->type == NX_KEY_EC) {
		char x[64], y[64];
		nx_b64url_encode(x, k->ec_pk.q + 1, 32);
		nx_b64url_encode(y, k->ec_pk.q + 33, 32);
		w = snprintf(json, n, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
		             x, y);
	} else {
		return nx_err(err, errlen, "an HMAC secret has no thumbprint (it is not a key pair)");
	}
	if (w < 0 || (size_t)w >= n)
		return nx_err(err, errlen, "JWK too long");
	return 0;
}

int nx_key_thumbprint(const struct nx_key *k, char out[NX_KID_MAX], char *err, size_t errlen)
{
	char json[1400];
	if (nx_key_public_jwk(k, json, sizeof json, err, errlen) < 0)
		return -1;
	unsigned char h[32];
	br_sha256_context sc;
	br_sha256_init(&sc);
	br_sha256_update(&sc, json, strlen(json));
	br_sha256_out(&sc, h);
	nx_b64url_encode(out, h, sizeof h);
	return 0;
}

int nx_key_spki_base64(const struct nx_key *k, char **out, char *err, size_t errlen)
{
	char *pem;
	size_t len;
	if (nx_key_public_pem(k, &pem, &len, err, errlen) < 0)
		return -1;
	char *o = malloc(len + 1);
	if (!o) {
		free(pem);
		return nx_err(err, errlen, "out of memory");
	}
	/* the PEM body: every line that is not a -----BEGIN/END----- line, joined */
	size_t n = 0;
	for (char *line = pem, *nl; line < pem + len; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(pem + len - line));
		if (!nl)
			nl = pem + len;
		if (nl > line && line[0] != '-') {
			memcpy(o + n, line, (size_t)(nl - line));
			n += (size_t)(nl - line);
			if (o[n - 1] == '\r')
				n--;
		}
	}
	o[n] = 0;
	free(pem);
	*out = o;
	return 0;
}
