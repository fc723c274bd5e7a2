/* backend_claims.c — see backend_claims.h. */
#include "token/backend_claims.h"
#include "core/hostname.h"
#include "core/units.h"
#include "core/util.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
	if (nx_hostname_normalize(name, strlen(name), h, sizeof h, NX_HOSTNAME_WILDCARD_OK, err,
	                          errlen) < 0)
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

int nx_claims_add_backend_env(json_t *claims, char *(*getenv_fn)(const char *), char *err,
                              size_t errlen)
{
	const char *stage = getenv_fn("NEXUS_ATTESTATION_STAGE");
	const char *nonce = getenv_fn("NEXUS_SESSION_NONCE");
	const char *v;
	char e2[NX_ERRLEN];
	if (stage && *stage && strcmp(stage, "handshake") != 0 && strcmp(stage, "attest") != 0 &&
	    strcmp(stage, "reauth") != 0)
		return nx_err(err, errlen, "NEXUS_ATTESTATION_STAGE '%.32s' is not handshake, attest "
		                           "or reauth", stage);
	if (stage && (!strcmp(stage, "attest") || !strcmp(stage, "reauth")) && !(nonce && *nonce))
		return nx_err(err, errlen, "stage %s needs NEXUS_SESSION_NONCE", stage);
	if (nonce && *nonce && !json_object_get(claims, "session_nonce"))
		json_object_set_new(claims, "session_nonce", json_string(nonce));
	if ((v = getenv_fn("NEXUS_BACKEND_NAME")) && *v && !json_object_get(claims, "sub"))
		json_object_set_new(claims, "sub", json_string(v));
	static const struct {
		const char *var, *claim;
		int (*add)(json_t *, const char *, char *, size_t);
	} lists[] = {
	    {"NEXUS_HOSTNAMES", "hostnames", nx_claims_add_hostname},
	    {"NEXUS_TCP_PORTS", "tcp_ports", nx_claims_add_tcp_port},
	    {"NEXUS_UDP_ROUTES", "udp_routes", nx_claims_add_udp_route},
	};
	for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
		if (json_object_get(claims, lists[i].claim) || !(v = getenv_fn(lists[i].var)))
			continue;
		if (nx_claims_add_list(claims, v, lists[i].add, e2, sizeof e2) < 0)
			return nx_err(err, errlen, "%s: %s", lists[i].var, e2);
	}
	if ((v = getenv_fn("NEXUS_WEIGHT")) && *v && !json_object_get(claims, "weight")) {
		long long w;
		if (nx_parse_int(v, -1000000, 1000000, &w, e2, sizeof e2) < 0)
			return nx_err(err, errlen, "NEXUS_WEIGHT: %s", e2);
		json_object_set_new(claims, "weight", json_integer(w));
	}
	return 0;
}
