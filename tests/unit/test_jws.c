/* Unit tests for base64url, keys, JWS and claims: the RFC 7515 Appendix A vectors, the
 * rejections the hub relies on, and round trips through our own key files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/b64url.h"
#include "token/claims.h"
#include "token/denylist.h"
#include "token/jws.h"
#include "token/keys.h"
#include "core/random.h"
#include "core/util.h"

#include "rfc7515_keys.h"

/* The payload of A.1-A.3, with its CR LF line breaks. */
static const char PAYLOAD[] =
    "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
static const char A1_KEY_B64[] =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
static const char A1_TOKEN[] =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const char A2_TOKEN[] =
    "eyJhbGciOiJSUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7"
    "AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4"
    "BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K"
    "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv"
    "hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB"
    "p0igcN_IoypGlUPQGe77Rw";
static const char A3_TOKEN[] =
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

static char err[NX_ERRLEN];

static struct nx_key *pem_key(const char *pem)
{
	struct nx_key *k;
	if (nx_key_load_buf(pem, strlen(pem), &k, err, sizeof err) < 0)
		fail_msg("load: %s", err);
	return k;
}

static struct nx_key *a1_key(void)
{
	unsigned char raw[64];
	size_t n;
	struct nx_key *k;
	assert_int_equal(nx_b64url_decode(A1_KEY_B64, strlen(A1_KEY_B64), raw, sizeof raw, &n,
	                                  err, sizeof err), 0);
	assert_int_equal(n, 64);
	assert_int_equal(nx_key_from_secret(raw, n, &k, err, sizeof err), 0);
	return k;
}

static int verify(const struct nx_key *k, const char *tok, json_t **claims)
{
	return nx_jws_verify(k, tok, strlen(tok), NULL, claims, err, sizeof err);
}

static void b64url_vectors(void **state)
{
	static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const enc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
	char out[32];
	unsigned char dec[32];
	size_t n;
	for (int i = 0; i < 7; i++) {
		assert_int_equal(nx_b64url_encode(out, plain[i], strlen(plain[i])), strlen(enc[i]));
		assert_string_equal(out, enc[i]);
		assert_int_equal(NX_B64URL_ENCLEN(strlen(plain[i])), strlen(enc[i]));
		assert_int_equal(nx_b64url_decode(enc[i], strlen(enc[i]), dec, sizeof dec, &n, err,
		                                  sizeof err), 0);
		assert_int_equal(n, strlen(plain[i]));
		assert_memory_equal(dec, plain[i], n);
	}
	unsigned char bin[] = {0xfb, 0xff, 0xfe};
	nx_b64url_encode(out, bin, 3);
	assert_string_equal(out, "-__-");
	static const char *const bad[] = {"Z", "Zh", "Zm9v=", "Zm+v", "Zm/v", "Zm 9", "Zm9vY"};
	for (int i = 0; i < 7; i++)
		assert_int_equal(nx_b64url_decode(bad[i], strlen(bad[i]), dec, sizeof dec, &n, err,
		                                  sizeof err), -1);
	assert_int_equal(nx_b64url_decode("Zm9vYmFy", 8, dec, 5, &n, err, sizeof err), -1);
}

static void rfc7515_a1_hs256_verifies(void **state)
{
	struct nx_key *k = a1_key();
	json_t *c = NULL;
	assert_int_equal(verify(k, A1_TOKEN, &c), 0);
	assert_string_equal(json_string_value(json_object_get(c, "iss")), "joe");
	assert_true(json_is_true(json_object_get(c, "http://example.com/is_root")));
	struct nx_claims_policy p = {.iss = "joe", .now = 1300819379};
	assert_int_equal(nx_claims_check(c, &p, err, sizeof err), 0);
	p.now = 1300819380;
	assert_int_equal(nx_claims_check(c, &p, err, sizeof err), -1);
	assert_string_equal(err, "token expired");
	p.leeway = 60;
	assert_int_equal(nx_claims_check(c, &p, err, sizeof err), 0);
	json_decref(c);
	/* The same bytes signed again give the same MAC. */
	char *t;
	assert_int_equal(nx_jws_sign_raw(k, "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}", PAYLOAD,
	                                 strlen(PAYLOAD), &t, err, sizeof err), 0);
	assert_string_equal(t, A1_TOKEN);
	free(t);
	nx_key_free(k);
}

