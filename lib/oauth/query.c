/* query.c — see query.h. */
#include "oauth/query.h"

#include <string.h>

static int hexv(char c)
{
	return c >= '0' && c <= '9' ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

/* Decode s[0..n) into out; -1 on a bad escape, a NUL or no room. */
static int decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '+')
			c = ' ';
		else if (c == '%') {
			if (i + 2 >= n)
				return -1;
			int hi = hexv(s[i + 1]), lo = hexv(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == 0 || o + 1 >= cap)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

int nx_oauth_query_get(const char *q, size_t qlen, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name), i = 0;
	int found = 0;
	if (cap == 0)
		return -1;
	while (i <= qlen) {
		size_t s = i;
		while (i < qlen && q[i] != '&')
			i++;
		const char *eq = memchr(q + s, '=', i - s);
		size_t klen = eq ? (size_t)(eq - (q + s)) : i - s;
		if (klen == nl && memcmp(q + s, name, nl) == 0) {
			if (found)
				return -1;
			found = 1;
			const char *v = eq ? eq + 1 : q + i;
			if (decode(v, (size_t)(q + i - v), out, cap) < 0)
				return -1;
		}
		i++;
	}
	return found;
}
