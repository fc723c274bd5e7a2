/* jws.h — JWS compact serialization (RFC 7515) carrying JWT claims (RFC 7519).
 *
 *   struct nx_key *k;  json_t *hdr, *claims;  char err[NX_ERRLEN];
 *   nx_key_load_file("hub.secret", &k, err, sizeof err);
 *   if (nx_jws_verify(k, tok, strlen(tok), &hdr, &claims, err, sizeof err) < 0 ||
 *       nx_claims_check(claims, &policy, err, sizeof err) < 0)
 *       reject(err);                       // err: "token expired", "signature mismatch", ...
 *
 * Verification is strict: exactly three segments, canonical base64url, header and payload
 * JSON objects (duplicate keys refused), "alg" must be one the key is for (so "none", or
 * HS256 against an RSA public key used as an HMAC secret, are refused), a "crit" header is
 * refused (we understand no extensions), and a token longer than NX_JWS_MAX is refused
 * before any work. The payload must be a JSON object (JWT claims). */
#ifndef NEXUS_JWS_H
#define NEXUS_JWS_H
#include <jansson.h>
#include <stddef.h>

#include "token/keys.h"

#define NX_JWS_MAX 65536

/* Sign `claims` (a JSON object) with `key`. alg NX_ALG_NONE picks nx_key_default_alg().
 * Header: {"alg":…,"typ":"JWT"} plus the members of `header_extra` (e.g. "kid"; may be
 * NULL; it cannot override alg). *token is malloc'd, NUL-terminated; free() it. */
int nx_jws_sign(const struct nx_key *key, enum nx_alg alg, const json_t *header_extra,
                const json_t *claims, char **token, char *err, size_t errlen);

/* Low level: sign the exact bytes given, header_json as is (it must name an alg the key
 * allows) and any payload. For test vectors and tokens made elsewhere. */
int nx_jws_sign_raw(const struct nx_key *key, const char *header_json, const void *payload,
                    size_t payload_len, char **token, char *err, size_t errlen);

/* Verify `token` (len bytes, no trailing newline; surrounding whitespace is an error) with
 * `key`. On success returns 0 and, for each non-NULL out pointer, a new reference to the
 * header / claims objects (json_decref them). On failure -1, one line in err, outputs NULL. */
int nx_jws_verify(const struct nx_key *key, const char *token, size_t len, json_t **header,
                  json_t **claims, char *err, size_t errlen);

/* Decode without verifying anything but the structure (for inspect and revoke):
 * the same parsing and limits as nx_jws_verify, no key, no signature check.
 * *alg is the header's alg (NX_ALG_NONE if absent/unknown); may be NULL. */
int nx_jws_decode(const char *token, size_t len, json_t **header, json_t **claims,
                  enum nx_alg *alg, char *err, size_t errlen);

#endif
