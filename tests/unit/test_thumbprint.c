/* test_thumbprint.c — RFC 7638 JWK thumbprints: the RFC's own example key (§3.1), and a
 * key pair whose private and public halves give the same kid. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/util.h"
#include "token/keys.h"

static const char RFC7638_N[] =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
    "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_F"
    "DW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
    "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

static void rfc7638_example(void **state)
{
	(void)state;
	char err[NX_ERRLEN], kid[NX_KID_MAX];
	json_t *jwk = json_pack("{s:s, s:s, s:s}", "kty", "RSA", "n", RFC7638_N, "e", "AQAB");
	struct nx_key *k;
	assert_int_equal(nx_key_from_jwk(jwk, &k, err, sizeof err), 0);
	json_decref(jwk);
	assert_int_equal(nx_key_thumbprint(k, kid, err, sizeof err), 0);
	assert_string_equal(kid, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	nx_key_free(k);
}

static void private_and_public_agree(void **state)
{
	(void)state;
	char err[NX_ERRLEN], a[NX_KID_MAX], b[NX_KID_MAX];
	struct nx_key *k, *p;
	char *pem, *line;
	size_t len;
	assert_int_equal(nx_key_generate(NX_ALG_ES256, 0, &k, err, sizeof err), 0);
	assert_int_equal(nx_key_thumbprint(k, a, err, sizeof err), 0);
	assert_int_equal(strlen(a), 43);
	assert_int_equal(nx_key_public_pem(k, &pem, &len, err, sizeof err), 0);
	assert_int_equal(nx_key_load_buf(pem, len, &p, err, sizeof err), 0);
	assert_int_equal(nx_key_thumbprint(p, b, err, sizeof err), 0);
	assert_string_equal(a, b);
	assert_int_equal(nx_key_spki_base64(k, &line, err, sizeof err), 0);
	assert_null(strchr(line, '\n'));
	assert_int_equal(strncmp(line, "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE", 36), 0);
	free(line);
	free(pem);
	nx_key_free(p);
	nx_key_free(k);
	struct nx_key *h;
	assert_int_equal(nx_key_from_secret("abc", 3, &h, err, sizeof err), 0);
	assert_int_equal(nx_key_thumbprint(h, a, err, sizeof err), -1);
	nx_key_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rfc7638_example),
	    cmocka_unit_test(private_and_public_agree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
