/* PROXY protocol v1/v2 headers: the examples of haproxy's proxy-protocol.txt, and the v2
 * bytes laid out by hand from its §2.2 tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "wire/proxyproto.h"

static int enc(int v, const struct nx_proxy_info *pi, uint8_t *out, size_t cap)
{
	return nx_proxy_encode((enum nx_proxy_version)v, pi, out, cap);
}

static void v1_spec_examples(void **state)
{
	uint8_t out[NX_PROXY_MAX];
	/* §2.1: "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n" */
	struct nx_proxy_info pi = {.src = "192.168.0.1:56324", .dst = "192.168.0.11:443"};
	int n = enc(NX_PROXY_V1, &pi, out, sizeof out);
	const char *want = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, strlen(want));
	/* the worst case of §2.1, 104 bytes + CRLF */
	pi.src = "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535";
	pi.dst = "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535";
	n = enc(NX_PROXY_V1, &pi, out, sizeof out);
	want = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	       "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	assert_int_equal(n, strlen(want));
	assert_true(n <= NX_PROXY_V1_MAX);
	assert_memory_equal(out, want, strlen(want));
	/* "PROXY UNKNOWN\r\n" for a source that is not an address */
	pi.src = "";
	n = enc(NX_PROXY_V1, &pi, out, sizeof out);
	assert_int_equal(n, 15);
	assert_memory_equal(out, "PROXY UNKNOWN\r\n", 15);
	pi.src = "somehost:80";
	assert_int_equal(enc(NX_PROXY_V1, &pi, out, sizeof out), 15);
	/* families that differ: unknown, not a lie */
	pi.src = "10.0.0.1:1";
	pi.dst = "[::1]:2";
	assert_int_equal(enc(NX_PROXY_V1, &pi, out, sizeof out), 15);
	/* too small a buffer */
	pi.dst = "10.0.0.2:2";
	assert_int_equal(enc(NX_PROXY_V1, &pi, out, 10), -1);
}

static void v1_as_the_tunnel_writes_it(void **state)
{
	/* no destination address known: the unspecified address, the relay port */
	uint8_t out[NX_PROXY_MAX];
	struct nx_proxy_info pi = {.src = "127.0.0.2:40000", .dst_port = 8080,
	                           .authority = "app.test", .backend = "dev"};
	int n = enc(NX_PROXY_V1, &pi, out, sizeof out);
	const char *want = "PROXY TCP4 127.0.0.2 0.0.0.0 40000 8080\r\n";
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, n);
	pi.src = "[2001:db8::7]:443";
	n = enc(NX_PROXY_V1, &pi, out, sizeof out);
	want = "PROXY TCP6 2001:db8::7 :: 443 8080\r\n";
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, n);
	/* an IPv4-mapped IPv6 address is written as IPv4 */
	pi.src = "[::ffff:198.51.100.4]:5";
	n = enc(NX_PROXY_V1, &pi, out, sizeof out);
	want = "PROXY TCP4 198.51.100.4 0.0.0.0 5 8080\r\n";
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, n);
}

