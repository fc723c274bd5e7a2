/* units.c — see units.h. */
#include "core/units.h"
#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int nx_parse_int(const char *s, long long min, long long max, long long *out, char *err,
                 size_t errlen)
{
	if (!s || !*s)
		return nx_err(err, errlen, "empty number");
	if (!isdigit((unsigned char)s[0]) && !(s[0] == '-' && min < 0 && isdigit((unsigned char)s[1])))
		return nx_err(err, errlen, "'%s' is not a number", s);
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (*end)
		return nx_err(err, errlen, "'%s' is not a number", s);
	if (errno == ERANGE || v < min || v > max)
		return nx_err(err, errlen, "%s is out of range %lld..%lld", s, min, max);
	*out = v;
	return 0;
}

int nx_parse_duration(const char *s, uint64_t *ms, char *err, size_t errlen)
{
	if (!s || !*s)
		return nx_err(err, errlen, "empty duration");
	const char *p = s;
	uint64_t total = 0;
	while (*p) {
		if (!isdigit((unsigned char)*p))
			return nx_err(err, errlen, "bad duration '%s' (try 30s, 5m, 1h)", s);
		errno = 0;
		char *end;
		unsigned long long v = strtoull(p, &end, 10);
		if (errno == ERANGE || v > 1000000000ULL)
			return nx_err(err, errlen, "duration '%s' is too large", s);
		uint64_t mult;
		if (strncmp(end, "ms", 2) == 0)
			mult = 1, end += 2;
		else if (*end == 's')
			mult = 1000, end++;
		else if (*end == 'm')
			mult = 60000, end++;
		else if (*end == 'h')
			mult = 3600000, end++;
		else if (*end == 'd')
			mult = 86400000, end++;
		else if (*end == '\0' && p == s)
			mult = 1000;
		else
			return nx_err(err, errlen, "bad duration '%s' (try 30s, 5m, 1h)", s);
		total += v * mult;
		if (total > 100ULL * 365 * 86400000)
			return nx_err(err, errlen, "duration '%s' is too large", s);
		p = end;
	}
	*ms = total;
	return 0;
}

int nx_parse_size(const char *s, uint64_t *bytes, char *err, size_t errlen)
{
	if (!s || !isdigit((unsigned char)s[0]))
		return nx_err(err, errlen, "bad size '%s' (try 64KiB, 1MiB)", s ? s : "");
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	static const struct { const char *suf; uint64_t mult; } units[] = {
		{"", 1}, {"B", 1},
		{"K", 1ULL << 10}, {"KiB", 1ULL << 10}, {"k", 1ULL << 10}, {"kB", 1000}, {"KB", 1000},
		{"M", 1ULL << 20}, {"MiB", 1ULL << 20}, {"MB", 1000000},
		{"G", 1ULL << 30}, {"GiB", 1ULL << 30}, {"GB", 1000000000},
	};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(end, units[i].suf) == 0) {
			if (errno == ERANGE || v > (1ULL << 50) / units[i].mult)
				return nx_err(err, errlen, "size '%s' is too large", s);
			*bytes = v * units[i].mult;
			return 0;
		}
	}
	return nx_err(err, errlen, "bad size '%s' (try 64KiB, 1MiB)", s);
}

const char *nx_fmt_duration(char *buf, size_t n, uint64_t ms)
{
	if (ms % 1000) {
		snprintf(buf, n, "%llums", (unsigned long long)ms);
		return buf;
	}
	uint64_t s = ms / 1000;
	size_t o = 0;
	buf[0] = '\0';
	static const struct { uint64_t secs; char c; } parts[] = {
		{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
	for (size_t i = 0; i < 4 && o < n; i++) {
		if (s >= parts[i].secs) {
			int w = snprintf(buf + o, n - o, "%llu%c", (unsigned long long)(s / parts[i].secs), parts[i].c);
			if (w < 0)
				break;
			o += (size_t)w;
			s %= parts[i].secs;
		}
	}
	if (!buf[0])
		snprintf(buf, n, "0s");
	return buf;
}
