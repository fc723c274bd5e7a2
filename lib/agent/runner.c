/* runner.c — see runner.h. */
#include "agent/runner.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* environ + add, built before fork: the child of a threaded process may only exec. */
static char **build_env(char *const *add)
{
	size_t n = 0, na = 0;
	while (environ && environ[n])
		n++;
	while (add && add[na])
		na++;
	char **v = calloc(n + na + 1, sizeof *v);
	if (!v)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int overridden = 0;
		const char *eq = strchr(environ[i], '=');
		size_t kl = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		for (size_t k = 0; k < na; k++)
			if (!strncmp(add[k], environ[i], kl) && add[k][kl] == '=')
				overridden = 1;
		if (!overridden)
			v[o++] = environ[i];
	}
	for (size_t k = 0; k < na; k++)
		v[o++] = add[k];
	return v;
}

int nx_job_start(struct nx_job *j, const char *prog, int sh, char *const *env_add,
                 const void *in, size_t inlen, size_t out_max, uint64_t timeout_ms,
                 uint64_t grace_ms, char *err, size_t errlen)
{
	memset(j, 0, sizeof *j);
	j->out_fd = j->pid_fd = -1;
	j->out_max = out_max;
	j->grace_ms = grace_ms;
	j->out = malloc(out_max + 1);
	int p[2] = {-1, -1}, mfd = memfd_create("nexus-agent-stdin", MFD_CLOEXEC);
	char **envp = build_env(env_add);
	if (!j->out || !envp || mfd < 0 || pipe2(p, O_CLOEXEC) < 0) {
		nx_err(err, errlen, "cannot start %s: %s", prog, strerror(errno ? errno : ENOMEM));
		goto fail;
	}
	if (nx_write_all(mfd, in, inlen) < 0 || lseek(mfd, 0, SEEK_SET) < 0) {
		nx_err(err, errlen, "cannot start %s: stdin: %s", prog, strerror(errno));
		goto fail;
	}
	pid_t pid = fork();
	if (pid < 0) {
		nx_err(err, errlen, "cannot start %s: fork: %s", prog, strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		setpgid(0, 0);
		/* a handler does not outlive a SIGKILLed agent: after the restart its command is
		 * answered "interrupted", so it must not still be doing it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		sigset_t none;
		sigemptyset(&none);
		for (int s = 1; s < NSIG; s++)
			signal(s, SIG_DFL);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (dup2(mfd, 0) < 0 || dup2(p[1], 1) < 0)
			_exit(126);
		close_range(3, ~0U, 0);
		if (sh)
			execle("/bin/sh", "sh", "-c", prog, (char *)NULL, envp);
		else
			execve(prog, (char *[]){(char *)prog, NULL}, envp);
		_exit(errno == ENOENT ? 127 : 126);
	}
	setpgid(pid, pid); /* both sides, so a timeout can signal the group at once */
	j->pid = pid;
	j->pid_fd = (int)syscall(SYS_pidfd_open, pid, 0);
	close(p[1]);
	close(mfd);
	free(envp);
	j->out_fd = p[0];
	fcntl(j->out_fd, F_SETFL, O_NONBLOCK);
	j->deadline = nx_now_ms() + timeout_ms;
	return 0;
fail:
	if (p[0] >= 0)
		close(p[0]), close(p[1]);
	if (mfd >= 0)
		close(mfd);
	free(envp);
	free(j->out);
	j->out = NULL;
	return -1;
}

void nx_job_pollfds(const struct nx_job *j, int fds[2])
{
	fds[0] = j->out_fd;
	fds[1] = j->pid_fd;
}

uint64_t nx_job_next_deadline(const struct nx_job *j)
{
	if (j->done)
		return 0;
	uint64_t d = j->kill_at ? j->kill_at : j->deadline;
	/* without a pidfd (old kernel), poll for the exit every 50 ms */
	if (j->pid_fd < 0 && j->pid > 0) {
		uint64_t soon = nx_now_ms() + 50;
		if (soon < d)
			d = soon;
	}
	return d;
}

static void drain(struct nx_job *j)
{
	char tmp[16384];
	while (j->out_fd >= 0) {
		ssize_t r = read(j->out_fd, tmp, sizeof tmp);
		if (r > 0) {
			size_t room = j->out_max - j->outlen, take = (size_t)r < room ? (size_t)r : room;
			memcpy(j->out + j->outlen, tmp, take);
			j->outlen += take;
			if (take < (size_t)r)
				j->truncated = 1;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		close(j->out_fd); /* EOF or a real error */
		j->out_fd = -1;
	}
}

int nx_job_step(struct nx_job *j, uint64_t now)
{
	if (j->done)
		return 1;
	drain(j);
	if (j->pid > 0) {
		int st;
		pid_t r = waitpid(j->pid, &st, WNOHANG);
		if (r == j->pid) {
			j->pid = 0;
			j->signaled = WIFSIGNALED(st);
			j->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			if (j->pid_fd >= 0)
				close(j->pid_fd);
			j->pid_fd = -1;
		}
	}
	if (j->pid == 0) {
		/* Reaped: what it wrote is in the pipe. Descendants that keep the pipe open are not
		 * waited for; their group gets the same signals a timeout would send. */
		drain(j);
		if (j->out_fd >= 0) {
			close(j->out_fd);
			j->out_fd = -1;
		}
		j->out[j->outlen] = '\0';
		j->done = 1;
		return 1;
	}
	if (!j->kill_at && now >= j->deadline) {
		j->timed_out = 1;
		kill(-j->pid, SIGTERM);
		j->kill_at = now + j->grace_ms;
	} else if (j->kill_at && now >= j->kill_at) {
		kill(-j->pid, SIGKILL);
		j->kill_at = now + 1000; /* again, should something have escaped */
	}
	return 0;
}

void nx_job_free(struct nx_job *j)
{
	if (j->pid > 0) {
		kill(-j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
		j->pid = 0;
	}
	if (j->out_fd >= 0)
		close(j->out_fd);
	if (j->pid_fd >= 0)
		close(j->pid_fd);
	j->out_fd = j->pid_fd = -1;
	free(j->out);
	j->out = NULL;
}