static void rfc7515_a2_rs256_exact(void **state)
{
	struct nx_key *k = pem_key(A2_RSA_PEM), *pub = pem_key(A2_RSA_PUB_PEM);
	assert_int_equal(nx_key_type(k), NX_KEY_RSA);
	assert_int_equal(nx_key_bits(k), 2048);
	assert_true(nx_key_is_secret(k));
	assert_false(nx_key_is_secret(pub));
	char *t;
	assert_int_equal(nx_jws_sign_raw(k, "{\"alg\":\"RS256\"}", PAYLOAD, strlen(PAYLOAD), &t, err,
	                                 sizeof err), 0);
	assert_string_equal(t, A2_TOKEN);
	free(t);
	assert_int_equal(verify(pub, A2_TOKEN, NULL), 0);
	assert_int_equal(verify(k, A2_TOKEN, NULL), 0);
	nx_key_free(k);
	nx_key_free(pub);
}

static void rfc7515_a3_es256_verifies(void **state)
{
	struct nx_key *k = pem_key(A3_EC_PEM), *pub = pem_key(A3_EC_PUB_PEM);
	assert_int_equal(nx_key_type(pub), NX_KEY_EC);
	assert_int_equal(verify(pub, A3_TOKEN, NULL), 0);
	assert_int_equal(verify(k, A3_TOKEN, NULL), 0);
	/* ECDSA signatures differ each time; ours must verify against the RFC's public key. */
	char *t;
	assert_int_equal(nx_jws_sign_raw(k, "{\"alg\":\"ES256\"}", PAYLOAD, strlen(PAYLOAD), &t, err,
	                                 sizeof err), 0);
	assert_int_equal(strlen(strrchr(t, '.') + 1), 86); /* 64 bytes r||s */
	assert_int_equal(verify(pub, t, NULL), 0);
	free(t);
	nx_key_free(k);
	nx_key_free(pub);
}

/* Replace one character of the segment `seg` (0..2) at offset `at`. */
static char *tamper(const char *tok, int seg, size_t at)
{
	char *t = strdup(tok), *p = t;
	for (int i = 0; i < seg; i++)
		p = strchr(p, '.') + 1;
	p[at] = p[at] == 'A' ? 'B' : 'A';
	return t;
}

