/* route_claims.c — see route_claims.h. */
#include "wire/route_claims.h"
#include "wire/hubproto.h"
#include "core/hostname.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

void nx_route_claims_free(struct nx_route_claims *c)
{
	for (size_t i = 0; i < c->n_hostnames; i++)
		free(c->hostnames[i]);
	free(c->hostnames);
	free(c->tcp_ports);
	free(c->udp_routes);
	memset(c, 0, sizeof *c);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_u16(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

/* An optional integer claim; absent or null → def. */
static int int_claim(const json_t *claims, const char *name, int64_t def, int64_t *out,
                     char *err, size_t errlen)
{
	const json_t *v = json_object_get(claims, name);
	if (!v || json_is_null(v)) {
		*out = def;
		return 0;
	}
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_real(v) && json_real_value(v) > -1e15 && json_real_value(v) < 1e15) {
		*out = (int64_t)json_real_value(v);
		return 0;
	}
	return nx_err(err, errlen, "claim %s is not a number", name);
}

static int parse_hostnames(const json_t *claims, struct nx_route_claims *c, char *err,
                           size_t errlen)
{
	const json_t *hs = json_object_get(claims, "hostnames");
	if (!hs || json_is_null(hs))
		return 0;
	if (!json_is_array(hs))
		return nx_err(err, errlen, "claim hostnames is not an array");
	size_t n = json_array_size(hs);
	if (n > NX_CLAIMS_MAX_HOSTNAMES)
		return nx_err(err, errlen, "too many hostnames");
	if (n == 0)
		return 0;
	c->hostnames = calloc(n, sizeof *c->hostnames);
	if (!c->hostnames)
		return nx_err(err, errlen, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(hs, i));
		if (!s)
			return nx_err(err, errlen, "hostname %zu is not a string", i);
		char norm[NX_HOSTNAME_MAX + 1], why[96];
		if (nx_hostname_normalize(s, strlen(s), norm, sizeof norm, NX_HOSTNAME_WILDCARD_OK, why,
	                          sizeof why) < 0)
			return nx_err(err, errlen, "hostname %zu refused: %s", i, why);
		c->hostnames[c->n_hostnames] = strdup(norm);
		if (!c->hostnames[c->n_hostnames])
			return nx_err(err, errlen, "out of memory");
		c->n_hostnames++;
	}
	qsort(c->hostnames, c->n_hostnames, sizeof *c->hostnames, cmp_str);
	size_t o = 0;
	for (size_t i = 0; i < c->n_hostnames; i++) {
		if (o && strcmp(c->hostnames[o - 1], c->hostnames[i]) == 0)
			free(c->hostnames[i]);
		else
			c->hostnames[o++] = c->hostnames[i];
	}
	c->n_hostnames = o;
	return 0;
}

static int cmp_udp(const void *a, const void *b)
{
	return (int)((const struct nx_udp_route *)a)->port - (int)((const struct nx_udp_route *)b)->port;
}

