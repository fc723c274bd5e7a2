/* log.c — see log.h. Each line is built in one buffer and written with one write(2), so
 * lines from concurrent processes sharing stderr do not interleave. */
#include "core/log.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *log_prog = "nexus";
static enum nx_log_style log_style = NX_LOG_PLAIN;
static enum nx_log_level log_max = NX_LOG_INFO;
static const char *level_names[] = {"error", "warn", "info", "debug"};

void nx_log_setup(const char *prog, enum nx_log_style style, enum nx_log_level max)
{
	opterr = 0; /* getopt must not print "./bin/nexus-x: ..."; nx_usage_getopt() says it */
	const char *slash = prog ? strrchr(prog, '/') : NULL;
	log_prog = slash ? slash + 1 : (prog ? prog : "nexus");
	log_style = style;
	log_max = max;
}

enum nx_log_level nx_log_level(void) { return log_max; }
const char *nx_log_prog(void) { return log_prog; }

static void emit(char *line, size_t n, size_t cap)
{
	if (n >= cap - 1)
		n = cap - 2;
	line[n++] = '\n';
	ssize_t w = write(2, line, n);
	(void)w;
}

void nx_log(enum nx_log_level lvl, const char *msg, const char *kv, ...)
{
	if (lvl > log_max)
		return;
	char line[2048], kvbuf[1536] = "";
	if (kv) {
		va_list ap;
		va_start(ap, kv);
		vsnprintf(kvbuf, sizeof kvbuf, kv, ap);
		va_end(ap);
	}
	int n;
	if (log_style == NX_LOG_LOGFMT) {
		char q[512];
		n = snprintf(line, sizeof line, "level=%s msg=%s%s%s", level_names[lvl],
		             nx_log_q(q, sizeof q, msg), kvbuf[0] ? " " : "", kvbuf);
	} else {
		n = snprintf(line, sizeof line, "%s: %s%s%s%s", log_prog, msg,
		             kvbuf[0] ? " (" : "", kvbuf, kvbuf[0] ? ")" : "");
	}
	if (n < 0)
		return;
	emit(line, (size_t)n, sizeof line);
}

void nx_say(const char *fmt, ...)
{
	char line[2048];
	int n = snprintf(line, sizeof line, "%s: ", log_prog);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	emit(line, (size_t)n + (size_t)m, sizeof line);
}

int nx_usage_error(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (m < 0)
		msg[0] = '\0';
	/* one line: a value from argv must not break it in two */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	char line[1200];
	int n = snprintf(line, sizeof line, "%s: %s\ntry '%s --help'", log_prog, msg, log_prog);
	if (n > 0)
		emit(line, (size_t)n, sizeof line);
	return 2;
}

int nx_getopt_error(int c, char **argv, char *err, size_t errlen)
{
	/* getopt_long has already stepped past the offending word */
	const char *word = optind > 0 ? argv[optind - 1] : "";
	if (c == ':') {
		if (optopt && word[0] == '-' && word[1] != '-')
			snprintf(err, errlen, "option '-%c' needs a value", optopt);
		else
			snprintf(err, errlen, "option '%s' needs a value", word);
	} else if (optopt) {
		snprintf(err, errlen, "unknown option '-%c'", optopt);
	} else {
		snprintf(err, errlen, "unknown option '%.*s'", (int)strcspn(word, "="), word);
	}
	return -1;
}

int nx_usage_getopt(int c, char **argv)
{
	char msg[600];
	nx_getopt_error(c, argv, msg, sizeof msg);
	return nx_usage_error("%s", msg);
}

void nx_log_sink(void *arg, int level, const char *msg, const char *kv)
{
	nx_log((enum nx_log_level)level, msg, kv && *kv ? "%s" : NULL, kv);
}

/* A line nx_log_sink would not print is not formatted either: a daemon's debug lines (one
 * per stream) cost nothing at the default level. Other sinks see every line. */
static int dropped(nx_log_sink_fn sink, int level)
{
	return sink == nx_log_sink && level > (int)log_max;
}

void nx_log_vemit(nx_log_sink_fn sink, void *arg, int level, const char *msg, const char *kvfmt,
                  va_list ap)
{
	if (!sink || dropped(sink, level))
		return;
	char kv[1024];
	kv[0] = '\0';
	if (kvfmt)
		vsnprintf(kv, sizeof kv, kvfmt, ap);
	sink(arg, level, msg, kv);
}

void nx_log_vemit_times(nx_log_sink_fn sink, void *arg, int level, const char *msg,
                        uint64_t times, const char *kvfmt, va_list ap)
{
	if (!sink || !times || dropped(sink, level))
		return;
	char kv[1024];
	int n = kvfmt ? vsnprintf(kv, sizeof kv, kvfmt, ap) : 0;
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof kv)
		snprintf(kv + n, sizeof kv - (size_t)n, "%stimes=%llu", n ? " " : "",
		         (unsigned long long)times);
	sink(arg, level, msg, kv);
}

const char *nx_log_q(char *buf, unsigned n, const char *s)
{
	int quote = (*s == '\0');
	for (const char *p = s; *p; p++)
		if (*p == ' ' || *p == '"' || *p == '=' || *p == '\\')
			quote = 1;
	unsigned o = 0;
	if (n < 4) {
		if (n)
			buf[0] = '\0';
		return buf;
	}
	if (quote)
		buf[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p && o + 3 < n; p++) {
		if (*p == '"' || *p == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)*p;
		} else {
			buf[o++] = (*p >= 0x20 && *p < 0x7f) ? (char)*p : '?';
		}
	}
	if (quote)
		buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}
