/* backends.c — the --backends file (see backends.h): parsing, key loading, grant checks.
 * Nothing here knows about sessions; hub_backends.c applies a table to the hub. */
#include "hub/backends.h"
#include "core/hostname.h"
#include "core/units.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_LEN 16384
#define B64_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="

void nx_backends_free(struct nx_backends *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++) {
		struct nx_backend *e = &b->v[i];
		free(e->key_path);
		nx_key_free(e->key);
		for (size_t j = 0; j < e->n_hosts; j++)
			free(e->hosts[j]);
	}
	free(b->v);
	free(b);
}

static int name_ok(const char *s, size_t n)
{
	if (n == 0 || n >= NX_BACKEND_NAME_MAX)
		return 0;
	return nx_name_chars_ok(s, n);
}

/* An inline key: standard base64 of a SubjectPublicKeyInfo, wrapped as PEM for keys.c. */
static int inline_key(const char *w, size_t n, struct nx_key **key, char *err, size_t errlen)
{
	if (n < 16 || n > 4096)
		return nx_err(err, errlen, "inline key: not a SubjectPublicKeyInfo in base64");
	size_t cap = n + n / 64 + 64;
	char *pem = malloc(cap);
	if (!pem)
		return nx_err(err, errlen, "out of memory");
	size_t o = (size_t)snprintf(pem, cap, "-----BEGIN PUBLIC KEY-----\n");
	for (size_t i = 0; i < n; i += 64) {
		size_t k = n - i < 64 ? n - i : 64;
		memcpy(pem + o, w + i, k);
		o += k;
		pem[o++] = '\n';
	}
	o += (size_t)snprintf(pem + o, cap - o, "-----END PUBLIC KEY-----\n");
	char why[NX_ERRLEN];
	int rc = nx_key_load_buf(pem, o, key, why, sizeof why);
	free(pem);
	if (rc < 0)
		return nx_err(err, errlen, "inline key: %s", why);
	if (nx_key_type(*key) == NX_KEY_HMAC) { /* keys.c took it for a secret */
		nx_key_free(*key);
		*key = NULL;
		return nx_err(err, errlen, "inline key is not a public key");
	}
	return 0;
}

static int ports(const char *v, size_t n, uint16_t *out, size_t *nout, char *err, size_t errlen)
{
	while (n > 0) {
		const char *c = memchr(v, ',', n);
		size_t k = c ? (size_t)(c - v) : n;
		char num[8];
		long long p;
		if (k == 0 || k >= sizeof num)
			return nx_err(err, errlen, "bad port list");
		memcpy(num, v, k);
		num[k] = 0;
		if (nx_parse_int(num, 1, 65535, &p, err, errlen) < 0)
			return -1;
		if (*nout == NX_GRANT_MAX_PORTS)
			return nx_err(err, errlen, "more than %d ports", NX_GRANT_MAX_PORTS);
		out[(*nout)++] = (uint16_t)p;
		v += k;
		n -= k;
		if (c)
			v++, n--;
		if (c && n == 0)
			return nx_err(err, errlen, "bad port list");
	}
	return 0;
}

static int hosts(struct nx_backend *e, const char *v, size_t n, char *err, size_t errlen)
{
	if (n == 0)
		return nx_err(err, errlen, "host= needs a name");
	while (n > 0) {
		const char *c = memchr(v, ',', n);
		size_t k = c ? (size_t)(c - v) : n;
		char h[NX_HOSTNAME_MAX + 1], why[NX_ERRLEN];
		if (nx_hostname_normalize(v, k, h, sizeof h, NX_HOSTNAME_WILDCARD_OK, why, sizeof why) < 0)
			return nx_err(err, errlen, "host=: %s", why);
		if (e->n_hosts == NX_GRANT_MAX_HOSTS)
			return nx_err(err, errlen, "more than %d hosts", NX_GRANT_MAX_HOSTS);
		if (!(e->hosts[e->n_hosts] = strdup(h)))
			return nx_err(err, errlen, "out of memory");
		e->n_hosts++;
		v += k;
		n -= k;
		if (c)
			v++, n--;
		if (c && n == 0)
			return nx_err(err, errlen, "host=: empty name");
	}
	return 0;
}

