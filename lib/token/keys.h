/* keys.h — signing keys for JWS: HMAC secrets, RSA and EC P-256 keys (BearSSL).
 *
 * Loading accepts, by PEM label:
 *   "RSA PRIVATE KEY" (PKCS#1), "EC PRIVATE KEY" (SEC1), "PRIVATE KEY" (PKCS#8, RSA or EC),
 *   "PUBLIC KEY" (SubjectPublicKeyInfo, RSA or EC), "RSA PUBLIC KEY" (PKCS#1),
 *   "CERTIFICATE" (X.509: its public key is used, the certificate is not validated).
 * "EC PARAMETERS" blocks (openssl ecparam -genkey) are skipped. Encrypted keys are refused.
 * Without PEM lines: DER of the same structures (SubjectPublicKeyInfo, PKCS#1, PKCS#8,
 * SEC1, X.509); a JWK (RFC 7517: kty RSA or EC P-256 public, EC private, oct; "alg" and
 * "use" are checked when present); a JWKS: one key is that key, several (public keys only,
 * at most 64, distinct kids) a key set that nx_jws_verify picks from by the token's "kid"
 * (nx_key_select); a set cannot sign.
 * Refused, never taken for a secret: OpenSSH / RFC 4716 public keys, a PEM body without
 * its BEGIN/END lines, JSON that is not a usable JWK, DER that is not a key, any other PEM.
 * Anything else is an HMAC secret: the content with leading and trailing whitespace
 * removed, used as bytes, never decoded (the Nexus Proxy `hmacSecretFile` convention,
 * shared/protocol.md §2). So a public key is never used as an HMAC secret (algorithm
 * confusion: whoever has the public key could sign HS256 tokens).
 *
 * EC keys must be on P-256 (ES256); RSA keys 1024 to 4096 bits (2048 or more advised).
 * Key material lives in the key object and is wiped by nx_key_free(). No function here
 * ever puts a secret into an error message. */
#ifndef NEXUS_KEYS_H
#define NEXUS_KEYS_H
#include <jansson.h>
#include <stddef.h>

/* JWS algorithms we implement (RFC 7518 §3.1 names). NX_ALG_NONE is never accepted. */
enum nx_alg {
	NX_ALG_NONE = 0,
	NX_ALG_HS256,
	NX_ALG_HS384,
	NX_ALG_HS512,
	NX_ALG_RS256,
	NX_ALG_ES256,
};

/* "HS256" ... for an algorithm; NULL for NX_ALG_NONE or an unknown value. */
const char *nx_alg_name(enum nx_alg alg);
/* The algorithm called `name` (exact, case-sensitive as RFC 7515 says); NX_ALG_NONE when
 * unknown or "none". */
enum nx_alg nx_alg_from_name(const char *name);

enum nx_key_type { NX_KEY_HMAC = 1, NX_KEY_RSA = 2, NX_KEY_EC = 3 };

struct nx_key; /* opaque */

/* Load a key file (PEM as above, or an HMAC secret). At most 1 MiB is read.
 * Permissions are not checked here: a command warns with nx_file_is_loose() (util.h)
 * when nx_key_is_secret() is true. */
int nx_key_load_file(const char *path, struct nx_key **key, char *err, size_t errlen);

/* The same from a buffer (a file's content). */
int nx_key_load_buf(const void *buf, size_t len, struct nx_key **key, char *err,
                    size_t errlen);

/* An HMAC key from raw bytes, used as given (no trimming). Empty secrets are refused. */
int nx_key_from_secret(const void *secret, size_t len, struct nx_key **key, char *err,
                       size_t errlen);

/* One JWK (RFC 7517) as a key: RSA and EC P-256 public keys, EC private keys, "oct"
 * secrets; its "use" and "alg", when present, must fit the key. */
int nx_key_from_jwk(const json_t *jwk, struct nx_key **key, char *err, size_t errlen);

/* Wipe and free; NULL is fine. */
void nx_key_free(struct nx_key *key);

enum nx_key_type nx_key_type(const struct nx_key *key);
/* 1 for an HMAC secret or a private key (something that must not be world-readable). */
int nx_key_is_secret(const struct nx_key *key);
/* 1 if this key can produce signatures (HMAC or private key). */
int nx_key_can_sign(const struct nx_key *key);
/* RSA modulus bits, 256 for P-256, secret length * 8 for HMAC. */
unsigned nx_key_bits(const struct nx_key *key);
/* "HMAC secret (32 bytes)", "RSA-2048 private key", "EC P-256 public key", ... */
const char *nx_key_describe(const struct nx_key *key, char *buf, size_t n);

