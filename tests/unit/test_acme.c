/* test_acme.c — lib/acme's pieces that need no server: the flattened JWS verifies with the
 * account key and carries jwk or kid, the CSR is well-formed DER signed by its key, the
 * answer parsers refuse what must not be used (non-http URLs, tokens that are not
 * base64url, too many authorizations), Retry-After in both forms, the renewal time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bearssl.h>
#include <cmocka.h>

#include "acme/acme.h"
#include "acme/acme_int.h"
#include "core/b64url.h"
#include "core/der.h"
#include "core/util.h"
#include "token/jws.h"

static struct nx_key *key(void)
{
	char err[NX_ERRLEN];
	struct nx_key *k;
	assert_int_equal(nx_key_generate(NX_ALG_ES256, 0, &k, err, sizeof err), 0);
	return k;
}

static void jws_flattened(void **state)
{
	(void)state;
	char err[NX_ERRLEN], thumb[NX_KID_MAX];
	struct nx_key *k = key();
	char *s = acme_jws(k, NULL, "n0nce", "https://ca.test/new-acct", "{\"a\":1}", err, sizeof err);
	assert_non_null(s);
	json_error_t je;
	json_t *o = json_loads(s, 0, &je);
	assert_non_null(o);
	assert_int_equal(json_object_size(o), 3);
	const char *p = json_string_value(json_object_get(o, "protected"));
	const char *pl = json_string_value(json_object_get(o, "payload"));
	const char *sg = json_string_value(json_object_get(o, "signature"));
	assert_non_null(p), assert_non_null(pl), assert_non_null(sg);
	char compact[4096];
	snprintf(compact, sizeof compact, "%s.%s.%s", p, pl, sg);
	json_t *hdr, *claims;
	assert_int_equal(nx_jws_verify(k, compact, strlen(compact), &hdr, &claims, err, sizeof err), 0);
	assert_string_equal(json_string_value(json_object_get(hdr, "alg")), "ES256");
	assert_string_equal(json_string_value(json_object_get(hdr, "nonce")), "n0nce");
	assert_string_equal(json_string_value(json_object_get(hdr, "url")), "https://ca.test/new-acct");
	assert_null(json_object_get(hdr, "kid"));
	/* the jwk is the key's: same thumbprint */
	struct nx_key *pub;
	assert_int_equal(nx_key_from_jwk(json_object_get(hdr, "jwk"), &pub, err, sizeof err), 0);
	char t2[NX_KID_MAX];
	nx_key_thumbprint(k, thumb, err, sizeof err);
	nx_key_thumbprint(pub, t2, err, sizeof err);
	assert_string_equal(thumb, t2);
	assert_int_equal(json_integer_value(json_object_get(claims, "a")), 1);
	json_decref(hdr), json_decref(claims), json_decref(o);
	free(s);
	nx_key_free(pub);
	/* with a kid, and POST-as-GET: empty payload, no jwk */
	s = acme_jws(k, "https://ca.test/acct/7", "n1", "https://ca.test/order/1", "", err, sizeof err);
	assert_non_null(s);
	o = json_loads(s, 0, &je);
	assert_string_equal(json_string_value(json_object_get(o, "payload")), "");
	unsigned char hb[1024];
	size_t hl;
	p = json_string_value(json_object_get(o, "protected"));
	assert_int_equal(nx_b64url_decode(p, strlen(p), hb, sizeof hb, &hl, err, sizeof err), 0);
	hdr = json_loadb((const char *)hb, hl, 0, &je);
	assert_string_equal(json_string_value(json_object_get(hdr, "kid")), "https://ca.test/acct/7");
	assert_null(json_object_get(hdr, "jwk"));
	json_decref(hdr), json_decref(o);
	free(s);
	nx_key_free(k);
}

static void csr_der(void **state)
{
	(void)state;
	char err[NX_ERRLEN];
	struct nx_key *k = key();
	const char *names[] = {"hub.test", "www.hub.test"};
	unsigned char *der;
	size_t len;
	assert_int_equal(acme_csr(k, names, 2, &der, &len, err, sizeof err), 0);
	/* SEQ { SEQ info, SEQ alg, BIT STRING sig } and nothing after */
	struct nx_der in = {der, len}, csr, info, alg, sig;
	assert_int_equal(nx_der_take(&in, NX_DER_SEQUENCE, &csr), 0);
	assert_int_equal(in.len, 0);
	const unsigned char *info_start = csr.p;
	assert_int_equal(nx_der_take(&csr, NX_DER_SEQUENCE, &info), 0);
	size_t info_len = (size_t)(csr.p - info_start);
	assert_int_equal(nx_der_take(&csr, NX_DER_SEQUENCE, &alg), 0);
	assert_int_equal(nx_der_take(&csr, NX_DER_BITSTRING, &sig), 0);
	assert_int_equal(csr.len, 0);
	/* the names are in it */
	assert_non_null(memmem(der, len, "www.hub.test", 12));
	/* the signature (DER ECDSA) verifies over the info with the key */
	unsigned char raw[64];
	assert_true(sig.len > 8 && sig.p[0] == 0);
	unsigned char asn1[80];
	memcpy(asn1, sig.p + 1, sig.len - 1);
	assert_int_equal(br_ecdsa_asn1_to_raw(asn1, sig.len - 1), 64);
	memcpy(raw, asn1, 64);
	assert_int_equal(nx_key_verify(k, NX_ALG_ES256, info_start, info_len, raw, 64, err, sizeof err), 0);
	free(der);
	assert_int_equal(acme_csr(k, names, 0, &der, &len, err, sizeof err), -1);
	nx_key_free(k);
}

