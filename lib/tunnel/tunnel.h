/* tunnel.h — the backend side of the reverse tunnel (nexus-tunnel).
 *
 * Dials the hub (wss://HOST:PORT/connect), authenticates in two stages (shared/protocol.md
 * §2) with a token from the built-in signer (a key file: HMAC secret, RSA or EC private key)
 * or an external command, then serves the streams the hub opens: each one goes to a local
 * TCP address (by hostname, by relay port, or a default) or to a command spawned per stream
 * with the stream on its stdin/stdout (inetd / ucspi style). Credits per stream exactly as
 * §4, so a slow local service never stalls the others. Pings every 5 s, drops a hub silent
 * for 10 s, reconnects with capped exponential backoff and jitter, exits cleanly on
 * SIGTERM/SIGINT.
 *
 * The library never prints: everything worth saying goes through cfg->log, one line each. */
#ifndef NEXUS_TUNNEL_H
#define NEXUS_TUNNEL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/log.h"
#include "wire/proxyproto.h"

struct nx_tunnel_cfg;

struct nx_hub_url {
	char host[300];      /* name or IP literal (no brackets) */
	uint16_t port;       /* 443 when the URL has none */
	char path[256];      /* "/connect" when the URL has none */
	char dial[310];      /* "host:port" / "[v6]:port" for nx_dial_tcp */
	char host_header[300]; /* Host header: as written in the URL */
};

/* Parse "wss://host[:port][/path]". Plain ws:// is refused (the hub only speaks TLS). */
int nx_tunnel_parse_url(const char *url, struct nx_hub_url *u, char *err, size_t errlen);

/* Where a stream goes: key is a hostname ("app.test"), a wildcard ("*.app.test"), a relay
 * port number ("2222") or a hostname and relay port ("app.test:443"); addr is "host:port". */
struct nx_tunnel_route {
	char key[270];  /* as given, lower-cased (for messages) */
	char host[256]; /* normalised hostname or wildcard; "" for any */
	uint16_t port;  /* relay port; 0 for any */
	char addr[300];
	int proxy;      /* PROXY protocol header to the target: enum nx_proxy_version, or
	                 * NX_TUNNEL_PROXY_INHERIT (the global --proxy-protocol) */
};
#define NX_TUNNEL_PROXY_INHERIT (-1)

/* A UDP port claim and where its flows go (--udp-port N[:IDLE]=HOST:PORT). */
struct nx_tunnel_udp {
	uint16_t port;
	uint16_t idle_s; /* flow_idle_timeout_seconds claimed; 0: left to the hub (30 s) */
	char addr[300];
};
/* Parse "PORT[:IDLE]=HOST:PORT" (IDLE a duration in whole seconds, units.h). */
int nx_tunnel_parse_udp(const char *spec, struct nx_tunnel_udp *out, char *err, size_t errlen);

/* Parse "KEY=HOST:PORT[,proxy=v1|v2|none]" (a --map argument). */
int nx_tunnel_parse_map(const char *spec, struct nx_tunnel_route *r, char *err, size_t errlen);

/* Where a stream for `hostname` (may be NULL or "") on relay port `port` goes, most specific
 * first: exact hostname and port, exact hostname, wildcard and port, wildcard, port alone;
 * else `dflt` (may be NULL). */
const char *nx_tunnel_route_lookup(const struct nx_tunnel_route *map, size_t n,
                                   const char *hostname, uint16_t port, const char *dflt);
/* The same, as the map entry (NULL: none matches, the default applies). */
const struct nx_tunnel_route *nx_tunnel_route_find(const struct nx_tunnel_route *map, size_t n,
                                                   const char *hostname, uint16_t port);

/* The "serving" line: what the hub accepted (the claims) and every way a stream can go
 * ("app.test, port 2222 via URL: app.test:443 → A, port 2222 → B, otherwise → C"). */
void nx_tunnel_describe(const struct nx_tunnel_cfg *cfg, char *out, size_t outlen);


/* What SIGHUP replaces: where new streams go. mem (freed with free_mem when replaced
 * again or at exit) owns the strings map and to point into. */
struct nx_tunnel_targets {
	struct nx_tunnel_route *map;
	size_t n_map;
	const char *to;
	enum nx_proxy_version proxy;
	void *mem;
	void (*free_mem)(void *mem);
};
/* Read the configuration again (-1 with err: refused, the running one stays). */
typedef int (*nx_tunnel_reload_fn)(void *arg, struct nx_tunnel_targets *out, char *err,
                                   size_t errlen);

