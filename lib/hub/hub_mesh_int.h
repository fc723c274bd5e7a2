/* hub_mesh_int.h — the peer mesh (issue 16, protocol.md §5 "peer hubs"), internal to lib/hub.
 *
 * A link is dialled by the hub that OFFERS its backends (--peer URL) to the hub at URL:
 *   dialler (hub_mesh.c)       TLS client, WebSocket client on /mesh; first text message a
 *                              JWT signed with the peer secret, then meshproto hello and
 *                              routes (the full set of keys its LOCAL backends serve,
 *                              versioned, re-sent on every change). It receives `connect`s
 *                              and delivers each to a local backend only (hub_mesh_stream.c:
 *                              a socketpair whose one end enters the normal stream path).
 *   acceptor (hub_mesh_peer.c) an ordinary hub_session with mesh set: the token makes it
 *                              live, its routes go into hub->peer_routes, looked up after
 *                              the local table; streams to it are ordinary hub_streams.
 * A stream that came over a link is never sent over another link (local delivery only), and
 * only local keys are announced, so nothing loops. */
#ifndef NEXUS_HUB_MESH_INT_H
#define NEXUS_HUB_MESH_INT_H
#include "hub/hub_int.h"

#define NX_MESH_PATH "/mesh"
#define NX_MESH_AUD "nexus-mesh"

struct mesh_link;
struct mesh_stream;
struct nx_key;

struct hub_mesh {
	struct nx_key *key;        /* the peer secret (HS256), both to sign and to check */
	struct nx_tls_trust *trust; /* for the certificates of the hubs we dial */
	struct nx_tls_trust *client_trust; /* --peer-client-ca: for the hubs that dial us */
	char client_name[256];     /* --peer-client-name, "" for any */
	char node[64];
	struct mesh_link *links;   /* one per --peer */
	size_t n_links;
	uint64_t version;          /* of our local route set, bumped on every change */
	struct nx_timer announce;  /* coalesces changes into one announcement */
	uint64_t routes_learned;   /* announcements taken from peers (metrics) */
};

/* hub_mesh.c: per hub */
int hub_mesh_open(struct nx_hub *hub, char *err, size_t errlen); /* no --peer*: nothing */
void hub_mesh_close(struct nx_hub *hub);
/* -n: the peer secret, --peer-ca and the URLs load. 0, or -1 with err. */
int hub_mesh_check(const struct nx_hub_config *cfg, char *err, size_t errlen);
/* The local route table changed: every live link announces the new set (soon). */
void hub_mesh_local_changed(struct nx_hub *hub);
/* Counters for metrics and status. */
size_t hub_mesh_links_up(const struct nx_hub *hub);

/* hub_mesh.c: link output for hub_mesh_stream.c (masked client frames) */
int mesh_link_send(struct mesh_link *l, int op, const void *a, size_t alen, const void *b,
                   size_t blen);
int mesh_link_send_control(struct mesh_link *l, const struct nx_hub_control *c);
int mesh_link_out_full(const struct mesh_link *l);
void mesh_link_flush(struct mesh_link *l);
struct nx_hub *mesh_link_hub(const struct mesh_link *l);
struct mesh_stream **mesh_link_streams(struct mesh_link *l);
/* Refusals of the peer's streams: each end user behind it can cause one, so logged once a second. */
struct nx_rate *mesh_link_refused(struct mesh_link *l);

/* hub_mesh_stream.c: streams a peer opened over a link we dialled */
void mesh_stream_connect(struct mesh_link *l, const struct nx_hub_control *c);
void mesh_stream_on_data(struct mesh_link *l, const struct nx_uuid *id, const uint8_t *d,
                         size_t n);
void mesh_stream_on_control(struct mesh_link *l, const struct nx_hub_control *c);
void mesh_streams_wake(struct mesh_link *l);   /* link output has room again */
void mesh_streams_close_all(struct mesh_link *l);

/* hub_mesh_peer.c: the accepting side */
int hub_mesh_accepts(const struct nx_hub *hub); /* a peer secret is configured */
/* A new backend-listener TLS connection: ask for a client certificate (--peer-client-ca). */
int hub_mesh_tls_server(struct nx_hub *hub, struct nx_tls *tls, char *err, size_t errlen);
void hub_mesh_on_text(struct hub_session *s, const uint8_t *data, size_t len);
void hub_mesh_session_gone(struct hub_session *s); /* its routes leave hub->peer_routes */
/* A peer that announced key (after the local table came up empty), or NULL. */
struct hub_session *hub_mesh_pick(struct nx_hub *hub, const char *key);
size_t hub_mesh_peer_routes(const struct nx_hub *hub);
/* A peer answered disconnect for st: if it said "no route" before any byte came back, the
 * end user gets what the relay would have said (HTTP 502, TLS alert unrecognized_name). */
void hub_mesh_no_route(struct hub_stream *st, const struct nx_hub_control *c);

#endif