#define J(s) s, sizeof s - 1

static void parsers_refuse(void **state)
{
	(void)state;
	char err[NX_ERRLEN];
	struct acme_directory d;
	assert_int_equal(acme_parse_directory(J("{\"newNonce\":\"https://a/n\",\"newAccount\":\"https://a/a\",\"newOrder\":\"https://a/o\"}"), &d, err, sizeof err), 0);
	assert_string_equal(d.new_order, "https://a/o");
	assert_int_equal(acme_parse_directory(J("{\"newNonce\":\"file:///etc/passwd\",\"newAccount\":\"https://a/a\",\"newOrder\":\"https://a/o\"}"), &d, err, sizeof err), -1);
	assert_int_equal(acme_parse_directory(J("{\"newNonce\":\"https://a/ n\",\"newAccount\":\"https://a/a\",\"newOrder\":\"https://a/o\"}"), &d, err, sizeof err), -1);
	assert_int_equal(acme_parse_directory(J("[1]"), &d, err, sizeof err), -1);
	struct acme_authz a;
	assert_int_equal(acme_parse_authz(J("{\"status\":\"pending\",\"identifier\":{\"value\":\"h\"},\"challenges\":[{\"type\":\"http-01\",\"url\":\"https://a/c\",\"token\":\"../x\"}]}"), &a, err, sizeof err), -1);
	assert_string_equal(err, "http-01 challenge with a token that is not base64url");
	assert_int_equal(acme_parse_authz(J("{\"status\":\"valid\",\"identifier\":{\"value\":\"h\"},\"challenges\":[{\"type\":\"http-01\",\"url\":\"https://a/c\",\"token\":\"abc_-1\"}]}"), &a, err, sizeof err), 0);
	assert_int_equal(a.status, ACME_ST_VALID);
	assert_string_equal(a.token, "abc_-1");
	struct acme_order o;
	assert_int_equal(acme_parse_order(J("{\"status\":\"pending\",\"finalize\":\"https://a/f\",\"authorizations\":[\"https://a/1\",\"https://a/2\",\"https://a/3\",\"https://a/4\",\"https://a/5\",\"https://a/6\",\"https://a/7\",\"https://a/8\",\"https://a/9\"]}"), &o, err, sizeof err), -1);
	assert_int_equal(acme_parse_order(J("{\"status\":\"ready\",\"finalize\":\"https://a/f\",\"authorizations\":[\"https://a/1\"]}"), &o, err, sizeof err), 0);
	assert_int_equal(o.nauthz, 1);
	struct acme_problem p;
	assert_int_equal(acme_parse_problem(J("{\"type\":\"urn:ietf:params:acme:error:badNonce\",\"detail\":\"x\\ny\"}"), &p), 0);
	assert_string_equal(p.type, "urn:ietf:params:acme:error:badNonce");
	assert_null(strchr(p.detail, '\n'));
	assert_int_equal(acme_parse_problem(J("not json"), &p), -1);
	assert_false(nx_acme_token_ok("", 0));
	assert_false(nx_acme_token_ok("a.b", 3));
}

static void retry_after_and_renewal(void **state)
{
	(void)state;
	assert_int_equal(acme_parse_retry_after("120", 0), 120);
	assert_int_equal(acme_parse_retry_after("12x", 0), -1);
	assert_int_equal(acme_parse_retry_after("", 0), -1);
	assert_int_equal(acme_parse_retry_after(NULL, 0), -1);
	/* Wed, 21 Oct 2015 07:28:00 GMT = 1445412480 */
	assert_int_equal(acme_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 - 60), 60);
	assert_int_equal(acme_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 + 60), 0);
	/* 90 days: at 60 days, minus at most 5 */
	int64_t nb = 1000000, na = nb + 90 * 86400;
	assert_int_equal(nx_acme_renew_at(nb, na, 0), nb + 60 * 86400);
	for (uint32_t r = 1; r < 4000000000u; r += 123456789u) {
		int64_t at = nx_acme_renew_at(nb, na, r);
		assert_true(at <= nb + 60 * 86400 && at >= nb + 55 * 86400);
	}
	assert_int_equal(nx_acme_renew_at(nb, nb, 7), nb);
	/* after a failure: 10 s, doubling, an hour at most; the CA's own time wins */
	unsigned failures = 0;
	int64_t want[] = {10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600, 3600};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		int64_t now = nx_unix_time(), at = nx_acme_retry_at(&failures, 0);
		assert_true(at - now >= want[i] && at - now <= want[i] + 1);
		assert_int_equal(failures, i + 1);
	}
	assert_int_equal(nx_acme_retry_at(&failures, 1234567), 1234567);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(jws_flattened),
	    cmocka_unit_test(csr_der),
	    cmocka_unit_test(parsers_refuse),
	    cmocka_unit_test(retry_after_and_renewal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