#define NX_TUNNEL_MAX_FRAME_DEFAULT ((size_t)1 << 20)
#define NX_TUNNEL_MAX_FRAME_MIN 32785 /* NX_HUB_MAX_MESSAGE: what the protocol allows */
#define NX_TUNNEL_MAX_FRAME_MAX ((size_t)64 << 20)

#define NX_TUNNEL_MAX_CONNECTIONS 64

struct nx_tunnel_cfg {
	const char *hub_url;
	const char *server_name;  /* name the hub certificate must carry (default: URL host) */
	const char *ca_file;      /* NULL: the system bundle */
	const char *secret_file;  /* built-in signer: HMAC secret, RSA or EC private key */
	const char *token_cmd;    /* or: external command (sh -c), NEXUS_ATTESTATION_* env */
	const char *name;         /* backend name (token sub, NEXUS_BACKEND_NAME) */
	const char *const *hostnames; /* normalised route claims */
	size_t n_hostnames;
	const uint16_t *tcp_ports;
	size_t n_tcp_ports;
	const struct nx_tunnel_udp *udp; /* UDP port claims, each with its local address */
	size_t n_udp;
	int weight;               /* ≤ 0: claim left out (the hub counts it as 1) */
	/* targets: map first (exact hostname, wildcard, relay port), then `to`; or exec */
	const struct nx_tunnel_route *map;
	size_t n_map;
	const char *to;
	const char *exec_cmd;
	/* PROXY protocol header before each stream's first byte to --to / --exec and to maps
	 * that do not say otherwise (the end user's address from connect's client_ip) */
	enum nx_proxy_version proxy;
	size_t max_streams;       /* open streams at once (0 = 1024); more are refused */
	size_t max_streams_per_source; /* of which from one end-user address (0: an eighth) */
	bool retry;               /* a refusal before the first session served: retry anyway */
	bool random_name;         /* quick start: ask for a random name, kept across reconnects */
	/* Largest WebSocket message taken from the hub (0 = NX_TUNNEL_MAX_FRAME_DEFAULT). The
	 * protocol says 32 785, but a Nexus Proxy server sends an HTTP head over 32 KiB as one
	 * message (protocol.md §7): accepting it costs that stream's buffer, while refusing it
	 * would end the whole session. Bigger ones still end the session (1009). */
	size_t max_frame;
	/* timing (0 = protocol defaults) */
	uint64_t ping_ms, idle_ms, backoff_min_ms, backoff_max_ms, token_ttl_ms;
	nx_log_sink_fn log;   /* one line per event as msg, kv NULL (log.h); NULL: nowhere */
	void *log_arg;
	/* SIGHUP: new targets for new streams (streams in flight keep theirs); NULL: SIGHUP
	 * is logged and ignored */
	nx_tunnel_reload_fn reload;
	void *reload_arg;
	/* sessions to the hub at once (0 = 1; at most NX_TUNNEL_MAX_CONNECTIONS): the hub
	 * spreads new streams over them */
	size_t connections;
	/* "host:port": serve GET /metrics (Prometheus text) there; NULL: none */
	const char *metrics_addr;
	/* A stream's local side from elsewhere (the session gate, lib/gate): returns a
	 * connected fd, -1 with err (refused), or -2 (not its host: dial target as usual).
	 * client is the end user's "ip:port" as the hub reports it; target the numeric
	 * "ip:port" the stream would dial. NULL: none. */
	int (*stream_hook)(void *arg, const char *hostname, const char *client, const char *target,
	                   int is_tls, char *err, size_t errlen);
	void *stream_hook_arg;
};

/* -n: what nx_tunnel_run would refuse at start, without dialling: the hub URL, the CA
 * file, the key (readable, a private key or secret that can sign). 0, or -1 with err. */
int nx_tunnel_check(const struct nx_tunnel_cfg *cfg, char *err, size_t errlen);

/* Run until SIGTERM/SIGINT (returns 0). Returns -1 with err for what retrying cannot fix:
 * setup failures (bad URL, unreadable key or CA file) and, unless cfg->retry, a permanent
 * refusal before the first session served (err then says what to change). Other hub
 * failures are logged and retried with backoff; a session that served for a while is
 * followed by a reconnect at once. */
int nx_tunnel_run(const struct nx_tunnel_cfg *cfg, char *err, size_t errlen);

/* tunnel_hint.c: which refusals retrying cannot fix, and what to change instead (one
 * phrase each, never NULL). */
bool nx_tunnel_refusal_permanent(uint16_t close_code, const char *reason);
const char *nx_tunnel_hint_refusal(const char *reason);
bool nx_tunnel_http_permanent(int status);
const char *nx_tunnel_hint_http(int status);
bool nx_tunnel_cert_permanent(int br_err);
const char *nx_tunnel_hint_cert(int br_err);

#endif
