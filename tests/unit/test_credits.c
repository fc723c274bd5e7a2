/* Unit tests for per-stream credits: unlimited before the first grant, one per frame after,
 * clamping, pause/resume, batched returns, overrun detection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wire/credits.h"

static void towards_backend(void **state)
{
	struct nx_credits c;
	nx_credits_init(&c);
	for (int i = 0; i < 1000; i++) { /* no grant yet: no limit */
		assert_true(nx_credits_can_send(&c));
		nx_credits_sent(&c);
	}
	nx_credits_grant(&c, 3);
	for (int i = 0; i < 3; i++) {
		assert_true(nx_credits_can_send(&c));
		nx_credits_sent(&c);
	}
	assert_false(nx_credits_can_send(&c));
	nx_credits_grant(&c, 0); /* grants nothing */
	assert_false(nx_credits_can_send(&c));
	nx_credits_grant(&c, 1);
	nx_credits_pause(&c);
	assert_false(nx_credits_can_send(&c));
	nx_credits_grant(&c, 0); /* un-pauses, credit still there */
	assert_true(nx_credits_can_send(&c));
	nx_credits_grant(&c, INT64_MAX); /* absurd: clamped */
	assert_int_equal(c.tx_avail, NX_CREDITS_CLAMP);
	nx_credits_grant(&c, 5);
	assert_int_equal(c.tx_avail, NX_CREDITS_CLAMP);
	nx_credits_grant(&c, -7);
	assert_int_equal(c.tx_avail, NX_CREDITS_CLAMP);
}

static void from_backend(void **state)
{
	struct nx_credits c;
	nx_credits_init(&c);
	for (int i = 0; i < NX_CREDITS_WINDOW; i++)
		assert_int_equal(nx_credits_received(&c), 0);
	assert_int_equal(nx_credits_received(&c), -1); /* 65th frame: overrun */
	nx_credits_init(&c);
	uint32_t back = 0;
	for (int i = 0; i < 20; i++) {
		nx_credits_received(&c);
		uint32_t k = nx_credits_delivered(&c);
		assert_true(k == 0 || k == NX_CREDITS_BATCH);
		back += k;
	}
	assert_int_equal(back, 16);
	/* a stalled end user: the backend may send the window and no more */
	nx_credits_init(&c);
	int sent = 0;
	while (c.rx_window > 0) {
		nx_credits_received(&c);
		sent++;
	}
	assert_int_equal(sent, NX_CREDITS_WINDOW);
	for (int i = 0; i < 7; i++)
		assert_int_equal(nx_credits_delivered(&c), 0);
	assert_int_equal(nx_credits_delivered(&c), NX_CREDITS_BATCH);
	assert_int_equal(c.rx_window, NX_CREDITS_BATCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(towards_backend),
	    cmocka_unit_test(from_backend),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
