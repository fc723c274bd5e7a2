/* tunnel_config.c — parsing what nexus-tunnel is told: the hub URL and --map entries. */
#include <stdio.h>
#include <string.h>

#include "core/hostname.h"
#include "core/sock.h"
#include "tunnel/tunnel.h"
#include "core/units.h"
#include "core/util.h"

int nx_tunnel_parse_url(const char *url, struct nx_hub_url *u, char *err, size_t errlen)
{
	memset(u, 0, sizeof *u);
	if (strncmp(url, "ws://", 5) == 0)
		return nx_err(err, errlen, "%s: the hub only speaks TLS, use wss://", url);
	if (strncmp(url, "wss://", 6) != 0)
		return nx_err(err, errlen, "%s: not a wss:// URL", url);
	const char *auth = url + 6;
	const char *slash = strchr(auth, '/');
	size_t alen = slash ? (size_t)(slash - auth) : strlen(auth);
	if (alen == 0 || alen >= sizeof u->host_header)
		return nx_err(err, errlen, "%s: no host in the URL", url);
	if (memchr(auth, '@', alen) || memchr(auth, '?', alen) || memchr(auth, '#', alen))
		return nx_err(err, errlen, "%s: user info, query or fragment not supported", url);
	memcpy(u->host_header, auth, alen);
	const char *path = slash ? slash : "/connect";
	if (strlen(path) >= sizeof u->path || strpbrk(path, " \r\n"))
		return nx_err(err, errlen, "%s: bad path", url);
	snprintf(u->path, sizeof u->path, "%s", path);
	/* host and optional port; IPv6 in brackets */
	char hp[300];
	snprintf(hp, sizeof hp, "%s", u->host_header);
	char *portp = NULL;
	if (hp[0] == '[') {
		char *rb = strchr(hp, ']');
		if (!rb)
			return nx_err(err, errlen, "%s: unterminated [IPv6] host", url);
		*rb = 0;
		snprintf(u->host, sizeof u->host, "%s", hp + 1);
		if (rb[1] == ':')
			portp = rb + 2;
		else if (rb[1])
			return nx_err(err, errlen, "%s: junk after [IPv6] host", url);
	} else {
		char *colon = strrchr(hp, ':');
		if (colon) {
			*colon = 0;
			portp = colon + 1;
		}
		snprintf(u->host, sizeof u->host, "%s", hp);
	}
	if (!u->host[0])
		return nx_err(err, errlen, "%s: no host in the URL", url);
	u->port = 443;
	if (portp) {
		long long p;
		char e[NX_ERRLEN];
		if (nx_parse_int(portp, 1, 65535, &p, e, sizeof e) < 0)
			return nx_err(err, errlen, "%s: bad port: %s", url, e);
		u->port = (uint16_t)p;
	}
	if (strchr(u->host, ':'))
		snprintf(u->dial, sizeof u->dial, "[%s]:%u", u->host, u->port);
	else
		snprintf(u->dial, sizeof u->dial, "%s:%u", u->host, u->port);
	return 0;
}

int nx_tunnel_parse_map(const char *spec, struct nx_tunnel_route *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	r->proxy = NX_TUNNEL_PROXY_INHERIT;
	const char *eq = strchr(spec, '=');
	if (!eq || eq == spec || !eq[1])
		return nx_err(err, errlen, "--map %s: expected HOSTNAME=HOST:PORT or PORT=HOST:PORT",
		              spec);
	size_t kl = (size_t)(eq - spec);
	/* the address, then options: ",proxy=v1" */
	const char *opt = strchr(eq + 1, ',');
	size_t al = opt ? (size_t)(opt - eq - 1) : strlen(eq + 1);
	if (kl >= sizeof r->key || al >= sizeof r->addr)
		return nx_err(err, errlen, "--map %s: too long", spec);
	for (size_t i = 0; i < kl; i++)
		r->key[i] = (char)((spec[i] >= 'A' && spec[i] <= 'Z') ? spec[i] + 32 : spec[i]);
	memcpy(r->addr, eq + 1, al);
	r->addr[al] = 0;
	if (opt) {
		int v = strncmp(opt, ",proxy=", 7) == 0 ? nx_proxy_version_parse(opt + 7) : -1;
		if (v < 0)
			return nx_err(err, errlen, "--map %s: bad option '%s' (want ,proxy=v1|v2|none)",
			              spec, opt + 1);
		r->proxy = v;
	}
	char host[256], e[NX_ERRLEN];
	uint16_t port;
	if (nx_split_hostport(r->addr, host, sizeof host, &port, e, sizeof e) < 0 || port == 0)
		return nx_err(err, errlen, "--map %s: bad address %s", spec, r->addr);
	/* the key: PORT, HOSTNAME or HOSTNAME:PORT */
	const char *name = r->key, *colon = strrchr(r->key, ':');
	size_t nl = strlen(r->key);
	long long p;
	if (strspn(r->key, "0123456789") == nl) {
		if (nx_parse_int(r->key, 1, 65535, &p, e, sizeof e) < 0)
			return nx_err(err, errlen, "--map %s: bad relay port: %s", spec, e);
		r->port = (uint16_t)p;
		return 0;
	}
	if (colon) {
		if (nx_parse_int(colon + 1, 1, 65535, &p, e, sizeof e) < 0)
			return nx_err(err, errlen, "--map %s: bad relay port after '%s': %s", spec,
			              "HOSTNAME:", e);
		r->port = (uint16_t)p;
		nl = (size_t)(colon - r->key);
	}
	if (nx_hostname_normalize(name, nl, r->host, sizeof r->host, NX_HOSTNAME_WILDCARD_OK, e,
	                          sizeof e) < 0)
		return nx_err(err, errlen, "--map %s: %s", spec, e);
	return 0;
}