/* [{"port":N,"flow_idle_timeout_seconds":S}, ...]; a bare N is read as {"port":N}. */
static int parse_udp_routes(const json_t *us, struct nx_route_claims *c, char *err,
                            size_t errlen)
{
	size_t n = json_array_size(us);
	if (n > NX_CLAIMS_MAX_PORTS)
		return nx_err(err, errlen, "too many udp_routes");
	c->udp_routes = calloc(n ? n : 1, sizeof *c->udp_routes);
	if (!c->udp_routes)
		return nx_err(err, errlen, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const json_t *r = json_array_get(us, i), *p = r, *t = NULL;
		if (json_is_object(r)) {
			p = json_object_get(r, "port");
			t = json_object_get(r, "flow_idle_timeout_seconds");
		}
		if (!json_is_integer(p) || json_integer_value(p) < 1 || json_integer_value(p) > 65535)
			return nx_err(err, errlen, "udp_routes[%zu] has no port", i);
		int64_t idle = NX_UDP_IDLE_DEFAULT_S;
		if (t && !json_is_null(t)) {
			if (!json_is_number(t))
				return nx_err(err, errlen, "udp_routes[%zu] idle timeout is not a number", i);
			double d = json_number_value(t);
			idle = d <= 0 ? NX_UDP_IDLE_DEFAULT_S : d > 1e6 ? 1000000 : (int64_t)d;
		}
		if (idle < NX_UDP_IDLE_MIN_S)
			idle = NX_UDP_IDLE_MIN_S;
		if (idle > NX_UDP_IDLE_MAX_S)
			idle = NX_UDP_IDLE_MAX_S;
		c->udp_routes[c->n_udp_routes++] =
		    (struct nx_udp_route){(uint16_t)json_integer_value(p), (uint16_t)idle};
	}
	qsort(c->udp_routes, c->n_udp_routes, sizeof *c->udp_routes, cmp_udp);
	size_t o = 0;
	for (size_t i = 0; i < c->n_udp_routes; i++)
		if (!o || c->udp_routes[o - 1].port != c->udp_routes[i].port)
			c->udp_routes[o++] = c->udp_routes[i];
	c->n_udp_routes = o;
	return 0;
}

static int parse_ports(const json_t *claims, struct nx_route_claims *c, char *err,
                       size_t errlen)
{
	const json_t *ps = json_object_get(claims, "tcp_ports");
	if (ps && !json_is_null(ps)) {
		if (!json_is_array(ps))
			return nx_err(err, errlen, "claim tcp_ports is not an array");
		size_t n = json_array_size(ps);
		if (n > NX_CLAIMS_MAX_PORTS)
			return nx_err(err, errlen, "too many tcp_ports");
		c->tcp_ports = calloc(n ? n : 1, sizeof *c->tcp_ports);
		if (!c->tcp_ports)
			return nx_err(err, errlen, "out of memory");
		for (size_t i = 0; i < n; i++) {
			const json_t *v = json_array_get(ps, i);
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > 65535)
				return nx_err(err, errlen, "tcp_ports[%zu] is not a port", i);
			c->tcp_ports[c->n_tcp_ports++] = (uint16_t)json_integer_value(v);
		}
		qsort(c->tcp_ports, c->n_tcp_ports, sizeof *c->tcp_ports, cmp_u16);
		size_t o = 0;
		for (size_t i = 0; i < c->n_tcp_ports; i++)
			if (!o || c->tcp_ports[o - 1] != c->tcp_ports[i])
				c->tcp_ports[o++] = c->tcp_ports[i];
		c->n_tcp_ports = o;
	}
	const json_t *us = json_object_get(claims, "udp_routes");
	if (us && !json_is_null(us)) {
		if (!json_is_array(us))
			return nx_err(err, errlen, "claim udp_routes is not an array");
		return parse_udp_routes(us, c, err, errlen);
	}
	return 0;
}

