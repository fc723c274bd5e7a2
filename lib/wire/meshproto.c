/* meshproto.c — peer hub control messages: parse and encode (meshproto.h). */
#include "wire/meshproto.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static int fail(char *err, size_t errlen, const char *what)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", what);
	return -1;
}

int nx_mesh_route_key_normalize(const char *in, size_t len, char *out, size_t outlen, char *err,
                                size_t errlen)
{
	if (len > 4 && memcmp(in, "tcp:", 4) == 0) {
		unsigned long port = 0;
		size_t i;
		if (in[4] == '0' || len > 9)
			return fail(err, errlen, "bad port in route key");
		for (i = 4; i < len; i++) {
			if (in[i] < '0' || in[i] > '9')
				return fail(err, errlen, "bad port in route key");
			port = port * 10 + (unsigned long)(in[i] - '0');
		}
		if (port < 1 || port > 65535 || outlen < 10)
			return fail(err, errlen, "bad port in route key");
		snprintf(out, outlen, "tcp:%lu", port);
		return 0;
	}
	char why[NX_ERRLEN];
	if (nx_hostname_normalize(in, len, out, outlen, NX_HOSTNAME_WILDCARD_OK, why, sizeof why) <
	    0) {
		if (err && errlen)
			snprintf(err, errlen, "bad route key: %s", why);
		return -1;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int nx_mesh_node_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > NX_MESH_NODE_MAX)
		return 0;
	return nx_name_chars_ok(s, n);
}

static int parse_routes(const json_t *arr, struct nx_mesh_msg *m, char *err, size_t errlen)
{
	if (!json_is_array(arr))
		return fail(err, errlen, "routes: not an array");
	size_t n = json_array_size(arr);
	if (n > NX_MESH_MAX_ROUTES)
		return fail(err, errlen, "routes: too many route keys");
	m->routes = calloc(n ? n : 1, sizeof *m->routes);
	if (!m->routes)
		return fail(err, errlen, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const json_t *v = json_array_get(arr, i);
		if (!json_is_string(v))
			return fail(err, errlen, "routes: not a string");
		char key[NX_HOSTNAME_MAX + 1];
		if (nx_mesh_route_key_normalize(json_string_value(v), json_string_length(v), key,
		                                sizeof key, err, errlen) < 0)
			return -1;
		m->routes[m->n_routes] = strdup(key);
		if (!m->routes[m->n_routes])
			return fail(err, errlen, "out of memory");
		m->n_routes++;
	}
	qsort(m->routes, m->n_routes, sizeof *m->routes, cmp_str);
	size_t w = 0;
	for (size_t i = 0; i < m->n_routes; i++) {
		if (w && strcmp(m->routes[w - 1], m->routes[i]) == 0) {
			free(m->routes[i]);
			continue;
		}
		m->routes[w++] = m->routes[i];
	}
	m->n_routes = w;
	return 0;
}

int nx_mesh_msg_parse(const char *buf, size_t len, struct nx_mesh_msg *out, char *err,
                      size_t errlen)
{
	memset(out, 0, sizeof *out);
	if (len > NX_MESH_MAX_MSG)
		return fail(err, errlen, "control message too large");
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	if (!j)
		return fail(err, errlen, "control message is not JSON");
	int rc = -1;
	const json_t *type = json_object_get(j, "type");
	if (!json_is_object(j) || !json_is_string(type)) {
		fail(err, errlen, "control message has no type");
	} else if (strcmp(json_string_value(type), "hello") == 0) {
		const json_t *node = json_object_get(j, "node");
		out->type = NX_MESH_HELLO;
		if (!json_is_string(node) || json_string_length(node) != strlen(json_string_value(node)) ||
		    !nx_mesh_node_ok(json_string_value(node)))
			fail(err, errlen, "hello: bad node name");
		else {
			snprintf(out->node, sizeof out->node, "%s", json_string_value(node));
			rc = 0;
		}
	} else if (strcmp(json_string_value(type), "routes") == 0) {
		const json_t *ver = json_object_get(j, "version");
		out->type = NX_MESH_ROUTES;
		if (!json_is_integer(ver) || json_integer_value(ver) < 1 ||
		    json_integer_value(ver) >= (json_int_t)1 << 53)
			fail(err, errlen, "routes: bad version");
		else {
			out->version = (uint64_t)json_integer_value(ver);
			rc = parse_routes(json_object_get(j, "routes"), out, err, errlen);
		}
	} else {
		fail(err, errlen, "unknown control message type");
	}
	json_decref(j);
	return rc;
}

void nx_mesh_msg_free(struct nx_mesh_msg *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_routes; i++)
		free(m->routes[i]);
	free(m->routes);
	m->routes = NULL;
	m->n_routes = 0;
}

static char *dump(json_t *j, char *err, size_t errlen)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!s)
		fail(err, errlen, "out of memory");
	return s;
}

char *nx_mesh_hello_encode(const char *node, char *err, size_t errlen)
{
	if (!nx_mesh_node_ok(node)) {
		fail(err, errlen, "bad node name");
		return NULL;
	}
	return dump(json_pack("{s:s,s:s}", "type", "hello", "node", node), err, errlen);
}

char *nx_mesh_routes_encode(uint64_t version, const char *const *routes, size_t n, char *err,
                            size_t errlen)
{
	if (version < 1 || version >= (uint64_t)1 << 53 || n > NX_MESH_MAX_ROUTES) {
		fail(err, errlen, "bad route announcement");
		return NULL;
	}
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < n; i++) {
		char key[NX_HOSTNAME_MAX + 1];
		if (nx_mesh_route_key_normalize(routes[i], strlen(routes[i]), key, sizeof key, err,
		                                errlen) < 0 ||
		    json_array_append_new(arr, json_string(key)) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	if (!arr) {
		fail(err, errlen, "out of memory");
		return NULL;
	}
	return dump(json_pack("{s:s,s:I,s:o}", "type", "routes", "version", (json_int_t)version,
	                      "routes", arr),
	            err, errlen);
}
