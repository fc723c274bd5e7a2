/* hostname.c — see hostname.h. */
#include "core/hostname.h"
#include "core/util.h"

#include <string.h>

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static int label_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int nx_hostname_normalize(const char *in, size_t len, char *out, size_t outlen, unsigned flags,
                          char *err, size_t errlen)
{
	const unsigned char *s = (const unsigned char *)in;
	while (len && is_space(s[0]))
		s++, len--;
	while (len && is_space(s[len - 1]))
		len--;
	if (len && s[len - 1] == '.')
		len--; /* one trailing dot: the absolute form of the same name */
	if (len == 0)
		return nx_err(err, errlen, "empty host name");
	if (len > NX_HOSTNAME_MAX)
		return nx_err(err, errlen, "host name longer than %d bytes", NX_HOSTNAME_MAX);
	if (len + 1 > outlen)
		return nx_err(err, errlen, "host name does not fit");
	if (len >= 4 && (strncasecmp((const char *)s, "tcp:", 4) == 0 ||
	                 strncasecmp((const char *)s, "udp:", 4) == 0))
		return nx_err(err, errlen, "'tcp:'/'udp:' names are port claims, not host names");

	char tmp[NX_HOSTNAME_MAX + 1];
	size_t i = 0, labels = 0, label_len = 0;
	int wildcard = 0;
	if (len >= 2 && s[0] == '*' && s[1] == '.') {
		if (!(flags & NX_HOSTNAME_WILDCARD_OK))
			return nx_err(err, errlen, "wildcard not allowed here");
		tmp[0] = '*';
		tmp[1] = '.';
		i = 2;
		wildcard = 1;
	}
	for (; i < len; i++) {
		unsigned char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c == '.') {
			if (label_len == 0)
				return nx_err(err, errlen, "empty label in host name");
			labels++;
			label_len = 0;
		} else if (label_char(c)) {
			if (++label_len > 63)
				return nx_err(err, errlen, "label longer than 63 bytes in host name");
		} else if (c == '*') {
			return nx_err(err, errlen, "'*' only as a whole first label ('*.example.com')");
		} else {
			return nx_err(err, errlen, "bad character 0x%02x in host name", c);
		}
		tmp[i] = (char)c;
	}
	if (label_len == 0)
		return nx_err(err, errlen, "empty label in host name");
	labels++;
	if (wildcard && labels < 2)
		return nx_err(err, errlen, "a wildcard needs at least two labels after '*.'");
	memcpy(out, tmp, len);
	out[len] = '\0';
	return 0;
}

int nx_hostname_is_wildcard(const char *name) { return name[0] == '*' && name[1] == '.'; }

int nx_hostname_match(const char *pattern, const char *name)
{
	if (!nx_hostname_is_wildcard(pattern))
		return strcmp(pattern, name) == 0;
	const char *dot = strchr(name, '.');
	if (!dot || dot == name || name[0] == '*')
		return 0;
	return strcmp(pattern + 1, dot) == 0;
}

int nx_hostname_wildcard_of(const char *name, char *out, size_t outlen)
{
	const char *dot = strchr(name, '.');
	if (!dot || dot == name || !strchr(dot + 1, '.'))
		return -1;
	size_t n = strlen(dot);
	if (n + 2 > outlen)
		return -1;
	out[0] = '*';
	memcpy(out + 1, dot, n + 1);
	return 0;
}
