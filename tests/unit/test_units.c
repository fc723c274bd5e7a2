/* Unit tests for the duration, size and integer parsers every option goes through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/units.h"
#include "core/util.h"

static void durations(void **state)
{
	uint64_t ms;
	char err[NX_ERRLEN];
	assert_int_equal(nx_parse_duration("30s", &ms, err, sizeof err), 0);
	assert_int_equal(ms, 30000);
	assert_int_equal(nx_parse_duration("5m", &ms, err, sizeof err), 0);
	assert_int_equal(ms, 300000);
	assert_int_equal(nx_parse_duration("1h30m", &ms, err, sizeof err), 0);
	assert_int_equal(ms, 5400000);
	assert_int_equal(nx_parse_duration("250ms", &ms, err, sizeof err), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(nx_parse_duration("45", &ms, err, sizeof err), 0);
	assert_int_equal(ms, 45000);
	assert_int_equal(nx_parse_duration("", &ms, err, sizeof err), -1);
	assert_int_equal(nx_parse_duration("5x", &ms, err, sizeof err), -1);
	assert_non_null(strstr(err, "bad duration"));
	assert_int_equal(nx_parse_duration("-5s", &ms, err, sizeof err), -1);
	assert_int_equal(nx_parse_duration("1h5", &ms, err, sizeof err), -1);
	assert_int_equal(nx_parse_duration("99999999999999999999s", &ms, err, sizeof err), -1);
}

static void sizes(void **state)
{
	uint64_t b;
	char err[NX_ERRLEN];
	assert_int_equal(nx_parse_size("64KiB", &b, err, sizeof err), 0);
	assert_int_equal(b, 65536);
	assert_int_equal(nx_parse_size("64K", &b, err, sizeof err), 0);
	assert_int_equal(b, 65536);
	assert_int_equal(nx_parse_size("10kB", &b, err, sizeof err), 0);
	assert_int_equal(b, 10000);
	assert_int_equal(nx_parse_size("1MiB", &b, err, sizeof err), 0);
	assert_int_equal(b, 1048576);
	assert_int_equal(nx_parse_size("12", &b, err, sizeof err), 0);
	assert_int_equal(b, 12);
	assert_int_equal(nx_parse_size("1TiB", &b, err, sizeof err), -1);
	assert_int_equal(nx_parse_size("KiB", &b, err, sizeof err), -1);
	assert_int_equal(nx_parse_size("99999999999GiB", &b, err, sizeof err), -1);
}

static void integers(void **state)
{
	long long v;
	char err[NX_ERRLEN];
	assert_int_equal(nx_parse_int("443", 1, 65535, &v, err, sizeof err), 0);
	assert_int_equal(v, 443);
	assert_int_equal(nx_parse_int("0", 1, 65535, &v, err, sizeof err), -1);
	assert_non_null(strstr(err, "out of range"));
	assert_int_equal(nx_parse_int("-3", 1, 65535, &v, err, sizeof err), -1);
	assert_int_equal(nx_parse_int("12a", 1, 65535, &v, err, sizeof err), -1);
	assert_int_equal(nx_parse_int("", 1, 65535, &v, err, sizeof err), -1);
	assert_int_equal(nx_parse_int("-3", -5, 5, &v, err, sizeof err), 0);
	assert_int_equal(v, -3);
}

static void format(void **state)
{
	char buf[32];
	assert_string_equal(nx_fmt_duration(buf, sizeof buf, 5400000), "1h30m");
	assert_string_equal(nx_fmt_duration(buf, sizeof buf, 250), "250ms");
	assert_string_equal(nx_fmt_duration(buf, sizeof buf, 0), "0s");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(durations),
		cmocka_unit_test(sizes),
		cmocka_unit_test(integers),
		cmocka_unit_test(format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
