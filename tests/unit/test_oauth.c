/* Unit tests for lib/oauth's pure parts: redirect/form parameters and the scope map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/util.h"
#include "oauth/http.h"
#include "oauth/login.h"
#include "oauth/query.h"

static int get(const char *q, const char *name, char *out, size_t cap)
{
	return nx_oauth_query_get(q, strlen(q), name, out, cap);
}

static void query_params(void **state)
{
	char v[32];
	assert_int_equal(get("code=a%2Fb+c&state=xyz&iss=http%3A%2F%2F127.0.0.1", "code", v, sizeof v), 1);
	assert_string_equal(v, "a/b c");
	assert_int_equal(get("code=1&state=xyz", "state", v, sizeof v), 1);
	assert_string_equal(v, "xyz");
	assert_int_equal(get("code=1", "state", v, sizeof v), 0);
	assert_int_equal(get("statex=1&xstate=2", "state", v, sizeof v), 0);
	assert_int_equal(get("state", "state", v, sizeof v), 1); /* present, empty */
	assert_string_equal(v, "");
	assert_int_equal(get("state=a&state=b", "state", v, sizeof v), -1); /* twice */
	assert_int_equal(get("state=%4", "state", v, sizeof v), -1);
	assert_int_equal(get("state=%zz", "state", v, sizeof v), -1);
	assert_int_equal(get("state=%00", "state", v, sizeof v), -1);
	assert_int_equal(get("state=0123456789", "state", v, 8), -1); /* too long */
	assert_int_equal(get("", "state", v, sizeof v), 0);
}

static void scope_map(void **state)
{
	const char *m = "# comment\n\nbob   devices:read\talso\n*  pairing\nalice never\n";
	char out[64], err[NX_ERRLEN];
	assert_int_equal(nx_login_scope_lookup(m, strlen(m), "bob", out, sizeof out, err, sizeof err), 1);
	assert_string_equal(out, "devices:read also");
	assert_int_equal(nx_login_scope_lookup(m, strlen(m), "alice", out, sizeof out, err, sizeof err), 1);
	assert_string_equal(out, "pairing"); /* first match wins: the '*' line */
	const char *n = "bob x\n";
	assert_int_equal(nx_login_scope_lookup(n, strlen(n), "carol", out, sizeof out, err, sizeof err), 0);
	const char *only = "carol\n";
	assert_int_equal(nx_login_scope_lookup(only, strlen(only), "carol", out, sizeof out, err, sizeof err), 1);
	assert_string_equal(out, "");
}

static void url_policy(void **state)
{
	assert_true(nx_oauth_url_ok("https://id.example.com"));
	assert_true(nx_oauth_url_ok("http://127.0.0.1:3000/x"));
	assert_true(nx_oauth_url_ok("http://localhost"));
	assert_false(nx_oauth_url_ok("http://127.0.0.1.evil.com/"));
	assert_false(nx_oauth_url_ok("http://example.com/"));
	assert_false(nx_oauth_url_ok("file:///etc/passwd"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(query_params),
	    cmocka_unit_test(scope_map),
	    cmocka_unit_test(url_policy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