static void rejections(void **state)
{
	struct nx_key *hs = a1_key(), *rsapub = pem_key(A2_RSA_PUB_PEM);
	struct {
		const char *tok, *why;
	} cases[] = {
	    {"", "empty token"},
	    {"abc", "wrong segment count: 1"},
	    {"a.b", "wrong segment count: 2"},
	    {"a.b.c.d", "wrong segment count: 4"},
	    {"e$J.e30.AA", "header: bad base64url"},
	    {"e30.e30.AA", "header has no \"alg\""},
	    {"bm90IGpzb24.e30.AA", "header: bad JSON"},
	    {"WzFd.e30.AA", "header: not a JSON object"},
	    {"eyJhbGciOiJub25lIn0.e30.", "algorithm 'none' is not accepted"},
	    {"eyJhbGciOiJIUzI1NiIsImFsZyI6IkhTMjU2In0.e30.AA", "header: bad JSON"}, /* dup key */
	    {"eyJhbGciOiJQUzI1NiJ9.e30.AA", "unsupported algorithm 'PS256'"},
	    {"eyJhbGciOiJIUzI1NiIsImNyaXQiOlsiZXhwIl19.e30.AA", "\"crit\""},
	    {"eyJhbGciOiJSUzI1NiJ9.e30.AA", "algorithm RS256 does not match the key"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *c = (json_t *)1;
		assert_int_equal(verify(hs, cases[i].tok, &c), -1);
		assert_null(c);
		if (!strstr(err, cases[i].why))
			fail_msg("case %zu: '%s' does not say '%s'", i, err, cases[i].why);
	}
	/* Tampered payload, tampered signature. */
	char *t = tamper(A1_TOKEN, 1, 5);
	assert_int_equal(verify(hs, t, NULL), -1);
	assert_string_equal(err, "signature mismatch");
	free(t);
	t = tamper(A1_TOKEN, 2, 3);
	assert_int_equal(verify(hs, t, NULL), -1);
	assert_string_equal(err, "signature mismatch");
	free(t);
	/* The classic confusion: HS256 "signed" with the RSA public key file as the secret. */
	struct nx_key *confused;
	assert_int_equal(nx_key_from_secret(A2_RSA_PUB_PEM, strlen(A2_RSA_PUB_PEM), &confused, err,
	                                    sizeof err), 0);
	json_t *claims = json_pack("{s:s}", "sub", "mallory");
	assert_int_equal(nx_jws_sign(confused, NX_ALG_HS256, NULL, claims, &t, err, sizeof err), 0);
	assert_int_equal(verify(rsapub, t, NULL), -1);
	assert_non_null(strstr(err, "algorithm HS256 does not match the key (RSA-2048 public key)"));
	free(t);
	/* A public key cannot sign; an alg the key is not for cannot be asked for. */
	assert_int_equal(nx_jws_sign(rsapub, NX_ALG_RS256, NULL, claims, &t, err, sizeof err), -1);
	assert_int_equal(nx_jws_sign(hs, NX_ALG_ES256, NULL, claims, &t, err, sizeof err), -1);
	/* Over 64 KiB. */
	size_t big = NX_JWS_MAX + 1;
	char *huge = malloc(big + 1);
	memset(huge, 'A', big);
	huge[big] = 0;
	huge[10] = huge[20] = '.';
	assert_int_equal(verify(hs, huge, NULL), -1);
	assert_non_null(strstr(err, "larger than 65536"));
	free(huge);
	json_decref(claims);
	nx_key_free(confused);
	nx_key_free(hs);
	nx_key_free(rsapub);
}

static void roundtrip(enum nx_alg gen, enum nx_alg alg)
{
	struct nx_key *k, *k2, *pub = NULL;
	assert_int_equal(nx_key_generate(gen, 0, &k, err, sizeof err), 0);
	char *pem, *pubpem, *t;
	size_t len, plen;
	assert_int_equal(nx_key_private_pem(k, &pem, &len, err, sizeof err), 0);
	assert_int_equal(nx_key_load_buf(pem, len, &k2, err, sizeof err), 0);
	if (nx_key_type(k) != NX_KEY_HMAC) {
		assert_int_equal(nx_key_public_pem(k, &pubpem, &plen, err, sizeof err), 0);
		assert_int_equal(nx_key_load_buf(pubpem, plen, &pub, err, sizeof err), 0);
		assert_false(nx_key_can_sign(pub));
		free(pubpem);
	} else {
		assert_int_equal(len, gen == NX_ALG_HS256 ? 44 : gen == NX_ALG_HS384 ? 65 : 87);
		assert_int_equal(nx_key_public_pem(k, &pubpem, &plen, err, sizeof err), -1);
	}
	json_t *claims = json_pack("{s:s, s:i}", "sub", "device-1", "exp", 4102444800);
	json_t *hx = json_pack("{s:s, s:s}", "kid", "k1", "alg", "none");
	assert_int_equal(nx_jws_sign(k, alg, hx, claims, &t, err, sizeof err), 0);
	json_t *h, *c;
	assert_int_equal(nx_jws_verify(pub ? pub : k2, t, strlen(t), &h, &c, err, sizeof err), 0);
	assert_string_equal(json_string_value(json_object_get(h, "alg")), nx_alg_name(alg));
	assert_string_equal(json_string_value(json_object_get(h, "kid")), "k1");
	assert_true(json_equal(c, claims));
	json_decref(h), json_decref(c), json_decref(claims), json_decref(hx);
	free(t);
	nx_free_secret(pem, len);
	nx_key_free(k), nx_key_free(k2), nx_key_free(pub);
}

static void generated_keys_roundtrip(void **state)
{
	roundtrip(NX_ALG_HS256, NX_ALG_HS256);
	roundtrip(NX_ALG_HS384, NX_ALG_HS384);
	roundtrip(NX_ALG_HS512, NX_ALG_HS512);
	roundtrip(NX_ALG_HS256, NX_ALG_HS512);
	roundtrip(NX_ALG_ES256, NX_ALG_ES256);
	roundtrip(NX_ALG_RS256, NX_ALG_RS256);
}

static void secret_files_are_trimmed_text(void **state)
{
	struct nx_key *a, *b;
	const char f1[] = "  s3cret-text\n\n", f2[] = "s3cret-text";
	assert_int_equal(nx_key_load_buf(f1, strlen(f1), &a, err, sizeof err), 0);
	assert_int_equal(nx_key_from_secret(f2, strlen(f2), &b, err, sizeof err), 0);
	json_t *c = json_object();
	char *t;
	assert_int_equal(nx_jws_sign(a, NX_ALG_NONE, NULL, c, &t, err, sizeof err), 0);
	assert_int_equal(verify(b, t, NULL), 0);
	free(t);
	nx_key_free(a);
	assert_int_equal(nx_key_load_buf(" \n\t", 3, &a, err, sizeof err), -1);
	assert_null(a);
	json_decref(c);
	nx_key_free(b);
	/* Broken PEM is an error, not a secret. */
	const char bad[] = "-----BEGIN PUBLIC KEY-----\nnot base64!\n-----END PUBLIC KEY-----\n";
	assert_int_equal(nx_key_load_buf(bad, strlen(bad), &a, err, sizeof err), -1);
	const char enc[] = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
	assert_int_equal(nx_key_load_buf(enc, strlen(enc), &a, err, sizeof err), -1);
	assert_non_null(strstr(err, "encrypted"));
}

static void claim_checks(void **state)
{
	json_t *c = json_pack("{s:s, s:[s,s], s:i, s:i, s:i, s:s, s:s}", "iss", "authorizer", "aud",
	                      "x", "nexus", "iat", 1000, "nbf", 1000, "exp", 2000, "sub", "b1",
	                      "jti", "id-1");
	struct nx_claims_policy p = {.iss = "authorizer", .aud = "nexus", .now = 1500};
	assert_int_equal(nx_claims_check(c, &p, err, sizeof err), 0);
	p.now = 999;
	assert_int_equal(nx_claims_check(c, &p, err, sizeof err), -1);
	assert_string_equal(err, "token not yet valid (nbf is in the future)");
	p.leeway = 1;
	assert_int_equal(nx_claims_check(c, &p, err, sizeof err), 0);
	p.now = 1500, p.leeway = 0;
	p.iss = "other";
	assert_int_equal(nx_claims_check(c, &p, err, sizeof err), -1);
	assert_string_equal(err, "wrong issuer 'authorizer' (expected 'other')");
	p.iss = NULL, p.aud = "hub";
	assert_int_equal(nx_claims_check(c, &p, err, sizeof err), -1);
	assert_string_equal(err, "wrong audience (expected 'hub')");
	p.aud = NULL;
	const char *req[] = {"sub", "hostnames", NULL};
	p.required = req;
	assert_int_equal(nx_claims_check(c, &p, err, sizeof err), -1);
	assert_string_equal(err, "missing required claim 'hostnames'");
	p.required = NULL;
	p.max_age = 100;
	assert_int_equal(nx_claims_check(c, &p, err, sizeof err), -1);
	assert_non_null(strstr(err, "too old"));
	p.max_age = 0;
	char dl[] = "/tmp/nexus-test-denyXXXXXX";
	int fd = mkstemp(dl);
	close(fd);
	p.deny_list = dl;
	assert_int_equal(nx_claims_check(c, &p, err, sizeof err), 0);
	assert_int_equal(nx_denylist_add(dl, "id-1", "test", err, sizeof err), 0);
	assert_int_equal(nx_claims_check(c, &p, err, sizeof err), -1);
	assert_string_equal(err, "token revoked (jti 'id-1')");
	unlink(dl);
	json_object_set_new(c, "exp", json_string("soon"));
	assert_int_equal(nx_claims_check(c, NULL, err, sizeof err), -1);
	assert_string_equal(err, "claim 'exp' is not a number");
	json_object_set_new(c, "exp", json_integer(4102444800));
	json_object_set_new(c, "iat", json_integer(4102444000));
	assert_int_equal(nx_claims_check(c, NULL, err, sizeof err), -1);
	assert_string_equal(err, "token issued in the future (iat)");
	/* iat_skew: a clock a little ahead is fine, far ahead is not, leeway adds to it */
	struct nx_claims_policy sk = {.now = 4102444000 - 60, .iat_skew = 60};
	assert_int_equal(nx_claims_check(c, &sk, err, sizeof err), 0);
	sk.now -= 1;
	assert_int_equal(nx_claims_check(c, &sk, err, sizeof err), -1);
	assert_string_equal(err, "token issued in the future (iat)");
	sk.leeway = 1;
	assert_int_equal(nx_claims_check(c, &sk, err, sizeof err), 0);
	json_decref(c);
}

static void randomness(void **state)
{
	char a[NX_NONCE_LEN + 1], b[NX_NONCE_LEN + 1], u[NX_UUID_TEXT_LEN + 1];
	unsigned char raw[16];
	assert_int_equal(nx_random_nonce(a, err, sizeof err), 0);
	assert_int_equal(nx_random_nonce(b, err, sizeof err), 0);
	assert_int_equal(strlen(a), 43);
	assert_string_not_equal(a, b);
	assert_int_equal(nx_random_uuid4(raw, u, err, sizeof err), 0);
	assert_int_equal(strlen(u), 36);
	assert_int_equal(u[14], '4');
	assert_true(strchr("89ab", u[19]) != NULL);
	assert_int_equal(raw[6] >> 4, 4);
	static unsigned char big[200000]; /* crosses the reseed interval */
	assert_int_equal(nx_random_bytes(big, sizeof big, err, sizeof err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(b64url_vectors),
	    cmocka_unit_test(rfc7515_a1_hs256_verifies),
	    cmocka_unit_test(rfc7515_a2_rs256_exact),
	    cmocka_unit_test(rfc7515_a3_es256_verifies),
	    cmocka_unit_test(rejections),
	    cmocka_unit_test(generated_keys_roundtrip),
	    cmocka_unit_test(secret_files_are_trimmed_text),
	    cmocka_unit_test(claim_checks),
	    cmocka_unit_test(randomness),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
