/* Unit tests for lib/sniff (SNI, HTTP Host, answers) and lib/hostname. The ClientHellos are
 * real ones captured from `openssl s_client` (tests/data/clienthello-*.bin). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hostname.h"
#include "wire/sniff.h"
#include "core/util.h"

static unsigned char *load(const char *name, size_t *len)
{
	char path[512];
	const char *src = getenv("NEXUS_SRC");
	snprintf(path, sizeof path, "%s/tests/data/%s", src ? src : ".", name);
	char *buf;
	if (nx_read_file(path, 1 << 20, &buf, len, NULL, 0) < 0)
		fail_msg("cannot read %s (set NEXUS_SRC)", path);
	return (unsigned char *)buf;
}

static void tls_real_hello_with_sni(void **state)
{
	size_t len;
	unsigned char *h = load("clienthello-sni.bin", &len);
	struct nx_sniff s;
	assert_int_equal(nx_sniff_tls(h, len, &s), NX_SNIFF_DONE);
	assert_string_equal(s.name, "app.test");
	assert_int_equal(s.name_len, 8);
	assert_int_equal(s.tls_version, 0x0301);
	assert_int_equal(s.consumed, len);
	/* every strict prefix is "need more", never a wrong answer, and its "need" is a lower
	 * bound of the whole hello's length */
	for (size_t i = 0; i < len; i++) {
		assert_int_equal(nx_sniff_tls(h, i, &s), NX_SNIFF_NEED_MORE);
		if (i >= 5) {
			assert_true(s.need > i);
			assert_true(s.need <= len);
		}
	}
	assert_int_equal(nx_sniff_tls(h, 20, &s), NX_SNIFF_NEED_MORE);
	assert_int_equal(s.need, len); /* one record: the bound is exact */
	/* trailing bytes (the client's next record) do not matter */
	unsigned char *more = malloc(len + 10);
	memcpy(more, h, len);
	memset(more + len, 0x17, 10);
	assert_int_equal(nx_sniff_tls(more, len + 10, &s), NX_SNIFF_DONE);
	assert_int_equal(s.consumed, len);
	free(more);
	free(h);
}

static void tls_real_hello_without_sni(void **state)
{
	size_t len;
	unsigned char *h = load("clienthello-nosni.bin", &len);
	struct nx_sniff s;
	assert_int_equal(nx_sniff_tls(h, len, &s), NX_SNIFF_NO_NAME);
	assert_string_equal(s.name, "");
	free(h);
}

/* Re-frame the hello's handshake bytes into records of `chunk` bytes each. */
static unsigned char *reframe(const unsigned char *h, size_t len, size_t chunk, size_t *outlen)
{
	size_t body = len - 5, n = 0;
	unsigned char *o = malloc(body + (body / chunk + 1) * 5);
	for (size_t off = 0; off < body; off += chunk) {
		size_t l = body - off < chunk ? body - off : chunk;
		o[n++] = 0x16, o[n++] = 3, o[n++] = 1, o[n++] = (unsigned char)(l >> 8),
		o[n++] = (unsigned char)l;
		memcpy(o + n, h + 5 + off, l);
		n += l;
	}
	*outlen = n;
	return o;
}

static void tls_hello_split_over_records(void **state)
{
	size_t len, rlen;
	unsigned char *h = load("clienthello-sni.bin", &len);
	struct nx_sniff s;
	size_t chunks[] = {1, 2, 7, 100, 200};
	for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
		unsigned char *r = reframe(h, len, chunks[c], &rlen);
		assert_int_equal(nx_sniff_tls(r, rlen, &s), NX_SNIFF_DONE);
		assert_string_equal(s.name, "app.test");
		assert_int_equal(s.consumed, rlen);
		assert_int_equal(nx_sniff_tls(r, rlen - 1, &s), NX_SNIFF_NEED_MORE);
		free(r);
	}
	free(h);
}

