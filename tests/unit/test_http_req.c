/* Unit tests for lib/wire/http_req: the request head parser of nexus-bind serve. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "wire/http_req.h"

static struct nx_http_req r;

static int parse(const char *s) { return nx_http_req_parse(s, strlen(s), &r); }

static void get_with_fields(void **state)
{
	const char *s = "GET /v1/devices/a%2Fb?since=5 HTTP/1.1\r\nHost: x\r\n"
	                "Authorization:   Bearer abc  \r\n\r\nBODY";
	assert_int_equal(parse(s), NX_HTTP_DONE);
	assert_true(nx_http_slice_is(r.method, "GET"));
	assert_true(nx_http_slice_is(r.path, "/v1/devices/a%2Fb"));
	assert_true(nx_http_slice_is(r.query, "since=5"));
	assert_int_equal(r.minor, 1);
	assert_int_equal(r.head_len, strlen(s) - 4);
	assert_int_equal(r.nfields, 2);
	const struct nx_http_slice *a = nx_http_req_field(&r, "AUTHORIZATION");
	assert_non_null(a);
	assert_true(nx_http_slice_is(*a, "Bearer abc"));
	assert_int_equal(r.content_length, -1);
	assert_true(r.keep_alive);
	/* every strict prefix of the head needs more */
	for (size_t i = 0; i < r.head_len; i++) {
		struct nx_http_req p;
		assert_int_equal(nx_http_req_parse(s, i, &p), NX_HTTP_MORE);
	}
}

static void framing(void **state)
{
	assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n"), NX_HTTP_DONE);
	assert_int_equal(r.content_length, 12);
	assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n"),
	                 NX_HTTP_DONE);
	assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n"),
	                 NX_HTTP_INVALID);
	assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), NX_HTTP_INVALID);
	assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
	                 NX_HTTP_INVALID);
	assert_int_equal(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), NX_HTTP_DONE);
	assert_true(r.chunked);
	assert_int_equal(parse("GET / HTTP/1.0\n\n"), NX_HTTP_DONE);
	assert_false(r.keep_alive);
	assert_int_equal(parse("GET / HTTP/1.0\nConnection: Keep-Alive\n\n"), NX_HTTP_DONE);
	assert_true(r.keep_alive);
	assert_int_equal(parse("GET / HTTP/1.1\r\nConnection: te, close\r\n\r\n"), NX_HTTP_DONE);
	assert_false(r.keep_alive);
}

static void refusals(void **state)
{
	assert_int_equal(parse("GET / HTTP/2.0\r\n\r\n"), NX_HTTP_INVALID);
	assert_int_equal(r.status, 505);
	assert_int_equal(parse("GET http://x/ HTTP/1.1\r\n\r\n"), NX_HTTP_INVALID);
	assert_int_equal(parse("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"), NX_HTTP_INVALID);
	assert_int_equal(parse("GET / HTTP/1.1\r\nX : a\r\n\r\n"), NX_HTTP_INVALID);
	assert_int_equal(parse("GET / HTTP/1.1\r\nX: a\x01\r\n\r\n"), NX_HTTP_INVALID);
	assert_int_equal(parse("G\x01T / HTTP/1.1\r\n"), NX_HTTP_INVALID); /* early, no blank line */
	assert_int_equal(r.status, 400);
	static char big[NX_HTTP_HEAD_MAX + 10];
	memset(big, 'a', sizeof big);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	assert_int_equal(nx_http_req_parse(big, sizeof big, &r), NX_HTTP_INVALID);
	assert_int_equal(r.status, 431);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(get_with_fields),
	    cmocka_unit_test(framing),
	    cmocka_unit_test(refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
