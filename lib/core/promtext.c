/* promtext.c — Prometheus text format writer (see promtext.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/promtext.h"

void nx_prom_init(struct nx_prom *p, char *buf, size_t cap)
{
	p->buf = buf;
	p->cap = cap;
	p->len = 0;
	p->overflow = cap == 0;
	if (cap)
		buf[0] = 0;
}

static void put(struct nx_prom *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct nx_prom *p, const char *fmt, ...)
{
	if (p->overflow)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(p->buf + p->len, p->cap - p->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= p->cap - p->len) {
		p->overflow = 1;
		p->buf[p->len] = 0;
		return;
	}
	p->len += (size_t)n;
}

/* HELP text escapes backslash and newline; label values also the double quote. */
static void put_escaped(struct nx_prom *p, const char *s, int quote)
{
	for (; *s && !p->overflow; s++) {
		if (*s == '\\')
			put(p, "\\\\");
		else if (*s == '\n')
			put(p, "\\n");
		else if (quote && *s == '"')
			put(p, "\\\"");
		else
			put(p, "%c", *s);
	}
}

void nx_prom_family(struct nx_prom *p, const char *name, const char *type, const char *help)
{
	put(p, "# HELP %s ", name);
	put_escaped(p, help, 0);
	put(p, "\n# TYPE %s %s\n", name, type);
}

void nx_prom_u64(struct nx_prom *p, const char *name, const char *label, const char *value,
                 uint64_t v)
{
	put(p, "%s", name);
	if (label) {
		put(p, "{%s=\"", label);
		put_escaped(p, value ? value : "", 1);
		put(p, "\"}");
	}
	put(p, " %llu\n", (unsigned long long)v);
}

long nx_prom_len(const struct nx_prom *p) { return p->overflow ? -1 : (long)p->len; }
