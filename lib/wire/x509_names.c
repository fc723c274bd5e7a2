/* x509_names.c — see x509_names.h. RFC 5280 §4.1 and §4.2.1.6. */
#include "wire/x509_names.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "core/der.h"

#define CTX(n) (0xa0 | (n))      /* context-specific, constructed */
#define CTX_PRIM(n) (0x80 | (n)) /* context-specific, primitive */
#define DER_SET 0x31

/* id-ce-subjectAltName 2.5.29.17 and id-at-commonName 2.5.4.3, DER content of the OIDs */
static const unsigned char OID_SAN[] = {0x55, 0x1d, 0x11};
static const unsigned char OID_CN[] = {0x55, 0x04, 0x03};

static int oid_is(const struct nx_der *o, const unsigned char *oid, size_t n)
{
	return o->len == n && memcmp(o->p, oid, n) == 0;
}

/* Skip one element whatever its tag. */
static int skip_any(struct nx_der *in)
{
	struct nx_der tmp;
	if (in->len < 1)
		return -1;
	return nx_der_take(in, in->p[0], &tmp);
}

static int peek(const struct nx_der *in, unsigned char tag)
{
	return in->len > 0 && in->p[0] == tag;
}

/* GeneralNames ::= SEQUENCE OF GeneralName; dNSName [2] IA5String, iPAddress [7] OCTET
 * STRING, both implicitly tagged (primitive). Other kinds are skipped. */
static int walk_san(struct nx_der ext, nx_x509_name_fn fn, void *arg, int *stopped)
{
	struct nx_der seq;
	if (nx_der_take(&ext, NX_DER_SEQUENCE, &seq) < 0 || ext.len != 0)
		return -1;
	while (seq.len > 0) {
		unsigned char tag = seq.p[0];
		struct nx_der v;
		if (nx_der_take(&seq, tag, &v) < 0)
			return -1;
		enum nx_x509_name_type t = tag == CTX_PRIM(2) ? NX_X509_DNS
		                           : tag == CTX_PRIM(7) ? NX_X509_IP
		                                                : 0;
		if (t && !*stopped && fn(arg, t, v.p, v.len))
			*stopped = 1;
	}
	return 0;
}

/* Extensions ::= SEQUENCE OF Extension; Extension ::= SEQUENCE { extnID OID, critical
 * BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }. Returns 1 if a SAN was found. */
static int walk_extensions(struct nx_der exts, nx_x509_name_fn fn, void *arg, int *stopped)
{
	struct nx_der seq;
	int found = 0;
	if (nx_der_take(&exts, NX_DER_SEQUENCE, &seq) < 0)
		return -1;
	while (seq.len > 0) {
		struct nx_der ext, oid, val;
		if (nx_der_take(&seq, NX_DER_SEQUENCE, &ext) < 0 ||
		    nx_der_take(&ext, NX_DER_OID, &oid) < 0)
			return -1;
		if (peek(&ext, 0x01) && skip_any(&ext) < 0)
			return -1;
		if (nx_der_take(&ext, NX_DER_OCTETSTRING, &val) < 0)
			return -1;
		if (oid_is(&oid, OID_SAN, sizeof OID_SAN)) {
			if (found)
				return -1; /* RFC 5280: an extension appears at most once */
			found = 1;
			if (walk_san(val, fn, arg, stopped) < 0)
				return -1;
		}
	}
	return found;
}

/* Name ::= SEQUENCE OF RelativeDistinguishedName (SET OF AttributeTypeAndValue). */
static int walk_cn(struct nx_der name, nx_x509_name_fn fn, void *arg, int *stopped)
{
	while (name.len > 0) {
		struct nx_der rdn;
		if (nx_der_take(&name, DER_SET, &rdn) < 0)
			return -1;
		while (rdn.len > 0) {
			struct nx_der atv, oid, v;
			if (nx_der_take(&rdn, NX_DER_SEQUENCE, &atv) < 0 ||
			    nx_der_take(&atv, NX_DER_OID, &oid) < 0 || atv.len < 1 ||
			    nx_der_take(&atv, atv.p[0], &v) < 0)
				return -1;
			if (oid_is(&oid, OID_CN, sizeof OID_CN) && !*stopped &&
			    fn(arg, NX_X509_CN, v.p, v.len))
				*stopped = 1;
		}
	}
	return 0;
}

