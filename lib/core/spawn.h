/* spawn.h — run a shell command with given stdin/stdout, inetd style: the child gets those
 * two fds, our stderr and nothing else we hold, default signal dispositions and mask, and
 * extra environment entries. Used for nexus-tunnel's --exec streams and --token-cmd. */
#ifndef NEXUS_SPAWN_H
#define NEXUS_SPAWN_H
#include <stddef.h>
#include <sys/types.h>

/* Fork and run `/bin/sh -c cmd` with in_fd as stdin and out_fd as stdout (they may be the
 * same fd) and each "NAME=value" of the NULL-terminated env_add set. Returns the child's
 * pid, or -1 with the reason in err. The caller still owns (and closes) in_fd and out_fd. */
pid_t nx_spawn_sh(const char *cmd, int in_fd, int out_fd, char *const *env_add, char *err,
                  size_t errlen);

#endif
