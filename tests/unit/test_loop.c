/* Unit tests for the event loop: timer order, cancel, fd readiness, removal mid-round, the
 * start-of-round hook. */
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

/* The wake hook: once per round with events, before their callbacks, and an fd it removes
 * gets no callback; rounds that only time out do not call it. */
struct wake {
	struct pipes p;
	int wakes, reads_seen_at_wake[4];
	struct nx_timer t;
};

static void on_wake(struct nx_loop *l, void *arg)
{
	struct wake *w = arg;
	if (w->wakes < 4)
		w->reads_seen_at_wake[w->wakes] = w->p.reads;
	w->wakes++;
	if (w->wakes == 2) /* the second round: b is ready, but the hook takes it away */
		nx_loop_del(l, w->p.b[0]);
}

static void count_read(struct nx_loop *l, int fd, unsigned ev, void *arg)
{
	struct wake *w = arg;
	char c;
	assert_int_equal(read(fd, &c, 1), 1);
	w->p.reads++;
	if (fd == w->p.a[0]) /* round 1 done: make b ready for round 2 */
		assert_int_equal(write(w->p.b[1], "y", 1), 1);
}

static void wake_hook_runs_before_callbacks(void **state)
{
	struct nx_loop *l = nx_loop_new(NULL, 0);
	struct wake w = {0};
	assert_int_equal(pipe(w.p.a), 0);
	assert_int_equal(pipe(w.p.b), 0);
	nx_loop_on_wake(l, on_wake, &w);
	assert_int_equal(nx_loop_add(l, w.p.a[0], NX_EV_READ, count_read, &w), 0);
	assert_int_equal(nx_loop_add(l, w.p.b[0], NX_EV_READ, count_read, &w), 0);
	assert_int_equal(write(w.p.a[1], "x", 1), 1);
	nx_timer_start(l, &w.t, 30, stop_timer, NULL); /* rounds after the second only time out */
	nx_loop_run(l);
	assert_int_equal(w.wakes, 2);
	assert_int_equal(w.reads_seen_at_wake[0], 0); /* before a's callback */
	assert_int_equal(w.reads_seen_at_wake[1], 1);
	assert_int_equal(w.p.reads, 1); /* b was removed by the hook: no callback */
	nx_loop_on_wake(l, NULL, NULL);
	nx_loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(timers_fire_in_deadline_order),
		cmocka_unit_test(removal_during_round_is_honoured),
		cmocka_unit_test(no_interest_means_no_wakeups),
		cmocka_unit_test(wake_hook_runs_before_callbacks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
