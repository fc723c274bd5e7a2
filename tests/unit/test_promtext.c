/* The Prometheus text writer: families, samples, label escaping, overflow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/promtext.h"

static void families_and_samples(void **state)
{
	char buf[512];
	struct nx_prom p;
	nx_prom_init(&p, buf, sizeof buf);
	nx_prom_family(&p, "x_bytes_total", "counter", "Bytes.\nTwo lines \\ one");
	nx_prom_u64(&p, "x_bytes_total", "direction", "to_hub", 18446744073709551615ull);
	nx_prom_u64(&p, "x_bytes_total", "who", "a\"b\\c\nd", 0);
	nx_prom_family(&p, "x_up", "gauge", "Up.");
	nx_prom_u64(&p, "x_up", NULL, NULL, 1);
	const char *want = "# HELP x_bytes_total Bytes.\\nTwo lines \\\\ one\n"
	                   "# TYPE x_bytes_total counter\n"
	                   "x_bytes_total{direction=\"to_hub\"} 18446744073709551615\n"
	                   "x_bytes_total{who=\"a\\\"b\\\\c\\nd\"} 0\n"
	                   "# HELP x_up Up.\n# TYPE x_up gauge\nx_up 1\n";
	assert_string_equal(buf, want);
	assert_int_equal(nx_prom_len(&p), strlen(want));
}

static void overflow(void **state)
{
	char buf[40];
	struct nx_prom p;
	nx_prom_init(&p, buf, sizeof buf);
	nx_prom_family(&p, "a_long_metric_name_total", "counter", "A help text that is long.");
	nx_prom_u64(&p, "a", NULL, NULL, 1);
	assert_int_equal(nx_prom_len(&p), -1);
	assert_true(strlen(buf) < sizeof buf);
	nx_prom_init(&p, buf, 0);
	assert_int_equal(nx_prom_len(&p), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(families_and_samples),
		cmocka_unit_test(overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
