/* Unit tests for the hub's byte queue (hub_int.h): random appends and partial consumes
 * against a reference copy, and memory given back once a burst has drained. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "hub/hub_int.h"

static void matches_reference(void **state)
{
	struct hub_buf b = {0};
	static uint8_t ref[1 << 22];
	size_t head = 0, tail = 0;
	uint8_t chunk[40000];
	srand(7);
	for (int round = 0; round < 5000; round++) {
		size_t n = (size_t)rand() % sizeof chunk;
		if (tail + n > sizeof ref)
			break;
		for (size_t i = 0; i < n; i++)
			chunk[i] = (uint8_t)rand();
		assert_int_equal(hub_buf_append(&b, chunk, n), 0);
		memcpy(ref + tail, chunk, n);
		tail += n;
		size_t take = (size_t)rand() % (hub_buf_pending(&b) + 1);
		assert_memory_equal(b.p + b.off, ref + head, hub_buf_pending(&b));
		hub_buf_consume(&b, take);
		head += take;
		assert_int_equal(hub_buf_pending(&b), tail - head);
		/* the queue never needs much more than twice what is pending plus one append */
		assert_true(b.cap <= 2 * (hub_buf_pending(&b) + sizeof chunk) + 16384 ||
		            b.cap <= 4 * 262144);
	}
	hub_buf_free(&b);
}

static void gives_memory_back(void **state)
{
	struct hub_buf b = {0};
	static uint8_t big[1 << 20];
	assert_int_equal(hub_buf_append(&b, big, sizeof big), 0);
	assert_true(b.cap >= sizeof big);
	hub_buf_consume(&b, sizeof big);
	assert_int_equal(hub_buf_pending(&b), 0);
	assert_int_equal(b.cap, 0);
	assert_int_equal(hub_buf_append(&b, "x", 1), 0);
	assert_int_equal(hub_buf_pending(&b), 1);
	hub_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(matches_reference),
	    cmocka_unit_test(gives_memory_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