/* The key of a set (a JWKS) that verifies a token with header "kid" `kid` (NULL: none) and
 * `alg`: the key with that kid; without a kid, the one key allowing alg. A single key is
 * returned as is. NULL with err when there is no such key or, without a kid, several. */
const struct nx_key *nx_key_select(const struct nx_key *key, const char *kid,
                                   enum nx_alg alg, char *err, size_t errlen);

/* 1 if `alg` is one this key is for: HMAC keys HS256/HS384/HS512, RSA keys RS256, EC P-256
 * keys ES256. Everything else (none, HS* with an RSA key, ...) is 0. */
int nx_key_allows_alg(const struct nx_key *key, enum nx_alg alg);
/* HS256, RS256 or ES256. */
enum nx_alg nx_key_default_alg(const struct nx_key *key);

/* Generate a key for `alg`: HS256/384/512 → 32/48/64 random bytes (kept as their
 * base64url text, which is the secret, see nx_key_private_pem); RS256 → RSA of rsa_bits
 * (0 = 2048) with e = 65537; ES256 → P-256. */
int nx_key_generate(enum nx_alg alg, unsigned rsa_bits, struct nx_key **key, char *err,
                    size_t errlen);

/* The secret as a file holds it, malloc'd and NUL-terminated, *len without the NUL:
 * HMAC → the secret bytes plus "\n"; RSA → PEM "RSA PRIVATE KEY" (PKCS#1);
 * EC → PEM "EC PRIVATE KEY" (SEC1). Free with nx_free_secret(*out, *len). */
int nx_key_private_pem(const struct nx_key *key, char **out, size_t *len, char *err,
                       size_t errlen);
/* PEM "PUBLIC KEY" (SubjectPublicKeyInfo) for RSA and EC keys; HMAC keys have none. */
int nx_key_public_pem(const struct nx_key *key, char **out, size_t *len, char *err,
                      size_t errlen);
/* Write them atomically: private with mode 0600, public with 0644. */
int nx_key_write_private(const struct nx_key *key, const char *path, char *err,
                         size_t errlen);
int nx_key_write_public(const struct nx_key *key, const char *path, char *err,
                        size_t errlen);

/* Raw JWS signatures over `data` (the signing input "header.payload"):
 * HS* → the HMAC, RS256 → PKCS#1 v1.5 with SHA-256, ES256 → 64 bytes r||s (RFC 7518 §3.4).
 * The key must allow `alg`. sig needs NX_SIG_MAX bytes. */
#define NX_SIG_MAX 512
int nx_key_sign(const struct nx_key *key, enum nx_alg alg, const void *data, size_t len,
                unsigned char *sig, size_t *siglen, char *err, size_t errlen);
/* 0 when `sig` is a valid signature of `data` under `key` for `alg`, else -1 with a reason
 * ("signature mismatch", "algorithm RS256 does not match an HMAC key", ...). HMAC
 * comparison is constant-time. */
int nx_key_verify(const struct nx_key *key, enum nx_alg alg, const void *data, size_t len,
                  const unsigned char *sig, size_t siglen, char *err, size_t errlen);

/* The RFC 7638 JWK thumbprint of an RSA or EC key (public or private): base64url of the
 * SHA-256 of its canonical JWK, 43 characters. A backend's token carries it as "kid" and
 * the hub's --backends file is looked up by it. HMAC secrets have none (-1). */
#define NX_KID_MAX 44
int nx_key_thumbprint(const struct nx_key *key, char out[NX_KID_MAX], char *err,
                      size_t errlen);
/* The public half as the canonical JWK the thumbprint is taken over (RFC 7638 §3.2: required
 * members only, sorted, no white space), e.g. for an ACME "jwk" header. 1400 bytes fit any
 * key we load. */
int nx_key_public_jwk(const struct nx_key *key, char *json, size_t n, char *err,
                      size_t errlen);
/* The SubjectPublicKeyInfo as one line of standard base64 (the PEM body, joined): how a
 * backends file line carries a key inline. malloc'd; free() it. */
int nx_key_spki_base64(const struct nx_key *key, char **out, char *err, size_t errlen);

#endif
