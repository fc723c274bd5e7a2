/* Unit tests for the route table: exact and wildcard lookup, port claims, weighted round
 * robin spread and order, membership changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "wire/routes.h"

static int A, B, C;

static void exact_and_wildcard(void **state)
{
	struct nx_routes *rt = nx_routes_new();
	const char *m = NULL;
	assert_int_equal(nx_routes_add(rt, "app.test", &A, 1), 0);
	assert_int_equal(nx_routes_add(rt, "*.example.com", &B, 1), 0);
	assert_int_equal(nx_routes_add(rt, "tcp:2222", &C, 1), 0);
	assert_ptr_equal(nx_routes_pick(rt, "app.test", &m), &A);
	assert_string_equal(m, "app.test");
	assert_ptr_equal(nx_routes_pick(rt, "a.example.com", &m), &B);
	assert_string_equal(m, "*.example.com");
	assert_null(nx_routes_pick(rt, "a.b.example.com", NULL));
	assert_null(nx_routes_pick(rt, "example.com", NULL));
	assert_null(nx_routes_pick(rt, "*.example.com", NULL));
	assert_null(nx_routes_pick(rt, ".example.com", NULL));
	assert_ptr_equal(nx_routes_pick(rt, "tcp:2222", NULL), &C);
	assert_null(nx_routes_pick(rt, "tcp:2223", NULL));
	assert_null(nx_routes_pick(rt, "other.test", NULL));
	/* exact beats wildcard */
	assert_int_equal(nx_routes_add(rt, "x.example.com", &A, 1), 0);
	assert_ptr_equal(nx_routes_pick(rt, "x.example.com", NULL), &A);
	assert_ptr_equal(nx_routes_pick(rt, "y.example.com", NULL), &B);
	assert_int_equal(nx_routes_keys(rt), 4);
	nx_routes_free(rt);
}

static void weighted_round_robin(void **state)
{
	struct nx_routes *rt = nx_routes_new();
	nx_routes_add(rt, "w.test", &A, 1);
	nx_routes_add(rt, "w.test", &B, 3);
	int na = 0, nb = 0, run = 0, maxrun = 0;
	void *prev = NULL;
	for (int i = 0; i < 400; i++) {
		void *p = nx_routes_pick(rt, "w.test", NULL);
		if (p == &A)
			na++;
		else if (p == &B)
			nb++;
		run = p == prev ? run + 1 : 1;
		if (run > maxrun)
			maxrun = run;
		prev = p;
	}
	assert_int_equal(na, 100);
	assert_int_equal(nb, 300);
	assert_true(maxrun <= 3);
	/* weights 2 and 4 reduce by their gcd: same 1:2 shape */
	nx_routes_add(rt, "g.test", &A, 2);
	nx_routes_add(rt, "g.test", &B, 4);
	na = nb = 0;
	for (int i = 0; i < 30; i++)
		if (nx_routes_pick(rt, "g.test", NULL) == &A) na++; else nb++;
	assert_int_equal(na, 10);
	assert_int_equal(nb, 20);
	/* weight <= 0 counts as 1 */
	nx_routes_add(rt, "z.test", &A, 0);
	nx_routes_add(rt, "z.test", &B, -5);
	na = nb = 0;
	for (int i = 0; i < 10; i++)
		if (nx_routes_pick(rt, "z.test", NULL) == &A) na++; else nb++;
	assert_int_equal(na, 5);
	nx_routes_free(rt);
}

static void membership_changes(void **state)
{
	struct nx_routes *rt = nx_routes_new();
	nx_routes_add(rt, "a.test", &A, 1);
	nx_routes_add(rt, "a.test", &B, 1);
	nx_routes_add(rt, "b.test", &B, 1);
	nx_routes_add(rt, "*.c.test", &B, 1);
	assert_int_equal(nx_routes_count(rt, "a.test"), 2);
	nx_routes_add(rt, "a.test", &B, 5); /* re-adding updates, never duplicates */
	assert_int_equal(nx_routes_count(rt, "a.test"), 2);
	nx_routes_remove_backend(rt, &B);
	assert_int_equal(nx_routes_count(rt, "a.test"), 1);
	assert_int_equal(nx_routes_count(rt, "b.test"), 0);
	assert_null(nx_routes_pick(rt, "x.c.test", NULL));
	assert_int_equal(nx_routes_keys(rt), 1);
	for (int i = 0; i < 5; i++)
		assert_ptr_equal(nx_routes_pick(rt, "a.test", NULL), &A);
	nx_routes_remove(rt, "a.test", &A);
	nx_routes_remove(rt, "a.test", &A); /* harmless */
	assert_null(nx_routes_pick(rt, "a.test", NULL));
	assert_int_equal(nx_routes_keys(rt), 0);
	char longkey[300];
	memset(longkey, 'a', sizeof longkey - 1);
	longkey[sizeof longkey - 1] = '\0';
	assert_int_equal(nx_routes_add(rt, longkey, &A, 1), -1);
	assert_int_equal(nx_routes_add(rt, "", &A, 1), -1);
	/* many keys hashing into shared buckets */
	char k[32];
	for (int i = 0; i < 3000; i++) {
		snprintf(k, sizeof k, "h%d.test", i);
		assert_int_equal(nx_routes_add(rt, k, i % 2 ? &A : &B, 1), 0);
	}
	nx_routes_remove_backend(rt, &A);
	assert_int_equal(nx_routes_keys(rt), 1500);
	assert_ptr_equal(nx_routes_pick(rt, "h2.test", NULL), &B);
	assert_null(nx_routes_pick(rt, "h3.test", NULL));
	nx_routes_free(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(exact_and_wildcard),
	    cmocka_unit_test(weighted_round_robin),
	    cmocka_unit_test(membership_changes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
