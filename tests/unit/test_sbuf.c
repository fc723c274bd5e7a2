/* test_sbuf.c — core/sbuf: bounded growth across blocks, always NUL-terminated, the bound
 * refuses without taking a byte, free empties. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/sbuf.h"

static void grows_and_terminates(void **state)
{
	(void)state;
	struct nx_sbuf b = {0};
	char chunk[1000];
	memset(chunk, 'x', sizeof chunk);
	for (int i = 0; i < 10; i++)
		assert_int_equal(nx_sbuf_add(&b, chunk, sizeof chunk, 20000), 0);
	assert_int_equal(b.n, 10000);
	assert_true(b.cap > b.n);
	assert_int_equal(b.p[b.n], '\0');
	assert_int_equal(strspn(b.p, "x"), 10000);
	nx_sbuf_free(&b);
	assert_null(b.p);
	assert_int_equal(b.n, 0);
}

static void the_bound_takes_nothing(void **state)
{
	(void)state;
	struct nx_sbuf b = {0};
	assert_int_equal(nx_sbuf_add(&b, "hello", 5, 8), 0);
	assert_int_equal(nx_sbuf_add(&b, "world", 5, 8), -1);
	assert_true(b.over);
	assert_int_equal(b.n, 5);
	assert_string_equal(b.p, "hello");
	assert_int_equal(nx_sbuf_add(&b, "!!!", 3, 8), 0); /* exactly the bound */
	assert_string_equal(b.p, "hello!!!");
	nx_sbuf_free(&b);
	assert_false(b.over);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(grows_and_terminates),
	    cmocka_unit_test(the_bound_takes_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
