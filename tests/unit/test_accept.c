/* Unit tests for lib/core/accept.h: the per-source counts (IPv4 by address, IPv6 by /64,
 * IPv4-mapped as IPv4, entries gone at zero), the report rate, the fd reserve check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/accept.h"

/* A connected TCP pair over loopback from src (IPv4 or IPv6 text): the accepted side. */
static int accepted_from(const char *src, int *client)
{
	int v6 = strchr(src, ':') != NULL;
	int l = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	struct sockaddr_storage a = {0}, b = {0};
	socklen_t al;
	if (v6) {
		struct sockaddr_in6 *s = (void *)&a;
		s->sin6_family = AF_INET6;
		inet_pton(AF_INET6, "::1", &s->sin6_addr);
		al = sizeof *s;
	} else {
		struct sockaddr_in *s = (void *)&a;
		s->sin_family = AF_INET;
		inet_pton(AF_INET, "127.0.0.1", &s->sin_addr);
		al = sizeof *s;
	}
	if (l < 0 || bind(l, (void *)&a, al) < 0 || listen(l, 4) < 0)
		return -1;
	getsockname(l, (void *)&a, &al);
	int c = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	if (v6) {
		struct sockaddr_in6 *s = (void *)&b;
		s->sin6_family = AF_INET6;
		inet_pton(AF_INET6, src, &s->sin6_addr);
	} else {
		struct sockaddr_in *s = (void *)&b;
		s->sin_family = AF_INET;
		inet_pton(AF_INET, src, &s->sin_addr);
	}
	if (bind(c, (void *)&b, al) < 0 || connect(c, (void *)&a, al) < 0)
		return -1;
	int s = accept(l, NULL, NULL);
	close(l);
	*client = c;
	return s;
}

static void counts_per_source(void **state)
{
	struct nx_srcmap *m = nx_srcmap_new();
	struct nx_src a, b;
	int ca, cb;
	int sa = accepted_from("127.0.0.1", &ca), sb = accepted_from("127.0.0.2", &cb);
	assert_true(sa >= 0 && sb >= 0);
	assert_int_equal(nx_src_of_fd(sa, &a), 0);
	assert_int_equal(nx_src_of_fd(sb, &b), 0);
	assert_int_equal(nx_srcmap_get(m, &a), 0);
	assert_int_equal(nx_srcmap_inc(m, &a), 1);
	assert_int_equal(nx_srcmap_inc(m, &a), 2);
	assert_int_equal(nx_srcmap_inc(m, &b), 1);
	assert_int_equal(nx_srcmap_get(m, &a), 2);
	nx_srcmap_dec(m, &a);
	nx_srcmap_dec(m, &a);
	nx_srcmap_dec(m, &a); /* not counted any more: ignored */
	assert_int_equal(nx_srcmap_get(m, &a), 0);
	assert_int_equal(nx_srcmap_get(m, &b), 1);
	/* many sources, all back to zero: nothing left behind (ASan would see a leak) */
	struct nx_src k = {{4}};
	for (uint32_t i = 0; i < 5000; i++) {
		memcpy(k.b + 1, &i, 4);
		assert_int_equal(nx_srcmap_inc(m, &k), 1);
	}
	for (uint32_t i = 0; i < 5000; i++) {
		memcpy(k.b + 1, &i, 4);
		nx_srcmap_dec(m, &k);
		assert_int_equal(nx_srcmap_get(m, &k), 0);
	}
	nx_srcmap_free(m);
	close(sa), close(sb), close(ca), close(cb);
}

static void ipv6_by_slash64(void **state)
{
	/* only ::1 is on loopback; check the key layout directly on what the kernel reports */
	int c, s = accepted_from("::1", &c);
	if (s < 0)
		skip(); /* no IPv6 here */
	struct nx_src k;
	assert_int_equal(nx_src_of_fd(s, &k), 0);
	assert_int_equal(k.b[0], 6);
	uint8_t want[8] = {0};
	assert_memory_equal(k.b + 1, want, 8); /* ::1's /64 is all zero: the low bits are not in */
	for (size_t i = 9; i < sizeof k.b; i++)
		assert_int_equal(k.b[i], 0);
	close(s), close(c);
}

