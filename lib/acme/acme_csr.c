/* acme_csr.c — a PKCS#10 certification request (RFC 2986) for an ES256 key: subject CN
 * (the first name, when it fits 64 characters), the subjectAltName dNSNames in an
 * extensionRequest attribute, ecdsa-with-SHA256. BearSSL encodes no DER: core/der writes
 * the headers, lib/token signs. */
#include "acme/acme_int.h"
#include "core/der.h"
#include "core/util.h"

#include <bearssl.h>
#include <stdlib.h>
#include <string.h>

struct b {
	unsigned char *p;
	size_t n;
	int oom;
};

static void put(struct b *b, const void *d, size_t n)
{
	if (b->oom)
		return;
	unsigned char *p = realloc(b->p, b->n + n + 1);
	if (!p) {
		b->oom = 1;
		return;
	}
	memcpy(p + b->n, d, n);
	b->p = p;
	b->n += n;
}

/* tag + length + content of `in` onto out; in is freed. */
static void wrap(struct b *out, unsigned char tag, struct b *in)
{
	unsigned char h[8];
	size_t hl = nx_der_put_header(h, tag, in->n);
	put(out, h, hl);
	put(out, in->p, in->n);
	out->oom |= in->oom;
	free(in->p);
	in->p = NULL;
	in->n = 0;
}

static void put_tlv(struct b *out, unsigned char tag, const void *d, size_t n)
{
	struct b in = {0};
	put(&in, d, n);
	wrap(out, tag, &in);
}

static void pem_out(void *ctx, const void *d, size_t n) { put(ctx, d, n); }

/* The key's SubjectPublicKeyInfo: lib/token writes it as PEM; BearSSL decodes that. */
static int spki_der(const struct nx_key *key, struct b *out, char *err, size_t errlen)
{
	char *pem;
	size_t len;
	if (nx_key_public_pem(key, &pem, &len, err, errlen) < 0)
		return -1;
	br_pem_decoder_context pc;
	br_pem_decoder_init(&pc);
	struct b der = {0};
	int in = 0, done = 0;
	const char *p = pem;
	size_t left = len;
	while (left > 0 && !done) {
		size_t k = br_pem_decoder_push(&pc, p, left);
		p += k;
		left -= k;
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			in = 1;
			br_pem_decoder_setdest(&pc, pem_out, &der);
			break;
		case BR_PEM_END_OBJ: done = in; break;
		case BR_PEM_ERROR: left = 0; break;
		default: break;
		}
	}
	free(pem);
	if (!done || der.oom) {
		free(der.p);
		return nx_err(err, errlen, "cannot encode the public key");
	}
	put(out, der.p, der.n);
	free(der.p);
	return 0;
}

static const unsigned char OID_CN[] = {0x55, 0x04, 0x03};
static const unsigned char OID_EXT_REQ[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e};
static const unsigned char OID_SAN[] = {0x55, 0x1d, 0x11};
static const unsigned char OID_ECDSA_SHA256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};

int acme_csr(const struct nx_key *key, const char *const *names, size_t n,
             unsigned char **der, size_t *len, char *err, size_t errlen)
{
	*der = NULL;
	*len = 0;
	if (n == 0)
		return nx_err(err, errlen, "a CSR needs a name");
	struct b cri = {0}, t = {0}, u = {0}, v = {0};
	static const unsigned char version[] = {0x02, 0x01, 0x00};
	put(&cri, version, sizeof version);
	/* subject: SEQ { SET { SEQ { OID CN, UTF8String } } } */
	if (strlen(names[0]) <= 64) {
		put_tlv(&t, NX_DER_OID, OID_CN, sizeof OID_CN);
		put_tlv(&t, 0x0c, names[0], strlen(names[0]));
		wrap(&u, NX_DER_SEQUENCE, &t);
		wrap(&v, 0x31, &u);
	}
	wrap(&cri, NX_DER_SEQUENCE, &v);
	if (spki_der(key, &cri, err, errlen) < 0) {
		free(cri.p);
		return -1;
	}
	/* [0] { SEQ { OID extensionRequest, SET { SEQ(Extensions) { SEQ { OID SAN,
	 *   OCTET STRING { SEQ { [2] name ... } } } } } } } */
	for (size_t i = 0; i < n; i++)
		put_tlv(&t, 0x82, names[i], strlen(names[i]));
	wrap(&u, NX_DER_SEQUENCE, &t);                 /* GeneralNames */
	put_tlv(&v, NX_DER_OID, OID_SAN, sizeof OID_SAN);
	wrap(&v, NX_DER_OCTETSTRING, &u);              /* extnValue */
	wrap(&t, NX_DER_SEQUENCE, &v);                 /* Extension */
	wrap(&u, NX_DER_SEQUENCE, &t);                 /* Extensions */
	wrap(&t, 0x31, &u);                            /* SET OF values */
	put_tlv(&v, NX_DER_OID, OID_EXT_REQ, sizeof OID_EXT_REQ);
	put(&v, t.p, t.n);
	free(t.p);
	t.p = NULL, t.n = 0;
	wrap(&u, NX_DER_SEQUENCE, &v);                 /* Attribute */
	wrap(&cri, 0xa0, &u);                          /* attributes [0] */
	struct b info = {0};
	wrap(&info, NX_DER_SEQUENCE, &cri);
	if (info.oom) {
		free(info.p);
		return nx_err(err, errlen, "out of memory");
	}
	unsigned char sig[NX_SIG_MAX + 1];
	size_t sl;
	if (nx_key_sign(key, NX_ALG_ES256, info.p, info.n, sig + 1, &sl, err, errlen) < 0) {
		free(info.p);
		return -1;
	}
	sig[0] = 0; /* no unused bits */
	sl = br_ecdsa_raw_to_asn1(sig + 1, sl);
	struct b req = {0};
	put(&req, info.p, info.n);
	free(info.p);
	put_tlv(&t, NX_DER_OID, OID_ECDSA_SHA256, sizeof OID_ECDSA_SHA256);
	wrap(&req, NX_DER_SEQUENCE, &t);
	put_tlv(&req, NX_DER_BITSTRING, sig, sl + 1);
	struct b out = {0};
	wrap(&out, NX_DER_SEQUENCE, &req);
	if (out.oom || !sl) {
		free(out.p);
		return nx_err(err, errlen, "out of memory");
	}
	*der = out.p;
	*len = out.n;
	return 0;
}
