/* Unit tests for lib/gate/gate_http: the gate's pure HTTP pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "gate/gate_http.h"

static const char body[] = "5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\nNEXT";

static void chunked_any_split(void **state)
{
	size_t n = strlen(body), want = n - 4;
	for (size_t split = 0; split <= n; split++) {
		struct nx_gate_chunked c = {0};
		size_t used;
		int rc = nx_gate_chunked_scan(&c, body, split, &used);
		size_t end = used;
		if (rc == NX_HTTP_MORE) {
			assert_int_equal(used, split);
			rc = nx_gate_chunked_scan(&c, body + split, n - split, &used);
			end = split + used;
		}
		assert_int_equal(rc, NX_HTTP_DONE);
		assert_int_equal(end, want);
	}
}

static void chunked_invalid(void **state)
{
	const char *bad[] = {"x\r\n", "5\r\nhelloXX", "5\nhello\r\n", "1234567890123456\r\n",
	                     "0\r\n\n"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct nx_gate_chunked c = {0};
		size_t used;
		assert_int_equal(nx_gate_chunked_scan(&c, bad[i], strlen(bad[i]), &used),
		                 NX_HTTP_INVALID);
	}
}

static void response_head(void **state)
{
	const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\n"
	                "Keep-Alive: timeout=5\r\nX-A: b\r\n\r\nabc";
	struct nx_gate_resp r;
	char out[512];
	assert_int_equal(nx_gate_resp_parse(s, strlen(s), &r), NX_HTTP_DONE);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.content_length, 3);
	assert_false(nx_gate_resp_close_delimited(&r, 0));
	int n = nx_gate_resp_rewrite(s, &r, 0, out, sizeof out);
	assert_true(n > 0);
	out[n] = 0;
	assert_string_equal(out, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A: b\r\n\r\n");
	const char *eof = "HTTP/1.0 200 OK\r\n\r\n";
	assert_int_equal(nx_gate_resp_parse(eof, strlen(eof), &r), NX_HTTP_DONE);
	assert_true(nx_gate_resp_close_delimited(&r, 0));
	assert_false(nx_gate_resp_close_delimited(&r, 1));
	const char *two = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n";
	assert_int_equal(nx_gate_resp_parse(two, strlen(two), &r), NX_HTTP_INVALID);
}

static void cookies_and_query(void **state)
{
	const char *c = "a=1; __Host-nx=tok.en ; b=2";
	const char *v;
	size_t vn;
	assert_true(nx_gate_cookie_get(c, strlen(c), NX_GATE_COOKIE, &v, &vn));
	assert_int_equal(vn, 6);
	assert_memory_equal(v, "tok.en", 6);
	assert_false(nx_gate_cookie_get(c, strlen(c), "__Host-nxx", &v, &vn));
	char rest[64];
	const char *code;
	size_t cl;
	const char *q = "lang=en&nx=GRANT&x=1";
	assert_int_equal(nx_gate_query_take(q, strlen(q), rest, sizeof rest, &code, &cl), 0);
	assert_string_equal(rest, "lang=en&x=1");
	assert_int_equal(cl, 5);
	assert_memory_equal(code, "GRANT", 5);
	assert_int_equal(nx_gate_query_take("nx=A", 4, rest, sizeof rest, &code, &cl), 0);
	assert_string_equal(rest, "");
}

static void request_rewrite(void **state)
{
	const char *s = "POST /x?y HTTP/1.1\r\nHost: d.test\r\nCookie: a=1; __Host-nx=T; b=2\r\n"
	                "Cookie: __Host-nx=T\r\nConnection: keep-alive\r\nX-Nexus-User: root\r\n"
	                "Content-Length: 0\r\n\r\n";
	struct nx_http_req r;
	char out[1024];
	assert_int_equal(nx_http_req_parse(s, strlen(s), &r), NX_HTTP_DONE);
	int n = nx_gate_req_rewrite(&r, 0, "alice", out, sizeof out);
	assert_true(n > 0);
	out[n] = 0;
	assert_string_equal(out, "POST /x?y HTTP/1.1\r\nHost: d.test\r\nCookie: a=1; b=2\r\n"
	                         "Content-Length: 0\r\nConnection: close\r\n"
	                         "X-Forwarded-Proto: https\r\nX-Nexus-User: alice\r\n\r\n");
	assert_int_equal(nx_gate_req_rewrite(&r, 0, "alice", out, 20), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(chunked_any_split), cmocka_unit_test(chunked_invalid),
	    cmocka_unit_test(response_head),     cmocka_unit_test(cookies_and_query),
	    cmocka_unit_test(request_rewrite),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
