/* keyfmt.c — key files that are not PEM: DER (SubjectPublicKeyInfo, PKCS#1, PKCS#8, SEC1,
 * X.509), JWK (RFC 7517/7518 §6: RSA, EC P-256, oct) and JWKS (a key set); and the
 * public-key formats we do not load (OpenSSH, RFC 4716, base64 DER without PEM lines),
 * recognised so they are refused instead of becoming an HMAC secret. See keys_int.h. */
#include "token/keys.h"
#include "token/keys_int.h"
#include "core/b64url.h"
#include "core/der.h"
#include "core/util.h"

#include <bearssl.h>
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef int (*der_parser)(struct nx_key *, const unsigned char *, size_t, char *, size_t);

/* 1 when buf is exactly one DER SEQUENCE (the outer shape of every key format). */
static int is_der_sequence(const unsigned char *buf, size_t len)
{
	struct nx_der in = {buf, len}, seq;
	return len >= 2 && buf[0] == NX_DER_SEQUENCE && nx_der_take(&in, NX_DER_SEQUENCE, &seq) == 0 &&
	       in.len == 0;
}

/* Try each DER key format in turn. 1 loaded, 0 none matched (err: the SPKI reason). */
static int load_der(const unsigned char *der, size_t len, struct nx_key **key, char *err,
                    size_t errlen)
{
	static const der_parser parsers[] = {nx_keyi_parse_spki, nx_keyi_parse_rsa_public,
	                                     nx_keyi_parse_private, nx_keyi_parse_certificate};
	char first[NX_ERRLEN] = "", why[NX_ERRLEN];
	for (size_t i = 0; i < sizeof parsers / sizeof parsers[0]; i++) {
		struct nx_key *k = nx_keyi_new(0);
		if (!k)
			return nx_err(err, errlen, "out of memory");
		if (parsers[i](k, der, len, why, sizeof why) == 0) {
			*key = k;
			return 1;
		}
		/* An SPKI whose algorithm we do not support says more than "malformed". */
		if (i == 0 || (strstr(why, "supported") && !strstr(first, "supported")))
			snprintf(first, sizeof first, "%s", why);
		nx_key_free(k);
	}
	nx_err(err, errlen, "%s", first);
	return 0;
}

static const char *const ssh_types[] = {
	"ssh-rsa ", "ssh-dss ", "ssh-ed25519 ", "ssh-ed448 ", "ecdsa-sha2-", "sk-ssh-",
	"sk-ecdsa-sha2-", "---- BEGIN SSH2 PUBLIC KEY", "ssh-rsa-cert-",
};

static int is_b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/' || c == '-' || c == '_' || c == '=' || c == '\n' ||
	       c == '\r' || c == ' ' || c == '\t';
}

/* 1 when buf is base64 (either alphabet, lines allowed) of a DER key: a PEM body without
 * its BEGIN/END lines. */
static int is_bare_b64_key(const char *buf, size_t len)
{
	if (len < 16 || len > 64 * 1024)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!is_b64_char((unsigned char)buf[i]))
			return 0;
	char *t = malloc(len);
	unsigned char *der = malloc(NX_B64URL_DECLEN(len));
	size_t n = 0, dlen;
	int rc = 0;
	char why[NX_ERRLEN];
	if (!t || !der)
		goto out;
	for (size_t i = 0; i < len; i++) {
		char c = buf[i];
		if (c == '+')
			c = '-';
		else if (c == '/')
			c = '_';
		else if (c == '=' || c == '\n' || c == '\r' || c == ' ' || c == '\t')
			continue;
		t[n++] = c;
	}
	if (nx_b64url_decode(t, n, der, NX_B64URL_DECLEN(len), &dlen, why, sizeof why) == 0 &&
	    is_der_sequence(der, dlen)) {
		struct nx_key *k = NULL;
		rc = load_der(der, dlen, &k, why, sizeof why) == 1;
		nx_key_free(k);
	}
out:
	if (t)
		nx_free_secret(t, len);
	if (der)
		nx_free_secret(der, NX_B64URL_DECLEN(len));
	return rc;
}

/* A base64url JWK member into buf (at most cap bytes). */
static int jwk_bytes(const json_t *jwk, const char *name, unsigned char *buf, size_t cap,
                     size_t *len, char *err, size_t errlen)
{
	const char *s = json_string_value(json_object_get(jwk, name));
	char why[NX_ERRLEN];
	if (!s)
		return nx_err(err, errlen, "JWK without \"%s\"", name);
	if (nx_b64url_decode(s, strlen(s), buf, cap, len, why, sizeof why) < 0)
		return nx_err(err, errlen, "JWK \"%s\": %s", name, why);
	return 0;
}

