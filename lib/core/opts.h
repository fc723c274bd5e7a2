/* opts.h — shared option handling: environment, --config FILE, --help, --version.
 *
 * Commands parse options with getopt_long as usual, over the vector nx_opts_expand()
 * builds:  argv[0], options from the environment, options from --config FILE, then the
 * real arguments. Later options win for single-valued options, so the command line beats
 * the config file, which beats the environment.
 *
 *   environment: every long option taking an argument may be set as PREFIX + NAME with
 *     NAME upper-cased and '-' turned into '_' (prefix "NEXUS_HUB_": --idle-timeout is
 *     NEXUS_HUB_IDLE_TIMEOUT); a flag is set by the values 1, yes or true.
 *   config file: one "name value" per line (long option names, no dashes), '#' comments,
 *     blank lines ignored; a flag is a name alone on its line. */
#ifndef NEXUS_OPTS_H
#define NEXUS_OPTS_H
#include <getopt.h>
#include <stddef.h>

/* 0; -1 with err set for a usage error (a bad line in the config file); NX_OPTS_UNREADABLE
 * when the config file cannot be read or memory runs out (a runtime failure, exit 1). */
#define NX_OPTS_UNREADABLE (-2)
int nx_opts_expand(int *argc, char ***argv, const char *env_prefix,
                   const struct option *longopts, char *err, size_t errlen);

/* What a command says and exits with when nx_opts_expand() returned rc < 0: the error as
 * a runtime failure (1) or a usage error (2). */
int nx_opts_fail(int rc, const char *err);

/* Free a vector nx_opts_expand() built (NULL-terminated; on failure it frees its own
 * partial vector). */
void nx_opts_free(char **argv);

/* "nexus-hub 0.1.0" on stdout. */
void nx_print_version(const char *prog);

#endif