int nx_route_claims_parse(const json_t *claims, struct nx_route_claims *c, char *err,
                            size_t errlen)
{
	memset(c, 0, sizeof *c);
	if (!json_is_object(claims))
		return nx_err(err, errlen, "claims are not an object");
	const char *sub = json_string_value(json_object_get(claims, "sub"));
	if (sub)
		nx_sanitize(c->sub, sizeof c->sub, sub, strlen(sub));
	if (parse_hostnames(claims, c, err, errlen) < 0 || parse_ports(claims, c, err, errlen) < 0)
		return -1;
	int64_t w;
	if (int_claim(claims, "weight", 1, &w, err, errlen) < 0 ||
	    int_claim(claims, "handshake_max_age_seconds", 0, &c->handshake_max_age_s, err,
	              errlen) < 0 ||
	    int_claim(claims, "reauth_interval_seconds", 0, &c->reauth_interval_s, err, errlen) <
	        0 ||
	    int_claim(claims, "reauth_grace_seconds", 10, &c->reauth_grace_s, err, errlen) < 0)
		return -1;
	c->weight = w <= 0 ? 1 : w > 1000000 ? 1000000 : (int)w;
	if (c->reauth_grace_s <= 0)
		c->reauth_grace_s = 10;
	const json_t *nonce = json_object_get(claims, "session_nonce");
	if (nonce && !json_is_null(nonce)) {
		const char *s = json_string_value(nonce);
		if (!s || strlen(s) >= sizeof c->session_nonce)
			return nx_err(err, errlen, "claim session_nonce is not a nonce");
		strcpy(c->session_nonce, s);
	}
	const json_t *ext = json_object_get(claims, "extensions");
	if (json_is_array(ext)) {
		size_t i;
		const json_t *e;
		json_array_foreach(ext, i, e)
		{
			const char *s = json_string_value(e);
			if (s && strcmp(s, NX_HUB_EXT_HALF_CLOSE) == 0)
				c->has_half_close = 1;
			if (s && strcmp(s, NX_HUB_EXT_INITIAL_WINDOW) == 0)
				c->has_initial_window = 1;
			if (s && strcmp(s, NX_HUB_EXT_RANDOM_NAME) == 0)
				c->has_random_name = 1;
		}
	}
	return 0;
}

int nx_route_claims_check_stage0(const struct nx_route_claims *c,
                                   const struct nx_route_policy *policy, char *err,
                                   size_t errlen)
{
	if (c->n_hostnames == 0 && c->n_tcp_ports == 0 && c->n_udp_routes == 0)
		return nx_err(err, errlen, "token claims no hostname or port");
	for (size_t i = 0; i < c->n_udp_routes; i++) {
		size_t j = 0;
		while (j < policy->n_allow_udp_ports &&
		       policy->allow_udp_ports[j] != c->udp_routes[i].port)
			j++;
		if (j == policy->n_allow_udp_ports)
			return nx_err(err, errlen, "udp port %u not allowed", c->udp_routes[i].port);
	}
	for (size_t i = 0; i < c->n_tcp_ports; i++) {
		size_t j = 0;
		while (j < policy->n_allow_tcp_ports && policy->allow_tcp_ports[j] != c->tcp_ports[i])
			j++;
		if (j == policy->n_allow_tcp_ports)
			return nx_err(err, errlen, "tcp port %u not allowed", c->tcp_ports[i]);
	}
	return 0;
}

int nx_route_claims_check_followup(const struct nx_route_claims *s0,
                                     const struct nx_route_claims *s1, const char *nonce,
                                     char *err, size_t errlen)
{
	if (!s1->session_nonce[0])
		return nx_err(err, errlen, "session_nonce missing");
	if (strcmp(s1->session_nonce, nonce) != 0)
		return nx_err(err, errlen, "session_nonce mismatch");
	if (s0->n_hostnames != s1->n_hostnames || s0->n_tcp_ports != s1->n_tcp_ports ||
	    s0->n_udp_routes != s1->n_udp_routes)
		return nx_err(err, errlen, "routes differ from stage 0");
	for (size_t i = 0; i < s0->n_hostnames; i++)
		if (strcmp(s0->hostnames[i], s1->hostnames[i]) != 0)
			return nx_err(err, errlen, "hostnames differ from stage 0");
	for (size_t i = 0; i < s0->n_tcp_ports; i++)
		if (s0->tcp_ports[i] != s1->tcp_ports[i])
			return nx_err(err, errlen, "tcp_ports differ from stage 0");
	for (size_t i = 0; i < s0->n_udp_routes; i++)
		if (s0->udp_routes[i].port != s1->udp_routes[i].port ||
		    s0->udp_routes[i].idle_s != s1->udp_routes[i].idle_s)
			return nx_err(err, errlen, "udp_routes differ from stage 0");
	if (s0->weight != s1->weight)
		return nx_err(err, errlen, "weight differs from stage 0");
	return 0;
}