/* A handed-over client's address in text gives the key its socket would. */
static void text_addresses(void **state)
{
	int c, s = accepted_from("127.0.0.2", &c);
	assert_true(s >= 0);
	struct nx_src fd_key, k;
	assert_int_equal(nx_src_of_fd(s, &fd_key), 0);
	assert_int_equal(nx_src_of_text("127.0.0.2:40000", &k), 0);
	assert_memory_equal(&k, &fd_key, sizeof k);
	assert_int_equal(nx_src_of_text("127.0.0.2", &k), 0);
	assert_memory_equal(&k, &fd_key, sizeof k);
	struct nx_src a, b;
	assert_int_equal(nx_src_of_text("[2001:db8:1:2::5]:443", &a), 0);
	assert_int_equal(nx_src_of_text("2001:db8:1:2:ffff::9", &b), 0);
	assert_memory_equal(&a, &b, sizeof a); /* one /64 */
	assert_int_equal(a.b[0], 6);
	assert_int_equal(nx_src_of_text("[::ffff:127.0.0.2]:1", &a), 0);
	assert_memory_equal(&a, &fd_key, sizeof a); /* v4-mapped is the v4 address */
	const char *bad[] = {"", "-", "[2001:db8::1", "[]:80", "host.example:80", "1.2.3:4",
	                     "unix:/run/x", "[1.2.3.4.5]:1"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_int_equal(nx_src_of_text(bad[i], &k), -1);
	close(s), close(c);
}

static void not_ip_is_refused(void **state)
{
	int sv[2];
	struct nx_src k;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(nx_src_of_fd(sv[0], &k), -1);
	assert_int_equal(nx_src_of_fd(-1, &k), -1);
	close(sv[0]), close(sv[1]);
}

static void rate_reports_once_per_interval(void **state)
{
	struct nx_rate r = {0};
	assert_int_equal(nx_rate_note(&r, 1000, 1000), 1); /* the first one at once */
	for (int i = 0; i < 99; i++)
		assert_int_equal(nx_rate_note(&r, 1500, 1000), 0);
	assert_int_equal(nx_rate_note(&r, 2000, 1000), 100); /* the count since the last one */
	assert_int_equal(nx_rate_note(&r, 2999, 1000), 0);
	assert_int_equal(nx_rate_note(&r, 3000, 1000), 2);
	assert_int_equal(r.total, 103);
}

static void rate_burst_reports_the_first_few(void **state)
{
	struct nx_rate r = {0};
	for (int i = 0; i < 3; i++)
		assert_int_equal(nx_rate_note_burst(&r, 1000 + i, 1000, 3), 1); /* each one */
	for (int i = 0; i < 50; i++)
		assert_int_equal(nx_rate_note_burst(&r, 1500, 1000, 3), 0);
	assert_int_equal(nx_rate_note_burst(&r, 2000, 1000, 3), 51); /* the folded ones, and it */
	assert_int_equal(nx_rate_note_burst(&r, 2001, 1000, 3), 1);
	assert_int_equal(nx_rate_note_burst(&r, 2002, 1000, 3), 1);
	assert_int_equal(nx_rate_note_burst(&r, 2003, 1000, 3), 0);
	assert_int_equal(r.total, 57);
}

static void rates_count_each_kind_apart(void **state)
{
	static const char a[] = "a=%s", b[] = "b=%s";
	static struct nx_rates rs; /* zeroed */
	assert_int_equal(nx_rates_note(&rs, a, 1000, 1000, 1), 1);
	assert_int_equal(nx_rates_note(&rs, a, 1001, 1000, 1), 0);
	assert_int_equal(nx_rates_note(&rs, b, 1002, 1000, 1), 1); /* b has its own budget */
	assert_int_equal(nx_rates_note(&rs, a, 2000, 1000, 1), 2); /* only a's are folded */
	assert_int_equal(nx_rates_note(&rs, b, 2002, 1000, 1), 1);
	/* more kinds than slots: the last slot is shared, nothing is lost */
	char kinds[NX_RATE_KINDS + 4];
	uint64_t sum = 0;
	for (size_t i = 0; i < sizeof kinds; i++)
		sum += nx_rates_note(&rs, &kinds[i], 5000, 1000, 100);
	assert_int_equal(sum, sizeof kinds);
}

static void shortage_errors(void **state)
{
	assert_true(nx_accept_shortage(EMFILE));
	assert_true(nx_accept_shortage(ENFILE));
	assert_true(nx_accept_shortage(ENOBUFS));
	assert_true(nx_accept_shortage(ENOMEM));
	assert_false(nx_accept_shortage(EAGAIN));
	assert_false(nx_accept_shortage(ECONNABORTED));
}

static void reserve_follows_the_limit(void **state)
{
	struct rlimit old, rl;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	rl = old;
	rl.rlim_cur = 256;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	struct nx_accept_guard g;
	nx_accept_guard_init(&g, NX_ACCEPT_RESERVE_AUTO);
	assert_int_equal(g.limit, 256);
	assert_int_equal(g.reserve, 32);
	assert_false(nx_accept_guard_low(&g, 10));
	assert_false(nx_accept_guard_low(&g, 223));
	assert_true(nx_accept_guard_low(&g, 224));
	assert_true(nx_accept_guard_room(&g, 0)); /* few fds open in this test */
	nx_accept_guard_init(&g, 1000);            /* never more than half the limit */
	assert_int_equal(g.reserve, 128);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(counts_per_source),
	    cmocka_unit_test(ipv6_by_slash64),
	    cmocka_unit_test(text_addresses),
	    cmocka_unit_test(not_ip_is_refused),
	    cmocka_unit_test(rate_reports_once_per_interval),
		cmocka_unit_test(rate_burst_reports_the_first_few),
		cmocka_unit_test(rates_count_each_kind_apart),
	    cmocka_unit_test(shortage_errors),
	    cmocka_unit_test(reserve_follows_the_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