static int host_matches(const struct nx_tunnel_route *r, const char *hostname, bool wildcard)
{
	if (!r->host[0] || !hostname || !*hostname)
		return 0;
	if (nx_hostname_is_wildcard(r->host) != wildcard)
		return 0;
	return wildcard ? nx_hostname_match(r->host, hostname) : strcmp(r->host, hostname) == 0;
}

const char *nx_tunnel_route_lookup(const struct nx_tunnel_route *map, size_t n,
                                   const char *hostname, uint16_t port, const char *dflt)
{
	const struct nx_tunnel_route *r = nx_tunnel_route_find(map, n, hostname, port);
	return r ? r->addr : dflt;
}

const struct nx_tunnel_route *nx_tunnel_route_find(const struct nx_tunnel_route *map, size_t n,
                                                   const char *hostname, uint16_t port)
{
	/* passes, most specific first: (exact, port) (exact) (wildcard, port) (wildcard) (port) */
	for (int pass = 0; pass < 5; pass++) {
		bool wild = pass == 2 || pass == 3, need_port = pass == 0 || pass == 2 || pass == 4;
		for (size_t i = 0; i < n; i++) {
			const struct nx_tunnel_route *r = &map[i];
			if (need_port ? (!port || r->port != port) : r->port != 0)
				continue;
			if (pass == 4 ? r->host[0] != 0 : !host_matches(r, hostname, wild))
				continue;
			return r;
		}
	}
	return NULL;
}

void nx_tunnel_describe(const struct nx_tunnel_cfg *c, char *out, size_t outlen)
{
	size_t o = 0;
#define PUT(...)                                                                        \
	do {                                                                                \
		if (o < outlen)                                                                 \
			o += (size_t)snprintf(out + o, outlen - o, __VA_ARGS__);                    \
	} while (0)
	if (outlen)
		out[0] = 0;
	if (!c->n_map) {
		/* one target for everything: "app.test → 127.0.0.1:8080, port 2222 → …" */
		const char *to = c->exec_cmd ? c->exec_cmd : c->to ? c->to : "(no target)";
		for (size_t i = 0; i < c->n_hostnames; i++)
			PUT("%s%s → %s", i ? ", " : "", c->hostnames[i], to);
		for (size_t i = 0; i < c->n_tcp_ports; i++)
			PUT("%sport %u → %s", i || c->n_hostnames ? ", " : "", c->tcp_ports[i], to);
		for (size_t i = 0; i < c->n_udp; i++)
			PUT("%sudp %u → %s", i || c->n_hostnames || c->n_tcp_ports ? ", " : "",
			    c->udp[i].port, c->udp[i].addr);
		PUT(" via %s", c->hub_url);
		if (c->proxy != NX_PROXY_NONE)
			PUT(" (PROXY %s)", nx_proxy_version_name(c->proxy));
		return;
	}
	for (size_t i = 0; i < c->n_hostnames; i++)
		PUT("%s%s", i ? ", " : "", c->hostnames[i]);
	for (size_t i = 0; i < c->n_tcp_ports; i++)
		PUT("%sport %u", i || c->n_hostnames ? ", " : "", c->tcp_ports[i]);
	for (size_t i = 0; i < c->n_udp; i++)
		PUT("%sudp %u → %s", i || c->n_hostnames || c->n_tcp_ports ? ", " : "", c->udp[i].port,
		    c->udp[i].addr);
	PUT(" via %s: ", c->hub_url);
	for (size_t i = 0; i < c->n_map; i++) {
		const struct nx_tunnel_route *r = &c->map[i];
		if (r->host[0])
			PUT("%s%s → %s", i ? ", " : "", r->key, r->addr);
		else
			PUT("%sport %u → %s", i ? ", " : "", r->port, r->addr);
		int pv = r->proxy == NX_TUNNEL_PROXY_INHERIT ? (int)c->proxy : r->proxy;
		if (pv != NX_PROXY_NONE)
			PUT(" (PROXY %s)", nx_proxy_version_name((enum nx_proxy_version)pv));
	}
	PUT(", otherwise → %s", c->to ? c->to : "refused");
	if (c->to && c->proxy != NX_PROXY_NONE)
		PUT(" (PROXY %s)", nx_proxy_version_name(c->proxy));
#undef PUT
	if (o >= outlen && outlen > 4)
		memcpy(out + outlen - 4, "...", 4);
}