static int jwk_check_alg(const json_t *jwk, struct nx_key *k, char *err, size_t errlen)
{
	const json_t *a = json_object_get(jwk, "alg"), *use = json_object_get(jwk, "use");
	if (use && (!json_is_string(use) || strcmp(json_string_value(use), "sig") != 0))
		return nx_err(err, errlen, "JWK \"use\" is not \"sig\"");
	if (!a)
		return 0;
	enum nx_alg alg = nx_alg_from_name(json_string_value(a));
	if (alg == NX_ALG_NONE || !nx_key_allows_alg(k, alg)) {
		char safe[32];
		const char *an = json_is_string(a) ? json_string_value(a) : "?";
		return nx_err(err, errlen, "JWK \"alg\" '%s' not supported for this key",
		              nx_sanitize(safe, sizeof safe, an, strlen(an)));
	}
	return 0;
}

static int load_jwk(const json_t *jwk, struct nx_key **key, char *err, size_t errlen)
{
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	unsigned char a[RSA_MAX_BITS / 8 + 1], b[RSA_MAX_BITS / 8 + 1];
	size_t alen = 0, blen = 0;
	struct nx_key *k = NULL;
	int rc = -1;
	if (!json_is_object(jwk) || !kty)
		return nx_err(err, errlen, "JSON that is not a JWK (no \"kty\")");
	if (strcmp(kty, "RSA") == 0) {
		if (json_object_get(jwk, "d"))
			return nx_err(err, errlen, "JWK RSA private keys are not supported (use PEM)");
		if (jwk_bytes(jwk, "n", a, sizeof a, &alen, err, errlen) < 0 ||
		    jwk_bytes(jwk, "e", b, sizeof b, &blen, err, errlen) < 0)
			return -1;
		if (!(k = nx_keyi_new(NX_KEY_RSA)))
			return nx_err(err, errlen, "out of memory");
		rc = nx_keyi_set_rsa_public(k, a, alen, b, blen, err, errlen);
	} else if (strcmp(kty, "EC") == 0) {
		const char *crv = json_string_value(json_object_get(jwk, "crv"));
		unsigned char q[65];
		if (!crv || strcmp(crv, "P-256") != 0)
			return nx_err(err, errlen, "JWK EC key not on P-256 (only ES256 is supported)");
		if (jwk_bytes(jwk, "x", a, sizeof a, &alen, err, errlen) < 0 ||
		    jwk_bytes(jwk, "y", b, sizeof b, &blen, err, errlen) < 0)
			return -1;
		if (alen != 32 || blen != 32)
			return nx_err(err, errlen, "JWK EC \"x\"/\"y\" are not 32 bytes each");
		q[0] = 0x04;
		memcpy(q + 1, a, 32), memcpy(q + 33, b, 32);
		if (!(k = nx_keyi_new(NX_KEY_EC)))
			return nx_err(err, errlen, "out of memory");
		if (json_object_get(jwk, "d")) {
			br_ec_private_key sk = {BR_EC_secp256r1, a, 0};
			if (jwk_bytes(jwk, "d", a, sizeof a, &sk.xlen, err, errlen) < 0 || sk.xlen != 32)
				rc = sk.xlen != 32 ? nx_err(err, errlen, "JWK EC \"d\" is not 32 bytes") : -1;
			else
				rc = nx_keyi_set_ec_private(k, &sk, err, errlen);
			/* The public point must be the private key's. */
			if (rc == 0 && memcmp(k->ec_pk.q, q, 65) != 0)
				rc = nx_err(err, errlen, "JWK EC \"x\"/\"y\" do not match \"d\"");
		} else {
			rc = nx_keyi_set_ec_public(k, BR_EC_secp256r1, q, sizeof q, err, errlen);
			/* Only a point on the curve: a bad one would make every verification fail
			 * with a confusing "signature mismatch". */
			if (rc == 0 && !br_ec_get_default()->mul(q, sizeof q, (const unsigned char *)"\1",
			                                          1, BR_EC_secp256r1))
				rc = nx_err(err, errlen, "JWK EC point is not on P-256");
		}
	} else if (strcmp(kty, "oct") == 0) {
		/* A symmetric JWK is an HMAC secret by its own statement: not a confusion. */
		unsigned char *sec = malloc(64 * 1024);
		size_t slen = 0;
		if (!sec)
			return nx_err(err, errlen, "out of memory");
		if (jwk_bytes(jwk, "k", sec, 64 * 1024, &slen, err, errlen) == 0)
			rc = nx_key_from_secret(sec, slen, &k, err, errlen);
		nx_free_secret(sec, 64 * 1024);
	} else {
		char safe[32];
		rc = nx_err(err, errlen, "JWK \"kty\" '%s' not supported (RSA, EC or oct)",
		            nx_sanitize(safe, sizeof safe, kty, strlen(kty)));
	}
	nx_wipe(a, sizeof a), nx_wipe(b, sizeof b);
	if (rc == 0)
		rc = jwk_check_alg(jwk, k, err, errlen);
	const json_t *kid = json_object_get(jwk, "kid");
	if (rc == 0 && kid) {
		if (!json_is_string(kid) || json_string_length(kid) >= sizeof k->kid)
			rc = nx_err(err, errlen, "JWK \"kid\" is not a string of at most %zu bytes",
			            sizeof k->kid - 1);
		else
			snprintf(k->kid, sizeof k->kid, "%s", json_string_value(kid));
	}
	if (rc < 0) {
		nx_key_free(k);
		return -1;
	}
	*key = k;
	return 1;
}

