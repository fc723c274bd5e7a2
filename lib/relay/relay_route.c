/* relay_route.c — the relay's own routes: parsing NAME=ADDR, lookup (exact, then the one
 * wildcard that could cover the name), resolving addresses once, dialling them. */
#include "relay/relay_int.h"
#include "core/hostname.h"
#include "core/sock.h"
#include "core/units.h"
#include "core/util.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int nx_relay_parse_route(const char *spec, struct nx_relay_route *out, char *err, size_t errlen)
{
	const char *eq = strchr(spec, '=');
	if (!eq || eq == spec || !eq[1])
		return nx_err(err, errlen, "bad route '%s' (want NAME=HOST:PORT)", spec);
	size_t nlen = (size_t)(eq - spec);
	char e2[NX_ERRLEN];
	if (nlen > 4 && strncmp(spec, "tcp:", 4) == 0) {
		char num[8];
		long long port;
		if (nlen - 4 >= sizeof num)
			return nx_err(err, errlen, "bad port in route '%s'", spec);
		memcpy(num, spec + 4, nlen - 4);
		num[nlen - 4] = '\0';
		if (nx_parse_int(num, 1, 65535, &port, e2, sizeof e2) < 0)
			return nx_err(err, errlen, "route '%s': %s", spec, e2);
		snprintf(out->key, sizeof out->key, "tcp:%lld", port);
	} else if (nx_hostname_normalize(spec, nlen, out->key, sizeof out->key,
	                                 NX_HOSTNAME_WILDCARD_OK, e2, sizeof e2) < 0) {
		return nx_err(err, errlen, "route '%.*s': %s", (int)nlen, spec, e2);
	}
	char host[256];
	uint16_t port;
	if (nx_split_hostport(eq + 1, host, sizeof host, &port, e2, sizeof e2) < 0 || port == 0)
		return nx_err(err, errlen, "route '%s': bad address '%s'", spec, eq + 1);
	if (strlen(eq + 1) >= sizeof out->addr)
		return nx_err(err, errlen, "route '%s': address too long", spec);
	strcpy(out->addr, eq + 1);
	return 0;
}

const struct nx_relay_route *relay_route_find(const struct relay_table *t, const char *key)
{
	char wild[NX_HOSTNAME_MAX + 2];
	int have_wild = strncmp(key, "tcp:", 4) != 0 &&
	                nx_hostname_wildcard_of(key, wild, sizeof wild) == 0;
	const struct nx_relay_route *w = NULL;
	for (size_t i = 0; i < t->n; i++) {
		if (strcmp(t->routes[i].key, key) == 0)
			return &t->routes[i];
		if (have_wild && !w && strcmp(t->routes[i].key, wild) == 0)
			w = &t->routes[i];
	}
	return w;
}

struct relay_table *relay_table_new(const struct nx_relay_route *routes, size_t n, char *err,
                                    size_t errlen)
{
	struct relay_table *t = calloc(1, sizeof *t);
	if (!t || !(t->routes = calloc(n ? n : 1, sizeof *t->routes)) ||
	    !(t->targets = calloc(n ? n : 1, sizeof *t->targets))) {
		relay_table_drop(t);
		nx_err(err, errlen, "out of memory");
		return NULL;
	}
	t->refs = 1;
	t->n = n;
	if (n)
		memcpy(t->routes, routes, n * sizeof *routes);
	for (size_t i = 0; i < n; i++)
		if (relay_resolve_target(&t->routes[i], &t->targets[i], err, errlen) < 0) {
			relay_table_drop(t);
			return NULL;
		}
	return t;
}

struct relay_table *relay_table_hold(struct relay_table *t)
{
	t->refs++;
	return t;
}

void relay_table_drop(struct relay_table *t)
{
	if (t && (t->refs <= 1)) {
		free(t->routes);
		free(t->targets);
		free(t);
	} else if (t) {
		t->refs--;
	}
}


int relay_resolve_target(const struct nx_relay_route *rt, struct relay_target *t, char *err,
                         size_t errlen)
{
	char host[256], port[8];
	uint16_t p;
	if (nx_split_hostport(rt->addr, host, sizeof host, &p, err, errlen) < 0)
		return -1;
	snprintf(port, sizeof port, "%u", p);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host[0] ? host : "127.0.0.1", port, &hints, &res);
	if (rc != 0)
		return nx_err(err, errlen, "route %s: cannot resolve %s: %s", rt->key, rt->addr,
		              gai_strerror(rc));
	memcpy(&t->sa, res->ai_addr, res->ai_addrlen);
	t->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* Start a non-blocking connect to a resolved target. Returns the fd or -1. */
int relay_dial_target(const struct relay_target *t)
{
	int fd = socket(t->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)&t->sa, t->len) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

int nx_relay_check_routes(const struct nx_relay_route *routes, size_t n, char *err, size_t errlen)
{
	struct relay_table *t = relay_table_new(routes, n, err, errlen);
	relay_table_drop(t);
	return t ? 0 : -1;
}
