/* The --metrics responder out of fds: a scrape waiting in the backlog must not make the
 * (level-triggered) loop spin; once fds are back the scrape is answered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/loop.h"
#include "wire/metrics_http.h"

static long render(void *arg, char *buf, size_t cap)
{
	(void)arg;
	return snprintf(buf, cap, "up 1\n");
}

static void stop(struct nx_loop *loop, void *arg) { nx_loop_stop(loop); }

static void restore(struct nx_loop *loop, void *arg)
{
	setrlimit(RLIMIT_NOFILE, (const struct rlimit *)arg);
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static void rests_when_out_of_fds(void **state)
{
	char err[256];
	struct nx_loop *loop = nx_loop_new(err, sizeof err);
	assert_non_null(loop);
	struct nx_metrics_srv *m = nx_metrics_listen(loop, "127.0.0.1:0", render, NULL, err, sizeof err);
	assert_non_null(m);
	int port;
	assert_int_equal(sscanf(strrchr(nx_metrics_addr(m), ':') + 1, "%d", &port), 1);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof sa), 0);
	const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
	assert_int_equal(send(c, req, sizeof req - 1, 0), (ssize_t)(sizeof req - 1));
	/* no fd left: the accept fails with EMFILE for as long as the limit stays */
	struct rlimit old, low;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)c + 1;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	struct nx_timer t_stop = {0}, t_restore = {0};
	nx_timer_start(loop, &t_stop, 400, stop, NULL);
	double c0 = cpu_s();
	assert_int_equal(nx_loop_run(loop), 0);
	double used = cpu_s() - c0;
	/* a spinning loop burns the whole 0.4 s; a resting one wakes every 250 ms */
	assert_true(used < 0.2);
	/* fds back: the scrape is taken at the next retry and answered */
	nx_timer_start(loop, &t_restore, 0, restore, &old);
	nx_timer_start(loop, &t_stop, 1500, stop, NULL);
	assert_int_equal(nx_loop_run(loop), 0);
	char buf[512] = "";
	ssize_t n = recv(c, buf, sizeof buf - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	assert_non_null(strstr(buf, "200"));
	assert_non_null(strstr(buf, "up 1"));
	close(c);
	nx_metrics_free(m);
	nx_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rests_when_out_of_fds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