int nx_x509_names(const unsigned char *der, size_t len, nx_x509_name_fn fn, void *arg)
{
	struct nx_der in = {der, len}, cert, tbs, subject;
	if (nx_der_take(&in, NX_DER_SEQUENCE, &cert) < 0 ||
	    nx_der_take(&cert, NX_DER_SEQUENCE, &tbs) < 0)
		return -1;
	if (peek(&tbs, CTX(0)) && skip_any(&tbs) < 0) /* version */
		return -1;
	/* serialNumber, signature, issuer, validity */
	for (int i = 0; i < 4; i++)
		if (skip_any(&tbs) < 0)
			return -1;
	if (nx_der_take(&tbs, NX_DER_SEQUENCE, &subject) < 0 || skip_any(&tbs) < 0 /* SPKI */)
		return -1;
	if (peek(&tbs, CTX_PRIM(1)) && skip_any(&tbs) < 0) /* issuerUniqueID */
		return -1;
	if (peek(&tbs, CTX_PRIM(2)) && skip_any(&tbs) < 0) /* subjectUniqueID */
		return -1;
	int stopped = 0, san = 0;
	if (peek(&tbs, CTX(3))) {
		struct nx_der exts;
		if (nx_der_take(&tbs, CTX(3), &exts) < 0)
			return -1;
		san = walk_extensions(exts, fn, arg, &stopped);
		if (san < 0)
			return -1;
	}
	if (tbs.len != 0)
		return -1;
	if (!san && walk_cn(subject, fn, arg, &stopped) < 0)
		return -1;
	return 0;
}

struct ip_match {
	const unsigned char *ip;
	size_t len;
	int found;
};

static int ip_cb(void *arg, enum nx_x509_name_type type, const unsigned char *v, size_t len)
{
	struct ip_match *m = arg;
	if (type == NX_X509_IP && len == m->len && memcmp(v, m->ip, len) == 0)
		m->found = 1;
	return m->found;
}

int nx_x509_has_ip(const unsigned char *der, size_t len, const unsigned char *ip,
                   size_t ip_len)
{
	struct ip_match m = {ip, ip_len, 0};
	if (ip_len != 4 && ip_len != 16)
		return 0;
	if (nx_x509_names(der, len, ip_cb, &m) < 0)
		return -1;
	return m.found;
}

struct text {
	char *out;
	size_t cap, n;
	int full;
};

/* Appends printable text, keeping room for "..." and the NUL (cap >= 5 or full). */
static void put(struct text *t, const char *s, size_t len)
{
	for (size_t i = 0; i < len && !t->full; i++) {
		if (t->n + 4 >= t->cap) {
			memcpy(t->out + t->n, "...", 3);
			t->n += 3;
			t->full = 1;
			break;
		}
		unsigned char ch = (unsigned char)s[i];
		t->out[t->n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
}

static int text_cb(void *arg, enum nx_x509_name_type type, const unsigned char *v, size_t len)
{
	struct text *t = arg;
	if (t->n > 0)
		put(t, ", ", 2);
	if (type == NX_X509_IP) {
		char ip[INET6_ADDRSTRLEN] = "?";
		if (len == 4)
			inet_ntop(AF_INET, v, ip, sizeof ip);
		else if (len == 16)
			inet_ntop(AF_INET6, v, ip, sizeof ip);
		put(t, "IP:", 3);
		put(t, ip, strlen(ip));
	} else {
		put(t, type == NX_X509_DNS ? "DNS:" : "CN:", type == NX_X509_DNS ? 4 : 3);
		put(t, (const char *)v, len);
	}
	return t->full;
}

char *nx_x509_names_text(const unsigned char *der, size_t len, char *out, size_t outlen)
{
	if (outlen == 0)
		return out;
	struct text t = {out, outlen, 0, outlen < 5};
	out[0] = 0;
	if (nx_x509_names(der, len, text_cb, &t) < 0) {
		snprintf(out, outlen, "unreadable names");
		return out;
	}
	if (t.n == 0) {
		snprintf(out, outlen, "no names");
		return out;
	}
	out[t.n] = 0;
	return out;
}
