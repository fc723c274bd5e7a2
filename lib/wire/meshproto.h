/* meshproto.h — control messages between peer hubs on a /mesh link (issue 16).
 *
 * A peer control message is one WebSocket text message holding a JSON object:
 *
 *   {"type":"hello","node":"hub-a"}                 first message each way: who I am
 *   {"type":"routes","version":7,"routes":[…]}      the full set of route keys the sender's
 *                                                   local backends serve (never a delta)
 *
 * Route keys are what protocol.md §5 looks up: a normalised hostname, a single-label wildcard
 * "*.example.com", or "tcp:N". A "routes" message replaces the previous set from that peer
 * when its version is higher; an empty set withdraws everything. Only locally served keys are
 * announced, never keys learned from another peer, so announcements cannot loop.
 *
 * The parser is pure: it takes a whole (reassembled) WebSocket message and returns done or
 * invalid; there is no "need more" because the WebSocket layer already delimits messages.
 * Unknown fields are ignored, unknown types are refused (the link is then closed). */
#ifndef NEXUS_MESHPROTO_H
#define NEXUS_MESHPROTO_H
#include <stddef.h>
#include <stdint.h>

#include "core/hostname.h"

#define NX_MESH_MAX_MSG (1024 * 1024) /* bytes of one control message */
#define NX_MESH_MAX_ROUTES 4096       /* route keys in one announcement */
#define NX_MESH_NODE_MAX 63           /* bytes of a node name, without the NUL */
/* 1 when s can be a node name: 1..NX_MESH_NODE_MAX of [A-Za-z0-9._-]. */
int nx_mesh_node_ok(const char *s);

enum nx_mesh_type { NX_MESH_HELLO = 1, NX_MESH_ROUTES = 2 };

struct nx_mesh_msg {
	enum nx_mesh_type type;
	char node[NX_MESH_NODE_MAX + 1]; /* HELLO: [A-Za-z0-9._-]+ */
	uint64_t version;                /* ROUTES: ≥ 1, below 2^53 */
	char **routes;                   /* ROUTES: normalised, sorted, no duplicates */
	size_t n_routes;
};

/* Parse one control message. 0, or -1 with the reason in err. Free with nx_mesh_msg_free(),
 * also after a failure. */
int nx_mesh_msg_parse(const char *buf, size_t len, struct nx_mesh_msg *out, char *err,
                      size_t errlen);
void nx_mesh_msg_free(struct nx_mesh_msg *m);

/* Normalise one route key into out (≥ NX_HOSTNAME_MAX + 1 bytes). 0, or -1 with err. */
int nx_mesh_route_key_normalize(const char *in, size_t len, char *out, size_t outlen, char *err,
                                size_t errlen);

/* Encode a message (heap string, free()), or NULL with err. routes need not be sorted. */
char *nx_mesh_hello_encode(const char *node, char *err, size_t errlen);
char *nx_mesh_routes_encode(uint64_t version, const char *const *routes, size_t n, char *err,
                            size_t errlen);

#endif
