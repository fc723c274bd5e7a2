/* acme_int.h — internals of lib/acme: the parsers of server answers (acme_json.c, pure,
 * fuzzed), the JWS envelope (acme_jws.c), the CSR (acme_csr.c). The parsers are declared
 * here but also used by tests/fuzz and tests/unit, through this header. */
#ifndef NEXUS_ACME_INT_H
#define NEXUS_ACME_INT_H
#include <stddef.h>
#include <stdint.h>

#include "acme/acme.h"
#include "token/keys.h"

enum acme_status {
	ACME_ST_UNKNOWN = 0,
	ACME_ST_PENDING,
	ACME_ST_READY,
	ACME_ST_PROCESSING,
	ACME_ST_VALID,
	ACME_ST_INVALID,
	ACME_ST_OTHER, /* deactivated, expired, revoked */
};

struct acme_directory {
	char new_nonce[NX_ACME_URL_MAX], new_account[NX_ACME_URL_MAX], new_order[NX_ACME_URL_MAX];
};

struct acme_problem {
	char type[160];   /* "urn:ietf:params:acme:error:badNonce", sanitised */
	char detail[300]; /* sanitised for a log line */
};

struct acme_order {
	enum acme_status status;
	char finalize[NX_ACME_URL_MAX];
	char certificate[NX_ACME_URL_MAX]; /* once valid */
	char authz[NX_ACME_MAX_NAMES][NX_ACME_URL_MAX];
	size_t nauthz;
};

struct acme_authz {
	enum acme_status status;
	char identifier[256];
	enum acme_status chall_status; /* of the http-01 challenge */
	char chall_url[NX_ACME_URL_MAX];
	char token[NX_ACME_TOKEN_MAX + 1];
	int has_http01;
	char error[300]; /* the challenge's error detail (invalid), sanitised */
};

/* Pure parsers of a JSON answer (buf, len): 0, or -1 with a reason in err. */
int acme_parse_directory(const char *buf, size_t len, struct acme_directory *d, char *err,
                         size_t errlen);
int acme_parse_problem(const char *buf, size_t len, struct acme_problem *p);
int acme_parse_order(const char *buf, size_t len, struct acme_order *o, char *err,
                     size_t errlen);
int acme_parse_authz(const char *buf, size_t len, struct acme_authz *a, char *err,
                     size_t errlen);
/* Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Seconds from now
 * (>= 0), or -1 when absent or malformed. */
int64_t acme_parse_retry_after(const char *v, int64_t now);
const char *acme_status_name(enum acme_status s);

/* The flattened JWS JSON (RFC 8555 §6.2) of `payload` ("" for POST-as-GET) for `url`,
 * with "kid" when kid is non-NULL, else the key's "jwk". malloc'd. */
char *acme_jws(const struct nx_key *key, const char *kid, const char *nonce, const char *url,
               const char *payload, char *err, size_t errlen);

/* A PKCS#10 CSR (DER, malloc'd) for `names` (the first is also the CN) signed by the
 * ES256 `key`. */
int acme_csr(const struct nx_key *key, const char *const *names, size_t n,
             unsigned char **der, size_t *len, char *err, size_t errlen);

#endif