static int grant_word(struct nx_backend *e, const char *w, size_t n, unsigned *seen, char *err,
                      size_t errlen)
{
	static const char *const names[] = {"host", "tcp", "udp", "weight", "streams"};
	const char *eq = memchr(w, '=', n);
	if (!eq)
		return nx_err(err, errlen, "'%.*s': want NAME=VALUE (host=, tcp=, udp=, weight=, streams=)",
		              (int)(n > 40 ? 40 : n), w);
	size_t kl = (size_t)(eq - w), vl = n - kl - 1;
	const char *v = eq + 1;
	size_t i = 0;
	while (i < 5 && !(strlen(names[i]) == kl && memcmp(names[i], w, kl) == 0))
		i++;
	if (i == 5)
		return nx_err(err, errlen, "unknown grant '%.*s' (host=, tcp=, udp=, weight=, streams=)",
		              (int)(kl > 40 ? 40 : kl), w);
	if (i > 0 && (*seen & (1u << i)))
		return nx_err(err, errlen, "%s= given twice", names[i]);
	*seen |= 1u << i;
	char num[24];
	long long x;
	switch (i) {
	case 0: return hosts(e, v, vl, err, errlen);
	case 1: return ports(v, vl, e->tcp, &e->n_tcp, err, errlen);
	case 2: return ports(v, vl, e->udp, &e->n_udp, err, errlen);
	default:
		if (vl == 0 || vl >= sizeof num)
			return nx_err(err, errlen, "%s= needs a number", names[i]);
		memcpy(num, v, vl);
		num[vl] = 0;
		if (nx_parse_int(num, 1, i == 3 ? 1000 : 1000000, &x, err, errlen) < 0)
			return -1;
		if (i == 3)
			e->max_weight = (int)x;
		else
			e->max_streams = (unsigned)x;
		return 0;
	}
}

static int parse_line(struct nx_backend *e, const char *p, size_t n, char *err, size_t errlen)
{
	size_t i = 0, word = 0;
	unsigned seen = 0;
	while (i < n) {
		while (i < n && (p[i] == ' ' || p[i] == '\t'))
			i++;
		if (i == n)
			break;
		size_t s = i;
		while (i < n && p[i] != ' ' && p[i] != '\t')
			i++;
		const char *w = p + s;
		size_t wl = i - s;
		if (word == 0) {
			if (!name_ok(w, wl))
				return nx_err(err, errlen, "bad backend name (letters, digits, '.', '_', '-')");
			memcpy(e->name, w, wl);
			e->name[wl] = 0;
		} else if (word == 1) {
			/* base64 has '/' too: a path starts with '/' or '.', or has a character
			 * base64 does not use ('-', '_', ...) */
			size_t b64 = 0;
			while (b64 < wl && strchr(B64_CHARS, w[b64]))
				b64++;
			if (w[0] == '/' || w[0] == '.' || b64 < wl) {
				if (!(e->key_path = strndup(w, wl)))
					return nx_err(err, errlen, "out of memory");
			} else {
				char tmp[4097];
				if (wl >= sizeof tmp)
					return nx_err(err, errlen, "inline key too long");
				memcpy(tmp, w, wl);
				tmp[wl] = 0;
				if (inline_key(tmp, wl, &e->key, err, errlen) < 0)
					return -1;
			}
		} else if (grant_word(e, w, wl, &seen, err, errlen) < 0) {
			return -1;
		}
		word++;
	}
	if (word < 2)
		return nx_err(err, errlen, "want NAME KEY GRANT...");
	if (e->n_hosts == 0 && e->n_tcp == 0 && e->n_udp == 0)
		return nx_err(err, errlen, "backend %s is granted nothing (host=, tcp=, udp=)", e->name);
	return 0;
}

int nx_backends_parse(const char *buf, size_t len, struct nx_backends **out, char *err,
                      size_t errlen)
{
	struct nx_backends *b = calloc(1, sizeof *b);
	size_t cap = 0;
	unsigned lineno = 0;
	*out = NULL;
	if (!b)
		return nx_err(err, errlen, "out of memory");
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *next = nl ? nl + 1 : end;
		lineno++;
		if (n && p[n - 1] == '\r')
			n--;
		size_t i = 0;
		while (i < n && (p[i] == ' ' || p[i] == '\t'))
			i++;
		if (i == n || p[i] == '#') {
			p = next;
			continue;
		}
		char why[NX_ERRLEN];
		if (n > LINE_MAX_LEN || memchr(p, '\0', n)) {
			nx_err(err, errlen, "line %u: %s", lineno, n > LINE_MAX_LEN ? "too long" : "NUL byte");
			goto fail;
		}
		if (b->n == NX_BACKENDS_MAX) {
			nx_err(err, errlen, "line %u: more than %d backends", lineno, NX_BACKENDS_MAX);
			goto fail;
		}
		if (b->n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct nx_backend *nv = realloc(b->v, nc * sizeof *nv);
			if (!nv) {
				nx_err(err, errlen, "out of memory");
				goto fail;
			}
			b->v = nv;
			cap = nc;
		}
		struct nx_backend *e = &b->v[b->n++];
		memset(e, 0, sizeof *e);
		e->line = lineno;
		if (parse_line(e, p, n, why, sizeof why) < 0) {
			nx_err(err, errlen, "line %u: %s", lineno, why);
			goto fail;
		}
		for (size_t j = 0; j + 1 < b->n; j++)
			if (strcmp(b->v[j].name, e->name) == 0) {
				nx_err(err, errlen, "line %u: backend %s already on line %u", lineno, e->name,
				       b->v[j].line);
				goto fail;
			}
		p = next;
	}
	*out = b;
	return 0;