static const uint8_t SIG[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

static void v2_ipv4_no_tlvs(void **state)
{
	uint8_t out[NX_PROXY_MAX];
	struct nx_proxy_info pi = {.src = "192.168.0.1:56324", .dst = "192.168.0.11:443"};
	static const uint8_t want[] = {
	    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, /* sig */
	    0x21,                   /* version 2, command PROXY */
	    0x11,                   /* AF_INET, STREAM */
	    0x00, 0x0C,             /* 12 bytes of addresses */
	    192, 168, 0, 1,         /* src */
	    192, 168, 0, 11,        /* dst */
	    0xDC, 0x04,             /* 56324 */
	    0x01, 0xBB,             /* 443 */
	};
	int n = enc(NX_PROXY_V2, &pi, out, sizeof out);
	assert_int_equal(n, sizeof want);
	assert_memory_equal(out, want, sizeof want);
	assert_int_equal(enc(NX_PROXY_V2, &pi, out, 27), -1);
}

static void v2_ipv6_with_tlvs(void **state)
{
	uint8_t out[NX_PROXY_MAX];
	struct nx_proxy_info pi = {.src = "[2001:db8::1]:1234", .dst_port = 443,
	                           .authority = "app.test",
	                           .unique_id = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0",
	                           .backend = "cam-7"};
	int n = enc(NX_PROXY_V2, &pi, out, sizeof out);
	size_t body = 36 + (3 + 8) + (3 + 36) + (3 + 5);
	assert_int_equal(n, 16 + body);
	assert_memory_equal(out, SIG, 12);
	assert_int_equal(out[12], 0x21);
	assert_int_equal(out[13], 0x21); /* AF_INET6, STREAM */
	assert_int_equal(out[14] << 8 | out[15], body);
	static const uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	static const uint8_t zero[16] = {0};
	assert_memory_equal(out + 16, src, 16);
	assert_memory_equal(out + 32, zero, 16);
	assert_int_equal(out[48] << 8 | out[49], 1234);
	assert_int_equal(out[50] << 8 | out[51], 443);
	const uint8_t *t = out + 52;
	assert_int_equal(t[0], NX_PP2_TYPE_AUTHORITY);
	assert_int_equal(t[1] << 8 | t[2], 8);
	assert_memory_equal(t + 3, "app.test", 8);
	t += 11;
	assert_int_equal(t[0], NX_PP2_TYPE_UNIQUE_ID);
	assert_int_equal(t[1] << 8 | t[2], 36);
	assert_memory_equal(t + 3, pi.unique_id, 36);
	t += 39;
	assert_int_equal(t[0], 0xE0);
	assert_int_equal(t[1] << 8 | t[2], 5);
	assert_memory_equal(t + 3, "cam-7", 5);
	assert_ptr_equal(t + 8, out + n);
	/* a port claim's route key is no authority */
	pi.authority = "tcp:2222";
	pi.unique_id = NULL;
	n = enc(NX_PROXY_V2, &pi, out, sizeof out);
	assert_int_equal(n, 16 + 36 + 3 + 5);
	assert_int_equal(out[52], 0xE0);
}

static void v2_unknown_source_is_local(void **state)
{
	uint8_t out[NX_PROXY_MAX];
	struct nx_proxy_info pi = {.src = NULL, .backend = "b"};
	int n = enc(NX_PROXY_V2, &pi, out, sizeof out);
	assert_int_equal(n, 16 + 4);
	assert_int_equal(out[12], 0x20); /* version 2, LOCAL */
	assert_int_equal(out[13], 0x00); /* UNSPEC */
	assert_int_equal(out[15], 4);
	assert_int_equal(out[16], 0xE0);
}

static void v2_limits(void **state)
{
	uint8_t out[NX_PROXY_MAX];
	char big[300];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = 0;
	struct nx_proxy_info pi = {.src = "1.2.3.4:5", .backend = big};
	assert_int_equal(enc(NX_PROXY_V2, &pi, out, sizeof out), -1);
	big[255] = 0;
	assert_true(enc(NX_PROXY_V2, &pi, out, sizeof out) > 0);
	pi.backend = NULL;
	pi.unique_id = big; /* 255 > 128 */
	assert_int_equal(enc(NX_PROXY_V2, &pi, out, sizeof out), -1);
	/* everything at its largest fits NX_PROXY_MAX */
	char id[129], auth[256];
	memset(id, 'i', 128);
	id[128] = 0;
	memset(auth, 'h', 255);
	auth[255] = 0;
	struct nx_proxy_info full = {.src = "[::1]:1", .authority = auth, .unique_id = id,
	                             .backend = auth};
	int n = enc(NX_PROXY_V2, &full, out, sizeof out);
	assert_true(n > 0 && n <= NX_PROXY_MAX);
	assert_int_equal(enc(NX_PROXY_V2, &full, out, (size_t)n - 1), -1);
	assert_int_equal(enc(NX_PROXY_NONE, &full, out, sizeof out), -1);
}

static void versions(void **state)
{
	assert_int_equal(nx_proxy_version_parse("v1"), NX_PROXY_V1);
	assert_int_equal(nx_proxy_version_parse("v2"), NX_PROXY_V2);
	assert_int_equal(nx_proxy_version_parse("none"), NX_PROXY_NONE);
	assert_int_equal(nx_proxy_version_parse("v3"), -1);
	assert_int_equal(nx_proxy_version_parse(""), -1);
	assert_string_equal(nx_proxy_version_name(NX_PROXY_V2), "v2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(v1_spec_examples),
		cmocka_unit_test(v1_as_the_tunnel_writes_it),
		cmocka_unit_test(v2_ipv4_no_tlvs),
		cmocka_unit_test(v2_ipv6_with_tlvs),
		cmocka_unit_test(v2_unknown_source_is_local),
		cmocka_unit_test(v2_limits),
		cmocka_unit_test(versions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
