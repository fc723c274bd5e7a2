/* Unit tests for pairing codes and the telemetry line parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "bind/ingest.h"
#include "bind/pairing.h"
#include "core/util.h"

static void codes_round_trip(void **state)
{
	char canon[NX_PAIR_CODE_CHARS + 1], back[NX_PAIR_CODE_CHARS + 1], shown[10],
	    err[NX_ERRLEN];
	for (int i = 0; i < 200; i++) {
		assert_int_equal(nx_pair_code_new(canon, err, sizeof err), 0);
		assert_int_equal(strlen(canon), 8);
		assert_null(strpbrk(canon, "ILOU"));
		nx_pair_code_display(canon, shown);
		assert_int_equal(shown[4], '-');
		assert_int_equal(nx_pair_code_parse(shown, strlen(shown), back, err, sizeof err), 0);
		assert_string_equal(back, canon);
	}
}

static void codes_typed_loosely(void **state)
{
	char c[NX_PAIR_CODE_CHARS + 1], err[NX_ERRLEN];
	assert_int_equal(nx_pair_code_parse("abcd efgh", 9, c, err, sizeof err), 0);
	assert_string_equal(c, "ABCDEFGH");
	assert_int_equal(nx_pair_code_parse("IlO0-1234", 9, c, err, sizeof err), 0);
	assert_string_equal(c, "11001234");
	assert_int_equal(nx_pair_code_parse("ABCD-EFGU", 9, c, err, sizeof err), -1);
	assert_non_null(strstr(err, "'U'"));
	assert_int_equal(nx_pair_code_parse("ABCD-EFG", 8, c, err, sizeof err), -1);
	assert_non_null(strstr(err, "too short"));
	assert_int_equal(nx_pair_code_parse("ABCD-EFGHJ", 10, c, err, sizeof err), -1);
	assert_non_null(strstr(err, "too long"));
	assert_int_equal(nx_pair_code_parse("ABCD\0EFGH", 9, c, err, sizeof err), -1);
}

static void code_hash_is_keyed(void **state)
{
	uint8_t k1[32] = {1}, k2[32] = {2};
	char h1[NX_PAIR_HASH_HEX], h2[NX_PAIR_HASH_HEX], h3[NX_PAIR_HASH_HEX];
	nx_pair_code_hash(k1, 32, "ABCDEFGH", h1);
	nx_pair_code_hash(k2, 32, "ABCDEFGH", h2);
	nx_pair_code_hash(k1, 32, "ABCDEFGJ", h3);
	assert_int_equal(strlen(h1), 64);
	assert_string_not_equal(h1, h2);
	assert_string_not_equal(h1, h3);
}

static void jti_shape(void **state)
{
	char a[NX_PAIR_JTI_LEN + 1], b[NX_PAIR_JTI_LEN + 1], err[NX_ERRLEN];
	assert_int_equal(nx_pair_jti_new(a, err, sizeof err), 0);
	assert_int_equal(nx_pair_jti_new(b, err, sizeof err), 0);
	assert_int_equal(strlen(a), 36);
	assert_int_equal(strspn(a, "0123456789abcdef-"), 36);
	assert_string_not_equal(a, b);
}

#define PARSE(line, path) \
	nx_ingest_parse_line(line, strlen(line), path, id, &json, &jlen, err, sizeof err)

static void ingest_lines(void **state)
{
	char id[NX_DEVICE_ID_MAX + 1], err[NX_ERRLEN];
	const char *json;
	size_t jlen;
	assert_int_equal(PARSE("{\"id\":\"d1\",\"t\":1}\r\n", NULL), NX_INGEST_OK);
	assert_string_equal(id, "d1");
	assert_int_equal(jlen, 17);
	assert_int_equal(PARSE("key7\t{\"t\":1}", "id"), NX_INGEST_OK);
	assert_string_equal(id, "key7");
	assert_memory_equal(json, "{\"t\":1}", 7);
	assert_int_equal(PARSE("key7\t{\"id\":\"inner\"}", "id"), NX_INGEST_OK);
	assert_string_equal(id, "inner");
	assert_int_equal(PARSE("{\"a\":{\"b\":99}}", "a.b"), NX_INGEST_OK);
	assert_string_equal(id, "99");
	assert_int_equal(PARSE("{\"a\":{\"b\":true}}", "a.b"), NX_INGEST_INVALID);
	assert_int_equal(PARSE("{\"a\":1}", "a.b"), NX_INGEST_INVALID);
	assert_int_equal(PARSE("[1]", NULL), NX_INGEST_INVALID);
	assert_int_equal(PARSE("\t{\"t\":1}", NULL), NX_INGEST_INVALID);
	assert_int_equal(PARSE("{\"id\":\"a b\"}", NULL), NX_INGEST_INVALID);
	assert_int_equal(PARSE("{\"id\":\"x\"} trailing", NULL), NX_INGEST_INVALID);
	assert_int_equal(PARSE("", NULL), NX_INGEST_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(codes_round_trip),  cmocka_unit_test(codes_typed_loosely),
	    cmocka_unit_test(code_hash_is_keyed), cmocka_unit_test(jti_shape),
	    cmocka_unit_test(ingest_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
