/* identity.c — see identity.h. */
#include "agent/identity.h"
#include "core/pem.h"
#include "core/util.h"
#include "core/der.h"

#include <bearssl.h>
#include <stdlib.h>
#include <string.h>

/* Take the next element whatever its tag. */
static int take_any(struct nx_der *in, unsigned char *tag, struct nx_der *out)
{
	if (in->len < 2)
		return -1;
	*tag = in->p[0];
	return nx_der_take(in, *tag, out);
}

int nx_dn_common_name(const unsigned char *dn, size_t len, char *cn, size_t n)
{
	static const unsigned char oid_cn[] = {0x55, 0x04, 0x03};
	struct nx_der in = {dn, len}, name;
	if (nx_der_take(&in, NX_DER_SEQUENCE, &name) < 0 || in.len != 0)
		return -1;
	int found = -1;
	while (name.len) {
		struct nx_der set, atv, oid, val;
		if (nx_der_take(&name, 0x31, &set) < 0)
			return -1;
		while (set.len) {
			unsigned char tag;
			if (nx_der_take(&set, NX_DER_SEQUENCE, &atv) < 0 || nx_der_take(&atv, NX_DER_OID, &oid) < 0 ||
			    take_any(&atv, &tag, &val) < 0)
				return -1;
			if (oid.len != sizeof oid_cn || memcmp(oid.p, oid_cn, sizeof oid_cn) != 0)
				continue;
			/* UTF8String, PrintableString, IA5String, T61String: bytes as they are */
			if ((tag != 0x0c && tag != 0x13 && tag != 0x16 && tag != 0x14) || val.len >= n ||
			    memchr(val.p, 0, val.len))
				return -1;
			memcpy(cn, val.p, val.len);
			cn[val.len] = '\0';
			found = 0;
		}
	}
	return found;
}

struct buf {
	unsigned char *p;
	size_t len, cap;
	int oom;
};

static void buf_append(void *ctx, const void *data, size_t len)
{
	struct buf *b = ctx;
	if (b->oom)
		return;
	if (b->len + len > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 1024) + len;
		unsigned char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

int nx_cert_common_name(const char *path, char *cn, size_t n, char *err, size_t errlen)
{
	char *text;
	size_t len;
	if (nx_read_file(path, 1 << 20, &text, &len, err, errlen) < 0)
		return -1;
	unsigned char *der;
	size_t der_len;
	int found = nx_pem_first(text, len, "CERTIFICATE", &der, &der_len);
	free(text);
	if (found <= 0)
		return nx_err(err, errlen, "%s: %s", path,
		              found < 0 ? "out of memory" : "no PEM certificate");
	struct buf dn = {0};
	br_x509_decoder_context dc;
	br_x509_decoder_init(&dc, buf_append, &dn);
	br_x509_decoder_push(&dc, der, der_len);
	int ok = br_x509_decoder_get_pkey(&dc) != NULL && !dn.oom;
	free(der);
	int rc = ok ? nx_dn_common_name(dn.p, dn.len, cn, n) : -1;
	free(dn.p);
	if (!ok)
		return nx_err(err, errlen, "%s: cannot decode the certificate", path);
	if (rc < 0)
		return nx_err(err, errlen, "%s: the certificate's subject has no usable CN", path);
	return 0;
}