static void tls_not_tls_and_invalid(void **state)
{
	struct nx_sniff s;
	assert_int_equal(nx_sniff_tls((const unsigned char *)"GET / HTTP/1.1\r\n", 16, &s),
	                 NX_SNIFF_NOT_THIS);
	assert_int_equal(nx_sniff_tls((const unsigned char *)"\x16", 1, &s), NX_SNIFF_NEED_MORE);
	assert_int_equal(nx_sniff_tls((const unsigned char *)"\x16\x02", 2, &s), NX_SNIFF_NOT_THIS);
	assert_int_equal(nx_sniff_tls((const unsigned char *)"SSH-2.0-x\r\n", 11, &s),
	                 NX_SNIFF_NOT_THIS);

	size_t len;
	unsigned char *h = load("clienthello-sni.bin", &len);
	unsigned char *m = malloc(len);
	/* a ServerHello where a ClientHello should be */
	memcpy(m, h, len);
	m[5] = 2;
	assert_int_equal(nx_sniff_tls(m, len, &s), NX_SNIFF_INVALID);
	assert_non_null(s.why);
	/* handshake length over 32 KiB */
	memcpy(m, h, len);
	m[6] = 1;
	assert_int_equal(nx_sniff_tls(m, len, &s), NX_SNIFF_INVALID);
	/* record length over 2^14 */
	memcpy(m, h, len);
	m[3] = 0x50;
	assert_int_equal(nx_sniff_tls(m, len, &s), NX_SNIFF_INVALID);
	/* an alert record in the middle of a split hello */
	size_t rlen;
	unsigned char *r = reframe(h, len, 50, &rlen);
	r[55] = 0x15;
	assert_int_equal(nx_sniff_tls(r, rlen, &s), NX_SNIFF_INVALID);
	free(r);
	/* session id length over 32 */
	memcpy(m, h, len);
	m[5 + 4 + 2 + 32] = 33;
	assert_int_equal(nx_sniff_tls(m, len, &s), NX_SNIFF_INVALID);
	/* the SNI name length runs past its extension: find "app.test" and bump its length */
	memcpy(m, h, len);
	unsigned char *nm = memmem(m, len, "app.test", 8);
	assert_non_null(nm);
	nm[-1] = 40;
	assert_int_equal(nx_sniff_tls(m, len, &s), NX_SNIFF_INVALID);
	free(m);
	free(h);
}

static void tls_alert_bytes(void **state)
{
	unsigned char a[7];
	assert_int_equal(nx_tls_alert(a, 0x0301, NX_TLS_ALERT_UNRECOGNIZED_NAME), 7);
	assert_memory_equal(a, "\x15\x03\x01\x00\x02\x02\x70", 7);
	nx_tls_alert(a, 0x0303, NX_TLS_ALERT_INTERNAL_ERROR);
	assert_memory_equal(a, "\x15\x03\x03\x00\x02\x02\x50", 7);
	nx_tls_alert(a, 0x9999, NX_TLS_ALERT_UNRECOGNIZED_NAME);
	assert_memory_equal(a, "\x15\x03\x01\x00\x02\x02\x70", 7);
}

static enum nx_sniff_result http(const char *s, struct nx_sniff *o)
{
	return nx_sniff_http((const unsigned char *)s, strlen(s), o);
}

static void http_host_found(void **state)
{
	struct nx_sniff s;
	assert_int_equal(http("GET / HTTP/1.1\r\nHost: App.Test:8080\r\nAccept: */*\r\n\r\n", &s),
	                 NX_SNIFF_DONE);
	assert_string_equal(s.name, "App.Test");
	assert_int_equal(s.http_minor, 1);
	assert_int_equal(http("GET / HTTP/1.0\nhOsT:\tb.test \n\n", &s), NX_SNIFF_DONE);
	assert_string_equal(s.name, "b.test");
	assert_int_equal(s.http_minor, 0);
	assert_int_equal(http("GET / HTTP/1.1\r\nHOST: [::1]:80\r\n\r\n", &s), NX_SNIFF_DONE);
	assert_string_equal(s.name, "[::1]");
	/* absolute form wins over Host */
	assert_int_equal(
	    http("GET http://abs.test:81/x?y HTTP/1.1\r\nHost: other.test\r\n\r\nBODY", &s),
	    NX_SNIFF_DONE);
	assert_string_equal(s.name, "abs.test");
	assert_int_equal(s.consumed,
	                 strlen("GET http://abs.test:81/x?y HTTP/1.1\r\nHost: other.test\r\n\r\n"));
	assert_int_equal(http("OPTIONS HTTPS://abs.test HTTP/1.1\r\n\r\n", &s), NX_SNIFF_DONE);
	assert_string_equal(s.name, "abs.test");
}

