/* opts.c — see opts.h. */
#include "core/opts.h"
#include "core/log.h"
#include "core/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vec {
	char **v;
	int n, cap;
};

static int vec_push(struct vec *a, const char *s)
{
	if (a->n + 2 > a->cap) {
		int ncap = a->cap ? a->cap * 2 : 16;
		char **nv = realloc(a->v, (size_t)ncap * sizeof *nv);
		if (!nv)
			return -1;
		a->v = nv;
		a->cap = ncap;
	}
	a->v[a->n] = strdup(s);
	if (!a->v[a->n])
		return -1;
	a->n++;
	a->v[a->n] = NULL;
	return 0;
}

static const struct option *find_long(const struct option *lo, const char *name, size_t len)
{
	for (; lo && lo->name; lo++)
		if (strlen(lo->name) == len && strncmp(lo->name, name, len) == 0)
			return lo;
	return NULL;
}

static int push_opt(struct vec *a, const struct option *o, const char *val)
{
	char flag[128];
	snprintf(flag, sizeof flag, "--%s", o->name);
	if (vec_push(a, flag) < 0)
		return -1;
	if (o->has_arg != no_argument && vec_push(a, val ? val : "") < 0)
		return -1;
	return 0;
}

static int from_env(struct vec *a, const char *prefix, const struct option *lo)
{
	for (; lo && lo->name; lo++) {
		if (strcmp(lo->name, "config") == 0 || strcmp(lo->name, "help") == 0 ||
		    strcmp(lo->name, "version") == 0)
			continue;
		char name[128];
		size_t o = (size_t)snprintf(name, sizeof name, "%s", prefix);
		for (const char *p = lo->name; *p && o + 1 < sizeof name; p++)
			name[o++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
		name[o] = '\0';
		const char *v = getenv(name);
		if (!v)
			continue;
		if (lo->has_arg == no_argument) {
			if (strcmp(v, "1") && strcasecmp(v, "yes") && strcasecmp(v, "true"))
				continue;
		}
		if (push_opt(a, lo, v) < 0)
			return -1;
	}
	return 0;
}

static int from_config(struct vec *a, const char *path, const struct option *lo, char *err,
                       size_t errlen)
{
	char *buf;
	size_t len;
	if (nx_read_file(path, 1 << 20, &buf, &len, err, errlen) < 0)
		return NX_OPTS_UNREADABLE;
	int lineno = 0, rc = 0;
	for (char *line = buf, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		while (isspace((unsigned char)*line))
			line++;
		if (*line == '#' || *line == '\0')
			continue;
		char *end = line + strlen(line);
		while (end > line && isspace((unsigned char)end[-1]))
			*--end = '\0';
		size_t klen = strcspn(line, " \t");
		char *val = line + klen;
		while (isspace((unsigned char)*val))
			val++;
		const struct option *o = find_long(lo, line, klen);
		if (!o || strcmp(o->name, "config") == 0) {
			rc = nx_err(err, errlen, "%s:%d: unknown option '%.*s'", path, lineno, (int)klen, line);
			break;
		}
		if (o->has_arg == required_argument && !*val) {
			rc = nx_err(err, errlen, "%s:%d: '%s' needs a value", path, lineno, o->name);
			break;
		}
		if (o->has_arg == no_argument && *val) {
			rc = nx_err(err, errlen, "%s:%d: '%s' takes no value", path, lineno, o->name);
			break;
		}
		if (push_opt(a, o, val) < 0) {
			rc = (nx_err(err, errlen, "out of memory"), NX_OPTS_UNREADABLE);
			break;
		}
	}
	free(buf);
	return rc;
}

void nx_opts_free(char **argv)
{
	if (!argv)
		return;
	for (char **a = argv; *a; a++)
		free(*a);
	free(argv);
}

static int fail(struct vec *a, int rc)
{
	nx_opts_free(a->v);
	return rc;
}

int nx_opts_expand(int *argc, char ***argv, const char *env_prefix,
                   const struct option *longopts, char *err, size_t errlen)
{
	struct vec a = {0};
	if (vec_push(&a, (*argv)[0]) < 0)
		return fail(&a, (nx_err(err, errlen, "out of memory"), NX_OPTS_UNREADABLE));
	if (env_prefix && from_env(&a, env_prefix, longopts) < 0)
		return fail(&a, (nx_err(err, errlen, "out of memory"), NX_OPTS_UNREADABLE));
	for (int i = 1; i < *argc; i++) {
		const char *s = (*argv)[i];
		if (strcmp(s, "--") == 0)
			break;
		const char *path = NULL;
		if (strcmp(s, "--config") == 0 && i + 1 < *argc)
			path = (*argv)[i + 1];
		else if (strncmp(s, "--config=", 9) == 0)
			path = s + 9;
		int rc = path ? from_config(&a, path, longopts, err, errlen) : 0;
		if (rc < 0)
			return fail(&a, rc);
	}
	for (int i = 1; i < *argc; i++)
		if (vec_push(&a, (*argv)[i]) < 0)
			return fail(&a, (nx_err(err, errlen, "out of memory"), NX_OPTS_UNREADABLE));
	*argc = a.n;
	*argv = a.v;
	return 0;
}

int nx_opts_fail(int rc, const char *err)
{
	if (rc == NX_OPTS_UNREADABLE) {
		nx_say("%s", err);
		return 1;
	}
	return nx_usage_error("%s", err);
}

void nx_print_version(const char *prog)
{
	const char *slash = strrchr(prog, '/');
	printf("%s %s\n", slash ? slash + 1 : prog, NEXUS_VERSION);
}
