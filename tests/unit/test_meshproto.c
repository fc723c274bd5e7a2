/* Unit tests for peer hub control messages: hello, full route sets, refusals, round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "wire/meshproto.h"

static int parse(const char *s, struct nx_mesh_msg *m, char *err)
{
	return nx_mesh_msg_parse(s, strlen(s), m, err, NX_ERRLEN);
}

static void hello(void **state)
{
	(void)state;
	struct nx_mesh_msg m;
	char err[NX_ERRLEN];
	assert_int_equal(parse("{\"type\":\"hello\",\"node\":\"hub-a\",\"x\":1}", &m, err), 0);
	assert_int_equal(m.type, NX_MESH_HELLO);
	assert_string_equal(m.node, "hub-a");
	nx_mesh_msg_free(&m);
	assert_int_equal(parse("{\"type\":\"hello\",\"node\":\"a b\"}", &m, err), -1);
	assert_string_equal(err, "hello: bad node name");
	nx_mesh_msg_free(&m);
}

static void routes_sorted_unique(void **state)
{
	(void)state;
	struct nx_mesh_msg m;
	char err[NX_ERRLEN];
	assert_int_equal(parse("{\"type\":\"routes\",\"version\":7,\"routes\":[\"B.test\",\"tcp:443\","
	                       "\"b.test.\",\"*.wild.test\"]}",
	                       &m, err),
	                 0);
	assert_int_equal(m.type, NX_MESH_ROUTES);
	assert_int_equal(m.version, 7);
	assert_int_equal(m.n_routes, 3);
	assert_string_equal(m.routes[0], "*.wild.test");
	assert_string_equal(m.routes[1], "b.test");
	assert_string_equal(m.routes[2], "tcp:443");
	char *enc = nx_mesh_routes_encode(m.version, (const char *const *)m.routes, m.n_routes, err,
	                                  sizeof err);
	assert_non_null(enc);
	struct nx_mesh_msg again;
	assert_int_equal(parse(enc, &again, err), 0);
	assert_int_equal(again.n_routes, 3);
	assert_string_equal(again.routes[2], "tcp:443");
	nx_mesh_msg_free(&again);
	free(enc);
	nx_mesh_msg_free(&m);
}

static void withdraw_all(void **state)
{
	(void)state;
	struct nx_mesh_msg m;
	char err[NX_ERRLEN];
	assert_int_equal(parse("{\"type\":\"routes\",\"version\":2,\"routes\":[]}", &m, err), 0);
	assert_int_equal(m.n_routes, 0);
	nx_mesh_msg_free(&m);
}

static void refusals(void **state)
{
	(void)state;
	static const char *bad[] = {
		"",
		"[]",
		"{\"type\":\"nope\"}",
		"{\"type\":\"routes\",\"version\":0,\"routes\":[]}",
		"{\"type\":\"routes\",\"version\":9007199254740992,\"routes\":[]}",
		"{\"type\":\"routes\",\"version\":1}",
		"{\"type\":\"routes\",\"version\":1,\"routes\":[1]}",
		"{\"type\":\"routes\",\"version\":1,\"routes\":[\"tcp:0\"]}",
		"{\"type\":\"routes\",\"version\":1,\"routes\":[\"tcp:65536\"]}",
		"{\"type\":\"routes\",\"version\":1,\"routes\":[\"tcp:044\"]}",
		"{\"type\":\"routes\",\"version\":1,\"routes\":[\"*.com\"]}",
		"{\"type\":\"routes\",\"version\":1,\"routes\":[\"a\\u0000b.test\"]}",
		"{\"type\":\"hello\",\"node\":\"a\\u0000b\"}",
		"{\"type\":\"hello\",\"type\":\"hello\",\"node\":\"a\"}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct nx_mesh_msg m;
		char err[NX_ERRLEN] = "";
		assert_int_equal(parse(bad[i], &m, err), -1);
		assert_true(err[0] != '\0');
		nx_mesh_msg_free(&m);
	}
}

static void too_many_routes(void **state)
{
	(void)state;
	size_t n = NX_MESH_MAX_ROUTES + 1;
	char *buf = malloc(n * 16 + 64);
	assert_non_null(buf);
	size_t off = (size_t)sprintf(buf, "{\"type\":\"routes\",\"version\":1,\"routes\":[");
	for (size_t i = 0; i < n; i++)
		off += (size_t)sprintf(buf + off, "%s\"h%zu.test\"", i ? "," : "", i);
	strcpy(buf + off, "]}");
	struct nx_mesh_msg m;
	char err[NX_ERRLEN];
	assert_int_equal(parse(buf, &m, err), -1);
	assert_string_equal(err, "routes: too many route keys");
	nx_mesh_msg_free(&m);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hello),
		cmocka_unit_test(routes_sorted_unique),
		cmocka_unit_test(withdraw_all),
		cmocka_unit_test(refusals),
		cmocka_unit_test(too_many_routes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