static void http_need_more_no_name_not_this(void **state)
{
	struct nx_sniff s;
	assert_int_equal(http("GE", &s), NX_SNIFF_NEED_MORE);
	assert_int_equal(http("GET / HTTP/1.1\r\nHost: a.test\r\n", &s), NX_SNIFF_NEED_MORE);
	assert_int_equal(http("GET / HTTP/1.1\r\nUser-Agent: x\r\n\r\n", &s), NX_SNIFF_NO_NAME);
	assert_int_equal(http("GET / HTTP/1.1\r\nHost:\r\n\r\n", &s), NX_SNIFF_NO_NAME);
	assert_int_equal(http("\x16\x03\x01", &s), NX_SNIFF_NOT_THIS);
	assert_int_equal(http("get / HTTP/1.1\r\n\r\n", &s), NX_SNIFF_NOT_THIS);
	assert_int_equal(http("SSH-2.0-OpenSSH\r\n", &s), NX_SNIFF_NOT_THIS);
	assert_int_equal(http("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", &s), NX_SNIFF_NOT_THIS);
	/* other line protocols that start with an upper-case word, and HTTP/0.9 */
	assert_int_equal(http("HELO mail.example\r\n", &s), NX_SNIFF_NOT_THIS);
	assert_int_equal(http("GET /\r\n\r\n", &s), NX_SNIFF_NOT_THIS);
	assert_int_equal(http("HELO mail.example", &s), NX_SNIFF_NEED_MORE);
}

static void http_invalid_heads(void **state)
{
	struct nx_sniff s;
	const char *bad[] = {
	    "GET / HTTP/1.1\r\nHost: a.test\r\nhost: b.test\r\n\r\n", /* duplicate */
	    "GET / HTTP/1.1\r\nHost: a.test\r\n folded\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost : a.test\r\n\r\n", /* space before colon */
	    "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: a.test:80x\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: user@a.test\r\n\r\n",
	    "GET / HTTP/2.0\r\nHost: a.test\r\n\r\n",
	    "GET  / HTTP/1.1\r\n\r\n",
	    "GET http://u@a.test/ HTTP/1.1\r\n\r\n",
	    "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		if (http(bad[i], &s) != NX_SNIFF_INVALID)
			fail_msg("not invalid: %s", bad[i]);
		assert_non_null(s.why);
	}
	/* a head that never ends within 64 KiB */
	size_t n = NX_SNIFF_HTTP_HEAD_MAX + 10;
	char *big = malloc(n);
	memset(big, 'a', n);
	memcpy(big, "GET / HTTP/1.1\r\nX-Big: ", 23);
	assert_int_equal(nx_sniff_http((unsigned char *)big, NX_SNIFF_HTTP_HEAD_MAX - 1, &s),
	                 NX_SNIFF_NEED_MORE);
	assert_int_equal(nx_sniff_http((unsigned char *)big, n, &s), NX_SNIFF_INVALID);
	/* a 40 KiB head is fine */
	size_t m = 40 * 1024;
	memcpy(big + m - 30, "\r\nHost: big.test\r\n\r\n", 20);
	assert_int_equal(nx_sniff_http((unsigned char *)big, m - 10, &s), NX_SNIFF_DONE);
	assert_string_equal(s.name, "big.test");
	free(big);
}