int nx_key_from_jwk(const json_t *jwk, struct nx_key **key, char *err, size_t errlen)
{
	return load_jwk(jwk, key, err, errlen) < 0 ? -1 : 0;
}

#define JWKS_MAX 64

/* A JWKS: one key is used as it is; several become a key set, chosen per token by its
 * "kid" (nx_key_select). A set holds public keys only: a secret or private key among them
 * would be chosen by whoever writes the token header. */
static int load_jwks(const json_t *keys, struct nx_key **key, char *err, size_t errlen)
{
	size_t n = json_array_size(keys);
	if (n == 0)
		return nx_err(err, errlen, "JWKS with no keys");
	if (n > JWKS_MAX)
		return nx_err(err, errlen, "JWKS with %zu keys (at most %d)", n, JWKS_MAX);
	if (n == 1)
		return load_jwk(json_array_get(keys, 0), key, err, errlen);
	struct nx_key *head = NULL, **tail = &head;
	char e2[NX_ERRLEN];
	for (size_t i = 0; i < n; i++) {
		struct nx_key *k;
		if (load_jwk(json_array_get(keys, i), &k, e2, sizeof e2) < 0) {
			nx_err(err, errlen, "JWKS key %zu: %s", i + 1, e2);
			goto fail;
		}
		*tail = k, tail = &k->next;
		if (k->priv) {
			nx_err(err, errlen, "JWKS key %zu: a secret or private key in a key set of "
			                    "several (only public keys)", i + 1);
			goto fail;
		}
		for (struct nx_key *c = head; c != k; c = c->next)
			if (k->kid[0] && strcmp(c->kid, k->kid) == 0) {
				char safe[64];
				nx_err(err, errlen, "JWKS: two keys with kid '%s'",
				       nx_sanitize(safe, sizeof safe, k->kid, strlen(k->kid)));
				goto fail;
			}
	}
	head->nkeys = (int)n;
	*key = head;
	return 1;
fail:
	nx_key_free(head);
	return -1;
}

static int load_json(const char *buf, size_t len, struct nx_key **key, char *err,
                     size_t errlen)
{
	json_error_t je;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	int rc;
	if (!j)
		return nx_err(err, errlen, "JSON key file that does not parse (line %d: %s)",
		              je.line, je.text);
	const json_t *keys = json_object_get(j, "keys");
	if (json_is_array(keys)) {
		rc = load_jwks(keys, key, err, errlen);
	} else {
		rc = load_jwk(j, key, err, errlen);
	}
	json_decref(j);
	return rc;
}

int nx_keyi_load_other(const char *buf, size_t len, struct nx_key **key, char *err,
                       size_t errlen)
{
	*key = NULL;
	/* DER before trimming: its last byte may well be 0x0a or 0x20. */
	const unsigned char *u = (const unsigned char *)buf;
	size_t dlen = len;
	if (!is_der_sequence(u, dlen)) {
		while (dlen > 0 && isspace(u[dlen - 1]))
			dlen--;
	}
	if (is_der_sequence(u, dlen)) {
		char why[NX_ERRLEN];
		int r = load_der(u, dlen, key, why, sizeof why);
		if (r == 0)
			return nx_err(err, errlen, "DER data that is not a key we load: %s", why);
		return r;
	}
	while (len > 0 && isspace((unsigned char)buf[0]))
		buf++, len--;
	while (len > 0 && isspace((unsigned char)buf[len - 1]))
		len--;
	if (len == 0)
		return 0;
	for (size_t i = 0; i < sizeof ssh_types / sizeof ssh_types[0]; i++)
		if (memmem(buf, len, ssh_types[i], strlen(ssh_types[i])))
			return nx_err(err, errlen, "OpenSSH public keys are not supported (convert "
			                           "with 'ssh-keygen -e -m PKCS8 -f FILE')");
	if (buf[0] == '{' || buf[0] == '[')
		return load_json(buf, len, key, err, errlen);
	if (is_bare_b64_key(buf, len))
		return nx_err(err, errlen, "base64 DER key without PEM armour (add the "
		                           "-----BEGIN/END----- lines)");
	return 0;
}
