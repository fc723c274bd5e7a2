/* Unit tests for the remote verifier's answer (hub/verify_answer.h): the two good shapes,
 * and what is refused as not an answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "hub/verify_answer.h"

static int parse(const char *s, json_t **claims, char *why, size_t n)
{
	return nx_verify_answer_parse(s, strlen(s), claims, why, n);
}

static void valid_gives_the_claims(void **state)
{
	json_t *c;
	char why[256];
	assert_int_equal(parse("{\"valid\":true,\"claims\":{\"sub\":\"edge-1\"},\"x\":1}", &c, why,
	                       sizeof why),
	                 NX_VERIFY_VALID);
	assert_string_equal(json_string_value(json_object_get(c, "sub")), "edge-1");
	json_decref(c);
}

static void invalid_gives_a_clean_reason(void **state)
{
	json_t *c;
	char why[256];
	assert_int_equal(parse("{\"valid\":false,\"error\":\"revoked\\n\\u0007 by ops\"}", &c, why,
	                       sizeof why),
	                 NX_VERIFY_INVALID);
	assert_null(c);
	assert_string_equal(why, "revoked?? by ops");
	assert_int_equal(parse("{\"valid\":false}", &c, why, sizeof why), NX_VERIFY_INVALID);
	assert_string_equal(why, "no reason given");
	char longer[400] = "{\"valid\":false,\"error\":\"";
	memset(longer + strlen(longer), 'e', 200);
	strcat(longer, "\"}");
	assert_int_equal(parse(longer, &c, why, sizeof why), NX_VERIFY_INVALID);
	assert_int_equal(strlen(why), NX_VERIFY_ERROR_MAX);
}

static void not_answers(void **state)
{
	static const char *const bad[] = {
	    "", "not json", "[]", "{}", "{\"valid\":\"true\",\"claims\":{}}", "{\"valid\":1}",
	    "{\"valid\":true}", "{\"valid\":true,\"claims\":[]}", "{\"valid\":true,\"claims\":null}",
	    "{\"valid\":true,\"valid\":false,\"claims\":{}}", /* duplicate members */
	    "{\"valid\":true,\"claims\":{}} trailing",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		json_t *c = (json_t *)1;
		char why[256] = "";
		assert_int_equal(parse(bad[i], &c, why, sizeof why), NX_VERIFY_BAD);
		assert_null(c);
		assert_true(why[0] != '\0');
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(valid_gives_the_claims),
	    cmocka_unit_test(invalid_gives_a_clean_reason),
	    cmocka_unit_test(not_answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
