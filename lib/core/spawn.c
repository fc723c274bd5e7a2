/* spawn.c — see spawn.h. */
#include "core/spawn.h"
#include "core/util.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The child's environment, built before fork: ours, less the names env_add sets, then
 * env_add. After fork the child only calls what is async-signal-safe, since another
 * thread of ours may have held a lock (the allocator's, the environment's) at the fork. */
static char **child_env(char *const *env_add)
{
	extern char **environ;
	size_t n = 0, k = 0;
	for (char **e = environ; e && *e; e++)
		n++;
	for (char *const *e = env_add; e && *e; e++)
		n++;
	char **env = calloc(n + 1, sizeof *env);
	if (!env)
		return NULL;
	for (char **e = environ; e && *e; e++) {
		size_t nl = strcspn(*e, "=");
		int replaced = 0;
		for (char *const *a = env_add; a && *a && !replaced; a++)
			replaced = strncmp(*a, *e, nl) == 0 && (*a)[nl] == '=';
		if (!replaced)
			env[k++] = *e;
	}
	for (char *const *e = env_add; e && *e; e++)
		env[k++] = *e;
	return env;
}

pid_t nx_spawn_sh(const char *cmd, int in_fd, int out_fd, char *const *env_add, char *err,
                  size_t errlen)
{
	char **env = child_env(env_add);
	if (!env)
		return nx_err(err, errlen, "out of memory");
	char *argv[] = {"sh", "-c", (char *)cmd, NULL};
	pid_t pid = fork();
	if (pid != 0) {
		free(env);
		if (pid < 0)
			return nx_err(err, errlen, "fork: %s", strerror(errno));
		return pid;
	}
	/* the child: signals as a fresh program expects them (the loop blocks some) */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0)
		_exit(127);
	close_range(3, ~0U, 0);
	execve("/bin/sh", argv, env);
	_exit(127);
}
