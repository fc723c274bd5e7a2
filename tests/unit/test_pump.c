/* Unit tests for lib/pump: prelude first, half-close forwarded both ways, a bulk transfer
 * through full buffers (backpressure) arrives intact, errors and idle timeouts end the pump. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wire/pump.h"
#include "core/sock.h"

static int done_calls, done_error;
static int splice_on; /* the same tests again with splice(2) */

static void on_done(struct nx_pump *p, int error, void *arg)
{
	done_calls++;
	done_error = error;
	nx_loop_stop(arg);
}

/* x <-> [a  pump  b] <-> y */
static void pairs(int *x, int *a, int *b, int *y)
{
	int s1[2], s2[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s1), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s2), 0);
	*x = s1[0], *a = s1[1], *b = s2[0], *y = s2[1];
	nx_set_nonblock(*a, 1);
	nx_set_nonblock(*b, 1);
}

static size_t read_all(int fd, char *buf, size_t n)
{
	size_t got = 0;
	ssize_t r;
	while (got < n && (r = read(fd, buf + got, n - got)) > 0)
		got += (size_t)r;
	return got;
}

static void prelude_then_data_and_half_close(void **state)
{
	int x, a, b, y;
	pairs(&x, &a, &b, &y);
	struct nx_loop *l = nx_loop_new(NULL, 0);
	struct nx_pump *p = malloc(sizeof *p);
	nx_pump_init(p, l, a, b, on_done, l);
	nx_pump_set_splice(p, splice_on);
	assert_int_equal(nx_pump_preload(p, 0, "PRE:", 4), 0);
	assert_int_equal(nx_pump_start(p, NULL, 0), 0);
	assert_int_equal(write(x, "request", 7), 7);
	shutdown(x, SHUT_WR); /* the client half-closes after its request */
	assert_int_equal(write(y, "the whole reply", 15), 15);
	shutdown(y, SHUT_WR);
	done_calls = 0;
	assert_int_equal(nx_loop_run(l), 0);
	assert_int_equal(done_calls, 1);
	assert_int_equal(done_error, 0);
	char buf[64] = {0};
	assert_int_equal(read_all(y, buf, sizeof buf), 11);
	assert_memory_equal(buf, "PRE:request", 11);
	assert_int_equal(read_all(x, buf, sizeof buf), 15);
	assert_memory_equal(buf, "the whole reply", 15);
	assert_int_equal(p->dir[0].bytes, 11);
	assert_int_equal(p->dir[1].bytes, 15);
	free(p);
	nx_loop_free(l);
	close(a), close(b), close(x), close(y);
}

static void bulk_transfer_with_backpressure(void **state)
{
	int x, a, b, y;
	pairs(&x, &a, &b, &y);
	const size_t total = 8u << 20;
	pid_t w = fork();
	if (w == 0) { /* writer: 8 MiB pattern into x, then EOF */
		close(a), close(b), close(y);
		static unsigned char chunk[65536];
		for (size_t off = 0; off < total; off += sizeof chunk) {
			for (size_t i = 0; i < sizeof chunk; i++)
				chunk[i] = (unsigned char)((off + i) * 31 >> 3);
			if (write(x, chunk, sizeof chunk) != (ssize_t)sizeof chunk)
				_exit(1);
		}
		shutdown(x, SHUT_WR);
		char c;
		_exit(read(x, &c, 1) == 0 ? 0 : 2); /* b → a direction: EOF forwarded */
	}
	pid_t r = fork();
	if (r == 0) { /* slow reader: checks every byte */
		close(a), close(b), close(x);
		shutdown(y, SHUT_WR);
		static unsigned char buf[4096];
		size_t got = 0;
		ssize_t n;
		while ((n = read(y, buf, sizeof buf)) > 0) {
			for (ssize_t i = 0; i < n; i++)
				if (buf[i] != (unsigned char)((got + (size_t)i) * 31 >> 3))
					_exit(3);
			got += (size_t)n;
			if (got % (1u << 20) < 4096)
				usleep(20000);
		}
		_exit(got == total ? 0 : 4);
	}
	close(x), close(y);
	struct nx_loop *l = nx_loop_new(NULL, 0);
	struct nx_pump *p = malloc(sizeof *p);
	nx_pump_init(p, l, a, b, on_done, l);
	nx_pump_set_splice(p, splice_on);
	assert_int_equal(nx_pump_start(p, NULL, 0), 0);
	done_calls = 0;
	assert_int_equal(nx_loop_run(l), 0);
	assert_int_equal(done_error, 0);
	assert_int_equal(p->dir[0].bytes, total);
	int st;
	waitpid(w, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	waitpid(r, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	free(p);
	nx_loop_free(l);
	close(a), close(b);
}

static void peer_reset_ends_pump_with_error(void **state)
{
	int x, a, b, y;
	pairs(&x, &a, &b, &y);
	struct nx_loop *l = nx_loop_new(NULL, 0);
	struct nx_pump *p = malloc(sizeof *p);
	nx_pump_init(p, l, a, b, on_done, l);
	nx_pump_set_splice(p, splice_on);
	assert_int_equal(nx_pump_start(p, NULL, 0), 0);
	close(y); /* destination gone: writing to b fails with EPIPE */
	assert_int_equal(write(x, "data", 4), 4);
	done_calls = 0;
	assert_int_equal(nx_loop_run(l), 0);
	assert_int_equal(done_calls, 1);
	assert_int_not_equal(done_error, 0);
	assert_non_null(p->error_where);
	free(p);
	nx_loop_free(l);
	close(a), close(b), close(x);
}

static void spliced_prelude_and_half_close(void **state)
{
	splice_on = 1;
	prelude_then_data_and_half_close(state);
	splice_on = 0;
}

static void spliced_bulk(void **state)
{
	splice_on = 1;
	bulk_transfer_with_backpressure(state);
	splice_on = 0;
}

static void spliced_peer_reset(void **state)
{
	splice_on = 1;
	peer_reset_ends_pump_with_error(state);
	splice_on = 0;
}

static void idle_timeout(void **state)
{
	int x, a, b, y;
	pairs(&x, &a, &b, &y);
	struct nx_loop *l = nx_loop_new(NULL, 0);
	struct nx_pump *p = malloc(sizeof *p);
	nx_pump_init(p, l, a, b, on_done, l);
	nx_pump_set_splice(p, splice_on);
	nx_pump_set_idle(p, 50);
	assert_int_equal(nx_pump_start(p, NULL, 0), 0);
	done_calls = 0;
	assert_int_equal(nx_loop_run(l), 0);
	assert_int_equal(done_calls, 1);
	assert_int_equal(done_error, ETIMEDOUT);
	free(p);
	nx_loop_free(l);
	close(a), close(b), close(x), close(y);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(prelude_then_data_and_half_close),
	    cmocka_unit_test(bulk_transfer_with_backpressure),
	    cmocka_unit_test(peer_reset_ends_pump_with_error),
	    cmocka_unit_test(idle_timeout),
	    cmocka_unit_test(spliced_prelude_and_half_close),
	    cmocka_unit_test(spliced_bulk),
	    cmocka_unit_test(spliced_peer_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
