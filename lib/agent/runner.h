/* runner.h — one child process with bounded output and a deadline: a command handler
 * (exec'd directly) or the telemetry command (/bin/sh -c). Driven by the caller's poll loop.
 *
 * The child gets stdin from a memfd holding the input (so writing it never blocks), stdout
 * into a pipe we read, our stderr, no other fd, default signals, its own process group (a
 * timeout signals the whole group: TERM, then KILL after the grace period). Output past
 * out_max is read and dropped, and the job is marked truncated. */
#ifndef NEXUS_AGENT_RUNNER_H
#define NEXUS_AGENT_RUNNER_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct nx_job {
	pid_t pid;
	int out_fd;        /* -1 after EOF */
	int pid_fd;        /* pidfd: readable when the child exits; -1 once reaped */
	char *out;
	size_t outlen, out_max;
	int truncated;
	uint64_t deadline, kill_at; /* nx_now_ms() clock; kill_at 0 until TERM was sent */
	uint64_t grace_ms;
	int timed_out;
	int exit_code;     /* when done: exit status, or 128+signal */
	int signaled;
	int done;
};

/* Start argv[0] (sh=0: exec'd directly; sh=1: argv[0] is a /bin/sh -c command line) with
 * env_add ("NAME=value", NULL-terminated, may be NULL) added to our environment. */
int nx_job_start(struct nx_job *j, const char *prog, int sh, char *const *env_add,
                 const void *in, size_t inlen, size_t out_max, uint64_t timeout_ms,
                 uint64_t grace_ms, char *err, size_t errlen);

/* The fds to poll for reading (up to 2, -1 for none) and the next deadline (0: none). */
void nx_job_pollfds(const struct nx_job *j, int fds[2]);
uint64_t nx_job_next_deadline(const struct nx_job *j);

/* Read what is there, reap, enforce the deadline. Never blocks. Returns 1 once done. */
int nx_job_step(struct nx_job *j, uint64_t now);

/* Kill (the group, KILL) and reap a job that is not done; free its buffers. */
void nx_job_free(struct nx_job *j);

#endif