fail:
	nx_backends_free(b);
	return -1;
}

int nx_backends_load_keys(struct nx_backends *b, const char *dir, char *err, size_t errlen)
{
	char why[NX_ERRLEN];
	for (size_t i = 0; i < b->n; i++) {
		struct nx_backend *e = &b->v[i];
		if (e->key_path) {
			char path[4096];
			if (e->key_path[0] != '/' && dir && *dir)
				snprintf(path, sizeof path, "%s/%s", dir, e->key_path);
			else
				snprintf(path, sizeof path, "%s", e->key_path);
			if (nx_key_load_file(path, &e->key, why, sizeof why) < 0)
				return nx_err(err, errlen, "line %u: %s", e->line, why);
			if (nx_key_type(e->key) == NX_KEY_HMAC)
				return nx_err(err, errlen, "line %u: %s: not a public key", e->line, path);
			free(e->key_path);
			e->key_path = NULL;
		}
		if (nx_key_thumbprint(e->key, e->kid, why, sizeof why) < 0)
			return nx_err(err, errlen, "line %u: %s", e->line, why);
		for (size_t j = 0; j < i; j++)
			if (strcmp(b->v[j].kid, e->kid) == 0)
				return nx_err(err, errlen, "line %u: the key of %s is already on line %u (%s)",
				              e->line, e->name, b->v[j].line, b->v[j].name);
	}
	return 0;
}

int nx_backends_load_file(const char *path, struct nx_backends **out, char *err,
                          size_t errlen)
{
	char *buf, why[NX_ERRLEN];
	size_t len;
	*out = NULL;
	if (nx_read_file(path, 4u << 20, &buf, &len, why, sizeof why) < 0)
		return nx_err(err, errlen, "%s", why);
	struct nx_backends *b;
	int rc = nx_backends_parse(buf, len, &b, why, sizeof why);
	free(buf);
	if (rc < 0)
		return nx_err(err, errlen, "%s: %s", path, why);
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	else
		dir[0] = 0;
	if (nx_backends_load_keys(b, dir, why, sizeof why) < 0) {
		nx_backends_free(b);
		return nx_err(err, errlen, "%s: %s", path, why);
	}
	*out = b;
	return 0;
}

const struct nx_backend *nx_backends_find_kid(const struct nx_backends *b, const char *kid)
{
	for (size_t i = 0; b && kid && i < b->n; i++)
		if (b->v[i].kid[0] && strcmp(b->v[i].kid, kid) == 0)
			return &b->v[i];
	return NULL;
}

static int host_granted(const struct nx_backend *be, const char *h)
{
	for (size_t i = 0; i < be->n_hosts; i++) {
		const char *g = be->hosts[i];
		if (strcmp(g, h) == 0)
			return 1;
		/* *.x covers a.x; a claim of *.x itself matched exactly above */
		if (nx_hostname_is_wildcard(g) && !nx_hostname_is_wildcard(h) && nx_hostname_match(g, h))
			return 1;
	}
	return 0;
}

int nx_backend_grant_check(const struct nx_backend *be, const struct nx_route_claims *c,
                           char *why, size_t whylen)
{
	for (size_t i = 0; i < c->n_hostnames; i++)
		if (!host_granted(be, c->hostnames[i]))
			return nx_err(why, whylen, "hostname %.80s is not granted to this key",
			              c->hostnames[i]);
	for (size_t i = 0; i < c->n_tcp_ports; i++) {
		size_t j = 0;
		while (j < be->n_tcp && be->tcp[j] != c->tcp_ports[i])
			j++;
		if (j == be->n_tcp)
			return nx_err(why, whylen, "tcp port %u is not granted to this key", c->tcp_ports[i]);
	}
	for (size_t i = 0; i < c->n_udp_routes; i++) {
		size_t j = 0;
		while (j < be->n_udp && be->udp[j] != c->udp_routes[i].port)
			j++;
		if (j == be->n_udp)
			return nx_err(why, whylen, "udp port %u is not granted to this key",
			              c->udp_routes[i].port);
	}
	if (be->max_weight && c->weight > be->max_weight)
		return nx_err(why, whylen, "weight %d is above this key's grant (%d)", c->weight,
		              be->max_weight);
	return 0;
}
