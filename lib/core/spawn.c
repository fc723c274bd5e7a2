/* spawn.c — see spawn.h. */
#include "core/spawn.h"
#include "core/util.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

pid_t nx_spawn_sh(const char *cmd, int in_fd, int out_fd, char *const *env_add, char *err,
                  size_t errlen)
{
	pid_t pid = fork();
	if (pid < 0)
		return nx_err(err, errlen, "fork: %s", strerror(errno));
	if (pid > 0)
		return pid;
	/* the child: signals as a fresh program expects them (the loop blocks some) */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0)
		_exit(127);
	close_range(3, ~0U, 0);
	for (char *const *e = env_add; e && *e; e++)
		putenv(*e);
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
}
