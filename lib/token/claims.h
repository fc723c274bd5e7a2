/* claims.h — JWT claim checks (RFC 7519 §4.1): exp, nbf, iat, iss, aud, required claims,
 * revoked jti.
 *
 * exp, nbf and iat, when present, must be numbers (NumericDate, seconds since the epoch).
 * A token is refused when now >= exp + leeway ("token expired"), now < nbf - leeway
 * ("token not yet valid"), iat > now + leeway + iat_skew ("token issued in the future"),
 * and, with max_age > 0, when iat is missing or now - iat > max_age + leeway ("token too
 * old"). An iat in the future must be bounded or it would defeat max_age. */
#ifndef NEXUS_CLAIMS_H
#define NEXUS_CLAIMS_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct nx_claims_policy {
	const char *iss;              /* required "iss" (exact), NULL: not checked */
	const char *aud;              /* "aud" must equal it, or be an array containing it */
	int64_t now;                  /* unix seconds; 0 means the current time */
	int64_t leeway;               /* allowed clock skew in seconds, >= 0 */
	int64_t max_age;              /* > 0: iat required and at most this old (seconds) */
	const char *const *required;  /* NULL-terminated claim names that must be present */
	const char *deny_list;        /* path (denylist.h): a listed "jti" is refused; NULL */
	int64_t iat_skew;             /* seconds an iat may be in the future beyond leeway
	                               * (a backend whose clock runs ahead), >= 0 */
};

/* 0 when `claims` passes every check of `policy` (a zeroed policy checks only the time
 * claims against the current time), else -1 with the first failed check in err. */
int nx_claims_check(const json_t *claims, const struct nx_claims_policy *policy, char *err,
                    size_t errlen);

#endif
