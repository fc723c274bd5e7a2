/* test_backends.c — the --backends file parser (backends.h) and grant checks: a file with
 * inline and path keys, the errors each name their line, and what a grant lets through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/util.h"
#include "hub/backends.h"

#define SPKI "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAExWqZWHtYoKXAfCwdoQyAiNHJfArC/pfnoaMHRWqM++MT6k36I69QivyOxqZfS/UR6XxXk2U6MBtQogtbk0S0zQ=="

static void parses_lines(void **state)
{
	(void)state;
	const char *f = "# comment\n\n  \t\n"
	                "edge-1 " SPKI " host=App.Test.,*.dev.test host=b.test tcp=2222,2223 weight=3\n"
	                "edge-2\t./k/edge-2.pub\tudp=53 streams=7\r\n";
	struct nx_backends *b;
	char err[NX_ERRLEN];
	assert_int_equal(nx_backends_parse(f, strlen(f), &b, err, sizeof err), 0);
	assert_int_equal(b->n, 2);
	assert_string_equal(b->v[0].name, "edge-1");
	assert_non_null(b->v[0].key);
	assert_null(b->v[0].key_path);
	assert_int_equal(b->v[0].n_hosts, 3);
	assert_string_equal(b->v[0].hosts[0], "app.test");
	assert_string_equal(b->v[0].hosts[1], "*.dev.test");
	assert_int_equal(b->v[0].n_tcp, 2);
	assert_int_equal(b->v[0].max_weight, 3);
	assert_int_equal(b->v[0].line, 4);
	assert_string_equal(b->v[1].key_path, "./k/edge-2.pub");
	assert_int_equal(b->v[1].max_streams, 7);
	assert_int_equal(b->v[1].n_udp, 1);
	/* the grant: exact names, one label under a wildcard, the wildcard itself */
	char *h1[] = {"app.test", "x.dev.test", "*.dev.test"};
	uint16_t p1[] = {2223};
	struct nx_route_claims c = {.hostnames = h1, .n_hostnames = 3, .tcp_ports = p1,
	                            .n_tcp_ports = 1, .weight = 3};
	assert_int_equal(nx_backend_grant_check(&b->v[0], &c, err, sizeof err), 0);
	char *h2[] = {"dev.test"};
	c.hostnames = h2, c.n_hostnames = 1;
	assert_int_equal(nx_backend_grant_check(&b->v[0], &c, err, sizeof err), -1);
	assert_string_equal(err, "hostname dev.test is not granted to this key");
	char *h3[] = {"a.b.dev.test"};
	c.hostnames = h3;
	assert_int_equal(nx_backend_grant_check(&b->v[0], &c, err, sizeof err), -1);
	c.n_hostnames = 0;
	c.weight = 4;
	assert_int_equal(nx_backend_grant_check(&b->v[0], &c, err, sizeof err), -1);
	assert_non_null(strstr(err, "weight 4"));
	nx_backends_free(b);
}

static void errors_name_the_line(void **state)
{
	(void)state;
	static const struct {
		const char *file, *want;
	} cases[] = {
	    {"edge-1\n", "line 1: want NAME KEY"},
	    {"\nedge-1 ./k\n", "line 2: backend edge-1 is granted nothing"},
	    {"edge-1 ./k host=*.com\n", "line 1: host=:"},
	    {"edge-1 ./k color=red\n", "line 1: unknown grant 'color'"},
	    {"edge-1 ./k host=a.test weight=1 weight=2\n", "line 1: weight= given twice"},
	    {"edge-1 ./k tcp=0\n", "line 1:"},
	    {"edge-1 ./k tcp=1,\n", "line 1: bad port list"},
	    {"ed/ge ./k host=a.test\n", "line 1: bad backend name"},
	    {"a ./k host=a.test\na ./j host=b.test\n", "line 2: backend a already on line 1"},
	    {"a QUJD host=a.test\n", "line 1: inline key"},
	    {"a MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE host=a.test\n", "line 1: inline key"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct nx_backends *b = (void *)1;
		char err[NX_ERRLEN] = "";
		assert_int_equal(nx_backends_parse(cases[i].file, strlen(cases[i].file), &b, err, sizeof err), -1);
		assert_null(b);
		if (strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg("%s: got '%s', want '%s...'", cases[i].file, err, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parses_lines),
	    cmocka_unit_test(errors_name_the_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
