/* Unit tests for nexus-vault's sealing (the AAD binds name and key version) and credential
 * JSON (checks, header lines, standard base64). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "vault/cred.h"
#include "vault/seal.h"

static const uint8_t key[NX_VAULT_KEY_BYTES] = {0x42, 1, 2, 3, 4, 5};

static void seal_round_trip_and_bindings(void **state)
{
	uint8_t *rec, *p;
	size_t rl, pl;
	char err[NX_ERRLEN];
	assert_int_equal(nx_vault_seal(key, 3, "gh", "secret", 6, &rec, &rl, err, sizeof err), 0);
	assert_int_equal(rl, NX_VAULT_OVERHEAD + 6);
	assert_memory_equal(rec, "nxv1", 4);
	assert_int_equal(nx_vault_unseal(key, 3, "gh", rec, rl, &p, &pl, err, sizeof err), 0);
	assert_int_equal(pl, 6);
	assert_string_equal((char *)p, "secret");
	nx_free_secret(p, pl + 1);
	/* the same key, another version or another name: refused */
	assert_int_equal(nx_vault_unseal(key, 4, "gh", rec, rl, &p, &pl, err, sizeof err), -1);
	assert_non_null(strstr(err, "does not authenticate"));
	assert_int_equal(nx_vault_unseal(key, 3, "gh2", rec, rl, &p, &pl, err, sizeof err), -1);
	assert_int_equal(nx_vault_unseal(key, 3, "g", rec, rl, &p, &pl, err, sizeof err), -1);
	/* every flipped bit */
	for (size_t i = 0; i < rl * 8; i++) {
		rec[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(nx_vault_unseal(key, 3, "gh", rec, rl, &p, &pl, NULL, 0), -1);
		rec[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	/* a fresh nonce per write */
	uint8_t *rec2;
	size_t rl2;
	assert_int_equal(nx_vault_seal(key, 3, "gh", "secret", 6, &rec2, &rl2, err, sizeof err), 0);
	assert_memory_not_equal(rec + 4, rec2 + 4, NX_VAULT_NONCE);
	free(rec);
	free(rec2);
}

static void key_parse(void **state)
{
	uint8_t k[NX_VAULT_KEY_BYTES];
	char err[NX_ERRLEN];
	uint8_t raw[32];
	memset(raw, 'A', sizeof raw);
	assert_int_equal(nx_vault_key_parse(raw, 32, k, err, sizeof err), 0);
	assert_memory_equal(k, raw, 32);
	const char *t = "  AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n";
	assert_int_equal(nx_vault_key_parse(t, strlen(t), k, err, sizeof err), 0);
	assert_int_equal(k[0], 0);
	assert_int_equal(k[31], 31);
	assert_int_equal(nx_vault_key_parse("short", 5, k, err, sizeof err), -1);
	assert_int_equal(nx_vault_key_parse(raw, 31, k, err, sizeof err), -1);
}

static void creds(void **state)
{
	json_t *c;
	char err[NX_ERRLEN];
	const char *b = "{\"type\":\"basic\",\"username\":\"Aladdin\",\"password\":\"open sesame\"}";
	assert_int_equal(nx_cred_parse(b, strlen(b), &c, err, sizeof err), 0);
	char *h = nx_cred_header(c);
	/* RFC 7617 section 2's example */
	assert_string_equal(h, "Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
	free(h);
	json_decref(c);
	const char *bad[] = {
	    "[]", "{\"type\":\"bearer\"}", "{\"type\":\"bearer\",\"token\":\"\"}",
	    "{\"type\":\"bearer\",\"token\":\"a\\u0000b\"}",
	    "{\"type\":\"bearer\",\"token\":\"a\\nb\"}",
	    "{\"type\":\"bearer\",\"token\":\"a\",\"token\":\"b\"}",
	    "{\"type\":\"bearer\",\"token\":\"a\",\"expires_at\":-1}",
	    "{\"type\":\"oauth\",\"access_token\":\"a\",\"token_type\":\"mac\"}",
	    "{\"type\":\"oauth\",\"access_token\":\"a\",\"scopes\":[\"a b\"]}",
	    "{\"type\":\"api_key\",\"header\":\"X:Y\",\"key\":\"k\"}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(nx_cred_parse(bad[i], strlen(bad[i]), &c, err, sizeof err), -1);
	char *s = nx_base64_std("ab", 2);
	assert_string_equal(s, "YWI=");
	free(s);
	s = nx_base64_std("\xfb\xff", 2);
	assert_string_equal(s, "+/8=");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(seal_round_trip_and_bindings),
	    cmocka_unit_test(key_parse),
	    cmocka_unit_test(creds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
