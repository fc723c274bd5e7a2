/* x509_names.h — the names an X.509 certificate is for, read from its DER: the
 * subjectAltName dNSName and iPAddress entries, and the subject's commonName (which
 * BearSSL's minimal engine falls back to when there is no SAN). BearSSL 0.6's decoder does
 * not expose them; tls.c needs them to match an IP literal against iPAddress SANs and to
 * say which names a refused certificate has. A pure parser over (buf, len), fuzzed through
 * tests/fuzz/fuzz_x509_names.c. */
#ifndef NEXUS_X509_NAMES_H
#define NEXUS_X509_NAMES_H
#include <stddef.h>

enum nx_x509_name_type {
	NX_X509_DNS = 1, /* SAN dNSName: IA5 text, not NUL-terminated */
	NX_X509_IP = 2,  /* SAN iPAddress: 4 or 16 bytes (other lengths are passed as they are) */
	NX_X509_CN = 3,  /* subject commonName (any string type), only reported with no SAN */
};

/* Called once per name, in certificate order; return non-zero to stop early. */
typedef int (*nx_x509_name_fn)(void *arg, enum nx_x509_name_type type,
                               const unsigned char *val, size_t len);

/* Walks the names of the certificate `der` (one whole Certificate). Returns 0 when the
 * certificate was read (whether or not fn stopped early), -1 when it is not a well-formed
 * certificate as far as we read it. With a subjectAltName extension only its entries are
 * reported; without one, the subject's commonName values. */
int nx_x509_names(const unsigned char *der, size_t len, nx_x509_name_fn fn, void *arg);

/* 1 if the certificate has an iPAddress SAN equal to ip (ip_len 4 or 16), 0 if not,
 * -1 if the certificate cannot be read. Never looks at dNSName or the commonName. */
int nx_x509_has_ip(const unsigned char *der, size_t len, const unsigned char *ip,
                   size_t ip_len);

/* The names as one line: "DNS:a.example, DNS:*.b.example, IP:127.0.0.1, IP:::1" (or
 * "CN:name" for a certificate without SAN). Unprintable bytes become '?'. "no names" when
 * there are none, "unreadable names" when the DER is malformed. Always NUL-terminates;
 * a list that does not fit ends with "...". Returns out. */
char *nx_x509_names_text(const unsigned char *der, size_t len, char *out, size_t outlen);

#endif
