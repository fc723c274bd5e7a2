/* Unit tests for the event loop: timer order, cancel, fd readiness, removal mid-round. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <unistd.h>

#include "core/loop.h"

static char order[16];
static int norder;

static void mark(struct nx_loop *l, void *arg)
{
	order[norder++] = *(const char *)arg;
	if (norder == 3)
		nx_loop_stop(l);
}

static void timers_fire_in_deadline_order(void **state)
{
	struct nx_loop *l = nx_loop_new(NULL, 0);
	struct nx_timer a = {0}, b = {0}, c = {0}, d = {0};
	norder = 0;
	nx_timer_start(l, &c, 30, mark, "c");
	nx_timer_start(l, &a, 10, mark, "a");
	nx_timer_start(l, &d, 15, mark, "d");
	nx_timer_start(l, &b, 20, mark, "b");
	nx_timer_stop(l, &d);
	nx_timer_stop(l, &d); /* stopping twice is harmless */
	assert_false(nx_timer_active(&d));
	assert_int_equal(nx_loop_run(l), 0);
	assert_memory_equal(order, "abc", 3);
	nx_loop_free(l);
}

struct pipes {
	int a[2], b[2];
	int reads;
};

static void on_read(struct nx_loop *l, int fd, unsigned ev, void *arg)
{
	struct pipes *p = arg;
	char c;
	assert_true(ev & NX_EV_READ);
	assert_int_equal(read(fd, &c, 1), 1);
	p->reads++;
	/* the first reader removes the other: it must get no callback this round */
	nx_loop_del(l, fd == p->a[0] ? p->b[0] : p->a[0]);
	nx_loop_del(l, fd);
	nx_loop_stop(l);
}

static void removal_during_round_is_honoured(void **state)
{
	struct nx_loop *l = nx_loop_new(NULL, 0);
	struct pipes p = {0};
	assert_int_equal(pipe(p.a), 0);
	assert_int_equal(pipe(p.b), 0);
	assert_int_equal(nx_loop_add(l, p.a[0], NX_EV_READ, on_read, &p), 0);
	assert_int_equal(nx_loop_add(l, p.b[0], NX_EV_READ, on_read, &p), 0);
	assert_int_equal(write(p.a[1], "x", 1), 1);
	assert_int_equal(write(p.b[1], "y", 1), 1);
	nx_loop_run(l);
	assert_int_equal(p.reads, 1);
	nx_loop_free(l);
}

static void stop_timer(struct nx_loop *l, void *arg) { nx_loop_stop(l); }

static void no_interest_means_no_wakeups(void **state)
{
	struct nx_loop *l = nx_loop_new(NULL, 0);
	struct pipes p = {0};
	struct nx_timer t = {0};
	assert_int_equal(pipe(p.a), 0);
	assert_int_equal(nx_loop_add(l, p.a[0], NX_EV_READ, on_read, &p), 0);
	assert_int_equal(nx_loop_mod(l, p.a[0], 0), 0);
	close(p.a[1]); /* hang-up while paused: must not call on_read */
	nx_timer_start(l, &t, 20, stop_timer, NULL);
	nx_loop_run(l);
	assert_int_equal(p.reads, 0);
	assert_int_equal(nx_loop_events(l, p.a[0]), 0);
	nx_loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(timers_fire_in_deadline_order),
		cmocka_unit_test(removal_during_round_is_honoured),
		cmocka_unit_test(no_interest_means_no_wakeups),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
