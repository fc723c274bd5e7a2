/* backend_claims.c — see backend_claims.h. */
#include "backend_claims.h"
#include "units.h"
#include "util.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int nx_hostname_normalize(const char *in, char out[NX_HOSTNAME_MAX + 1], char *err,
                          size_t errlen)
{
	while (isspace((unsigned char)*in))
		in++;
	size_t n = strlen(in);
	while (n > 0 && isspace((unsigned char)in[n - 1]))
		n--;
	if (n > 0 && in[n - 1] == '.')
		n--;
	if (n == 0)
		return nx_err(err, errlen, "empty hostname");
	if (n > NX_HOSTNAME_MAX)
		return nx_err(err, errlen, "hostname longer than %d characters", NX_HOSTNAME_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c <= 0x20 || c >= 0x7f || c == '/' || c == '@')
			return nx_err(err, errlen, "hostname has a character that is not allowed");
		out[i] = (char)tolower(c);
	}
	out[n] = '\0';
	if (strncmp(out, "tcp:", 4) == 0 || strncmp(out, "udp:", 4) == 0)
		return nx_err(err, errlen, "hostname '%s' uses a reserved prefix (tcp:/udp:)", out);
	const char *star = strchr(out, '*');
	if (star) {
		const char *rest = out + 2;
		if (star != out || out[1] != '.' || strchr(rest, '*') || !strchr(rest, '.') ||
		    rest[0] == '.' || strstr(rest, ".."))
			return nx_err(err, errlen, "bad wildcard '%s' (use *.example.com: '*.' and "
			                           "at least two labels)", out);
	}
	if (out[0] == '.' || strstr(out, ".."))
		return nx_err(err, errlen, "hostname '%s' has an empty label", out);
	return 0;
}

static json_t *array_claim(json_t *claims, const char *name)
{
	json_t *a = json_object_get(claims, name);
	if (json_is_array(a))
		return a;
	a = json_array();
	json_object_set_new(claims, name, a);
	return a;
}

static int array_has(const json_t *a, const json_t *v)
{
	size_t i;
	const json_t *x;
	json_array_foreach(a, i, x)
		if (json_equal(x, v))
			return 1;
	return 0;
}

static int append_unique(json_t *claims, const char *name, json_t *v, char *err, size_t errlen)
{
	if (!v)
		return nx_err(err, errlen, "out of memory");
	json_t *a = array_claim(claims, name);
	if (!a) {
		json_decref(v);
		return nx_err(err, errlen, "out of memory");
	}
	if (array_has(a, v))
		json_decref(v);
	else
		json_array_append_new(a, v);
	return 0;
}

int nx_claims_add_hostname(json_t *claims, const char *name, char *err, size_t errlen)
{
	char h[NX_HOSTNAME_MAX + 1];
	if (nx_hostname_normalize(name, h, err, errlen) < 0)
		return -1;
	return append_unique(claims, "hostnames", json_string(h), err, errlen);
}

static int parse_port(const char *s, long long *port, char *err, size_t errlen)
{
	char e2[NX_ERRLEN];
	if (nx_parse_int(s, 1, 65535, port, e2, sizeof e2) < 0)
		return nx_err(err, errlen, "bad port '%s': %s", s, e2);
	return 0;
}

int nx_claims_add_tcp_port(json_t *claims, const char *port, char *err, size_t errlen)
{
	long long p;
	if (parse_port(port, &p, err, errlen) < 0)
		return -1;
	return append_unique(claims, "tcp_ports", json_integer(p), err, errlen);
}

int nx_claims_add_udp_route(json_t *claims, const char *spec, char *err, size_t errlen)
{
	char buf[64];
	if (strlen(spec) >= sizeof buf)
		return nx_err(err, errlen, "bad UDP route '%.20s...'", spec);
	strcpy(buf, spec);
	char *idle = strchr(buf, ':');
	if (idle)
		*idle++ = '\0';
	long long p;
	if (parse_port(buf, &p, err, errlen) < 0)
		return -1;
	json_t *r = json_pack("{s:I}", "port", (json_int_t)p);
	if (idle) {
		uint64_t ms;
		char e2[NX_ERRLEN];
		if (nx_parse_duration(idle, &ms, e2, sizeof e2) < 0) {
			json_decref(r);
			return nx_err(err, errlen, "bad UDP route '%s': %s", spec, e2);
		}
		json_object_set_new(r, "flow_idle_timeout_seconds",
		                    json_integer((json_int_t)((ms + 999) / 1000)));
	}
	return append_unique(claims, "udp_routes", r, err, errlen);
}

int nx_claims_add_list(json_t *claims, const char *csv,
                       int (*add)(json_t *, const char *, char *, size_t), char *err,
                       size_t errlen)
{
	char *copy = strdup(csv), *save = NULL;
	if (!copy)
		return nx_err(err, errlen, "out of memory");
	int rc = 0;
	for (char *item = strtok_r(copy, ",", &save); item && rc == 0;
	     item = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*item))
			item++;
		char *end = item + strlen(item);
		while (end > item && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (*item)
			rc = add(claims, item, err, errlen);
	}
	free(copy);
	return rc;
}
