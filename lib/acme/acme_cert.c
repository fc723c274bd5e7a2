/* acme_cert.c — what a certificate file tells about renewal: the leaf's validity and
 * serial (BearSSL's decoder, core/der for the serial), and when to renew. */
#include "core/pem.h"
#include "acme/acme.h"
#include "core/der.h"
#include "core/random.h"
#include "wire/tls.h"
#include "core/util.h"
#include "wire/x509_names.h"

#include <bearssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DAYS_0AD_TO_1970 719528 /* BearSSL counts days from January 1st, 0 AD */

static int64_t unix_time(uint32_t days, uint32_t seconds)
{
	return ((int64_t)days - DAYS_0AD_TO_1970) * 86400 + seconds;
}

static void dn_skip(void *ctx, const void *d, size_t n)
{
	(void)ctx, (void)d, (void)n;
}

/* The first CERTIFICATE of a PEM file (the leaf), DER, malloc'd. */
static int leaf_der(const char *path, unsigned char **out, size_t *outlen, char *err,
                    size_t errlen)
{
	char *text;
	size_t len;
	if (nx_read_file(path, 1u << 20, &text, &len, err, errlen) < 0)
		return -1;
	int rc = nx_pem_first(text, len, "CERTIFICATE", out, outlen);
	nx_free_secret(text, len); /* the file may hold the private key too */
	if (rc <= 0)
		return nx_err(err, errlen, "%s: no certificate found", path);
	return 0;
}

struct want {
	const char *name;
	int found;
};

static int name_cb(void *arg, enum nx_x509_name_type type, const unsigned char *v, size_t n)
{
	struct want *w = arg;
	if (type == NX_X509_DNS && n == strlen(w->name) && strncasecmp((const char *)v, w->name, n) == 0)
		w->found = 1;
	return w->found;
}

int nx_acme_cert_covers(const char *path, const char *const *names, size_t n, char *err,
                        size_t errlen)
{
	unsigned char *der;
	size_t len;
	if (leaf_der(path, &der, &len, err, errlen) < 0)
		return -1;
	int rc = 1;
	for (size_t i = 0; i < n && rc == 1; i++) {
		struct want w = {names[i], 0};
		if (nx_x509_names(der, len, name_cb, &w) < 0)
			rc = nx_err(err, errlen, "%s: unreadable names", path);
		else if (!w.found)
			rc = 0;
	}
	free(der);
	return rc;
}

int nx_acme_cert_info(const char *path, int64_t *nb, int64_t *na, char serial[80], char *err,
                      size_t errlen)
{
	struct {
		unsigned char *p;
		size_t n;
	} der;
	if (leaf_der(path, &der.p, &der.n, err, errlen) < 0)
		return -1;
	br_x509_decoder_context dc;
	br_x509_decoder_init(&dc, dn_skip, NULL);
	br_x509_decoder_push(&dc, der.p, der.n);
	if (!br_x509_decoder_get_pkey(&dc)) {
		free(der.p);
		return nx_err(err, errlen, "%s: cannot decode the certificate", path);
	}
	int64_t from = unix_time(dc.notbefore_days, dc.notbefore_seconds);
	int64_t to = unix_time(dc.notafter_days, dc.notafter_seconds);
	/* BearSSL's decoder reads the dates without comparing them. A certificate that ends
	 * before it begins is valid at no time, and nx_acme_renew_at would renew it at its
	 * notBefore, after it has expired: refuse it, so the caller orders a new one. */
	if (to < from) {
		free(der.p);
		return nx_err(err, errlen, "%s: the certificate expires before it begins", path);
	}
	*nb = from;
	*na = to;
	/* Certificate ::= SEQ { TBSCertificate ::= SEQ { [0] version OPTIONAL, serial, ... } } */
	struct nx_der all = {der.p, der.n}, cert, tbs, ver, sn;
	serial[0] = 0;
	if (nx_der_take(&all, NX_DER_SEQUENCE, &cert) == 0 &&
	    nx_der_take(&cert, NX_DER_SEQUENCE, &tbs) == 0) {
		if (tbs.len && tbs.p[0] == 0xa0)
			nx_der_take(&tbs, 0xa0, &ver);
		if (nx_der_take(&tbs, NX_DER_INTEGER, &sn) == 0) {
			/* as openssl prints it: the magnitude, without the sign byte */
			while (sn.len > 1 && sn.p[0] == 0)
				sn.p++, sn.len--;
			for (size_t i = 0; i < sn.len && i < 39; i++)
				snprintf(serial + 2 * i, 3, "%02X", sn.p[i]);
		}
	}
	free(der.p);
	return 0;
}

struct nx_tls_server_creds *nx_acme_cert_load(const char *path, char serial[80],
                                              int64_t *not_after, int64_t *renew_at, char *err,
                                              size_t errlen)
{
	int64_t nb, na;
	if (nx_acme_cert_info(path, &nb, &na, serial, err, errlen) < 0)
		return NULL;
	if (na <= nx_unix_time())
		return nx_err(err, errlen, "%s: expired", path), NULL;
	struct nx_tls_server_creds *c = nx_tls_server_creds_load(path, path, err, errlen);
	if (!c)
		return NULL;
	uint32_t rnd = 0;
	nx_random_bytes(&rnd, sizeof rnd, NULL, 0);
	*not_after = na;
	*renew_at = nx_acme_renew_at(nb, na, rnd);
	return c;
}

int64_t nx_acme_renew_at(int64_t nb, int64_t na, uint32_t rnd)
{
	int64_t life = na > nb ? na - nb : 0;
	return nb + life * 2 / 3 - (int64_t)(rnd % (uint64_t)(life / 18 + 1));
}

#define RETRY_MIN_S 10
#define RETRY_MAX_S 3600

int64_t nx_acme_retry_at(unsigned *failures, int64_t server_retry_at)
{
	int64_t d = (int64_t)RETRY_MIN_S << (*failures < 9 ? *failures : 9);
	if (d > RETRY_MAX_S)
		d = RETRY_MAX_S;
	(*failures)++;
	return server_retry_at > 0 ? server_retry_at : nx_unix_time() + d;
}