static void http_error_responses(void **state)
{
	size_t len;
	const char *r = nx_http_error_response(502, &len);
	assert_int_equal(len, strlen(r));
	assert_true(strncmp(r, "HTTP/1.1 502 Bad Gateway\r\n", 26) == 0);
	assert_non_null(strstr(r, "Connection: close\r\n"));
	/* Content-Length matches the body */
	const char *body = strstr(r, "\r\n\r\n") + 4;
	int cl = atoi(strstr(r, "Content-Length: ") + 16);
	assert_int_equal((size_t)cl, strlen(body));
	int codes[] = {400, 408, 503, 504, 999};
	for (size_t i = 0; i < 5; i++) {
		r = nx_http_error_response(codes[i], &len);
		body = strstr(r, "\r\n\r\n") + 4;
		cl = atoi(strstr(r, "Content-Length: ") + 16);
		assert_int_equal((size_t)cl, strlen(body));
	}
	assert_true(strncmp(nx_http_error_response(503, &len), "HTTP/1.1 503 Service Unavailable",
	                    32) == 0);
}

static void hostname_normalisation(void **state)
{
	char out[NX_HOSTNAME_MAX + 1], err[NX_ERRLEN];
	const char *in = "  App.Example.COM.\t";
	assert_int_equal(nx_hostname_normalize(in, strlen(in), out, sizeof out, 0, err, sizeof err), 0);
	assert_string_equal(out, "app.example.com");
	in = "*.Example.com";
	assert_int_equal(nx_hostname_normalize(in, strlen(in), out, sizeof out,
	                                       NX_HOSTNAME_WILDCARD_OK, err, sizeof err), 0);
	assert_string_equal(out, "*.example.com");
	assert_true(nx_hostname_is_wildcard(out));
	in = "xn--bcher-kva.example";
	assert_int_equal(nx_hostname_normalize(in, strlen(in), out, sizeof out, 0, err, sizeof err), 0);
	const char *bad[] = {"", " ", ".", "a..b", "a.b..", "*.com", "*.example.com", "a.*.b",
	                     "tcp:22", "UDP:53", "a b", "a/b", "[::1]", "caf\xc3\xa9.test", "*", "*."};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		unsigned fl = strcmp(bad[i], "*.example.com") ? NX_HOSTNAME_WILDCARD_OK : 0;
		if (nx_hostname_normalize(bad[i], strlen(bad[i]), out, sizeof out, fl, err,
		                          sizeof err) == 0)
			fail_msg("accepted: '%s'", bad[i]);
	}
	/* a NUL in the middle of network bytes is refused, not truncated */
	assert_int_equal(nx_hostname_normalize("a\0b", 3, out, sizeof out, 0, err, sizeof err), -1);
	char label[80];
	memset(label, 'a', 64);
	label[64] = 0;
	assert_int_equal(nx_hostname_normalize(label, 64, out, sizeof out, 0, err, sizeof err), -1);
	assert_int_equal(nx_hostname_normalize(label, 63, out, sizeof out, 0, err, sizeof err), 0);
}

static void hostname_matching(void **state)
{
	assert_true(nx_hostname_match("a.example.com", "a.example.com"));
	assert_true(nx_hostname_match("*.example.com", "a.example.com"));
	assert_false(nx_hostname_match("*.example.com", "a.b.example.com"));
	assert_false(nx_hostname_match("*.example.com", "example.com"));
	assert_false(nx_hostname_match("*.example.com", ".example.com"));
	char w[NX_HOSTNAME_MAX + 2];
	assert_int_equal(nx_hostname_wildcard_of("a.example.com", w, sizeof w), 0);
	assert_string_equal(w, "*.example.com");
	assert_int_equal(nx_hostname_wildcard_of("example.com", w, sizeof w), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(tls_real_hello_with_sni),
	    cmocka_unit_test(tls_real_hello_without_sni),
	    cmocka_unit_test(tls_hello_split_over_records),
	    cmocka_unit_test(tls_not_tls_and_invalid),
	    cmocka_unit_test(tls_alert_bytes),
	    cmocka_unit_test(http_host_found),
	    cmocka_unit_test(http_need_more_no_name_not_this),
	    cmocka_unit_test(http_invalid_heads),
	    cmocka_unit_test(http_error_responses),
	    cmocka_unit_test(hostname_normalisation),
	    cmocka_unit_test(hostname_matching),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
