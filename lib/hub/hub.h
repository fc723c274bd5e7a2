/* hub.h — nexus-hub: the centre of the reverse tunnel (shared/protocol.md).
 *
 * Backends (nexus-tunnel, or any Nexus Proxy backend) dial in over TLS WebSocket on /connect
 * and authenticate with two JWTs; their claimed hostnames and ports go into the route table.
 * nexus-relay hands over end-user connections (lib/handoff.h) with the bytes it has read; the
 * hub picks a backend for the route key (exact, wildcard, weighted round robin), opens a
 * stream on that backend's WebSocket and pumps bytes both ways under per-stream credits, so
 * one slow end user never stalls the others and no stream buffers more than its window.
 *
 * Modules: hub.c (listeners that pause when fds run short, route table), hub_relay.c (the
 * relay socket: creation, peer check, handoffs), hub_admit.c (caps on unauthenticated
 * connections, per source and in all), hub_session.c (one backend WebSocket: upgrade, auth,
 * keep-alive, message dispatch, output queue), hub_stream.c (one end-user stream),
 * hub_auth.c (token checks), hub_verify.c (the remote verifier, --verify-url). The library does not print: what happens is
 * reported through the config's log callback, one line each. */
#ifndef NEXUS_HUB_H
#define NEXUS_HUB_H
#include <stddef.h>
#include <stdint.h>

#include "core/log.h"
#include "core/loop.h"

#define NX_HUB_MAX_ALLOW_PORTS 64
#define NX_HUB_MAX_RELAY_IDS 32
#define NX_HUB_MAX_PEERS 16
#define NX_HUB_MAX_HOSTNAMES 8

/* Defaults of the defences (README "Security"). */
#define NX_HUB_MAX_PENDING 1024           /* unauthenticated backend connections at once */
#define NX_HUB_MAX_PENDING_PER_SOURCE 16  /* ... of which from one address (IPv6: one /64) */
#define NX_HUB_HANDSHAKE_TIMEOUT_MS 5000  /* TLS handshake + WebSocket upgrade, from accept */
#define NX_HUB_STAGE_TIMEOUT_MS 5000      /* each token stage after the upgrade */
#define NX_HUB_RELAY_SOCKET_MODE 0660
#define NX_HUB_MAX_UDP_FLOWS 4096           /* UDP flows per port at once */
#define NX_HUB_MAX_UDP_FLOWS_PER_SOURCE 256 /* ... of which from one address (IPv6: /64) */
#define NX_HUB_MAX_STREAMS 16384          /* end-user TCP streams at once, every backend */
#define NX_HUB_MAX_BUFFERED (256ull << 20) /* bytes held for end users that do not read */
#define NX_HUB_MAX_STREAMS_PER_SOURCE 256 /* ... of which from one address (IPv6: /64) */
/* Live (authenticated) backend sessions at once, and of those with one backend name (the
 * token's sub). Each costs ~45 KiB idle and about 256 KiB more while its backend reads
 * slowly (the output queue's high mark): 4096 of them ~180 MiB idle, ~1.2 GiB all slow.
 * 256 under one name: four nexus-tunnel --connections 64 (its most), or two of them while
 * each reconnects and the hub still holds its old sessions. */
#define NX_HUB_MAX_SESSIONS 4096
#define NX_HUB_MAX_SESSIONS_PER_BACKEND 256
#define NX_HUB_VERIFY_TIMEOUT_MS 10000    /* --verify-url: one verification */
#define NX_HUB_MAX_VERIFY 64              /* --verify-url: verifications in flight at once */

/* How far ahead of the hub's clock (beyond --leeway) a backend token's iat may be. */
#define NX_HUB_IAT_SKEW_S 60


struct nx_hub_config {
	const char *listen;        /* backend listener "host:port" */
	int listen_fd;             /* or an already listening socket (>= 0), e.g. systemd's */
	const char *cert_file;     /* TLS certificate chain (PEM) */
	const char *key_file;      /* TLS private key (PEM) */
	const char *secret_file;   /* HMAC secret for backend tokens, or */
	const char *verify_key;    /* an RS256/ES256 public key (both may be absent with */
	const char *backends_file; /* a key and a grant per backend, hub/backends.h) */
	const char *verify_url;    /* --verify-url: an https URL every other token is POSTed to */
	const char *verify_ca;     /* CA file for its certificate (NULL: the system's) */
	uint64_t verify_timeout_ms; /* 0: NX_HUB_VERIFY_TIMEOUT_MS */
	size_t max_verify;         /* verifications in flight at once (0: NX_HUB_MAX_VERIFY) */
	const char *relay_socket;  /* unix SOCK_SEQPACKET path nexus-relay hands clients to */
	uint16_t allow_tcp_ports[NX_HUB_MAX_ALLOW_PORTS];
	size_t n_allow_tcp_ports;
	uint16_t allow_udp_ports[NX_HUB_MAX_ALLOW_PORTS]; /* backends may claim udp:N */
	size_t n_allow_udp_ports;
	size_t max_udp_flows;            /* flows per UDP port (0: NX_HUB_MAX_UDP_FLOWS) */
	size_t max_udp_flows_per_source; /* of which from one address (0: ..._PER_SOURCE) */
	uint64_t idle_timeout_ms;  /* a stream with no bytes either way this long is closed */
	int64_t leeway_s;          /* clock skew allowed on token times */
	const char *deny_list;     /* jti deny-list (denylist.h) checked on every token; NULL */
	int exclusive_hostnames;   /* refuse a backend whose sub differs from a hostname's holder */
	uint64_t auth_timeout_ms;  /* per auth stage (default NX_HUB_STAGE_TIMEOUT_MS) */
	uint64_t handshake_timeout_ms; /* TLS + upgrade (default NX_HUB_HANDSHAKE_TIMEOUT_MS) */
	size_t max_pending;            /* 0: NX_HUB_MAX_PENDING */
	size_t max_pending_per_source; /* 0: NX_HUB_MAX_PENDING_PER_SOURCE */
	/* End-user TCP streams (handed over by the relay, or by a peer hub) at once, and of
	 * those from one client address: the relay bounds only the connections it still holds. */
	size_t max_streams;            /* 0: NX_HUB_MAX_STREAMS */
	uint64_t max_buffered;         /* 0: NX_HUB_MAX_BUFFERED; each loop holds its share */
	size_t max_streams_per_source; /* 0: NX_HUB_MAX_STREAMS_PER_SOURCE */
	/* Live backend sessions (peer hubs' mesh links are not counted), and of those with one
	 * backend name; one more is refused with close 1013 (try again later). */
	size_t max_sessions;             /* 0: NX_HUB_MAX_SESSIONS */
	size_t max_sessions_per_backend; /* 0: NX_HUB_MAX_SESSIONS_PER_BACKEND */
	/* Who may hand connections over the relay socket (SO_PEERCRED): root and the hub's own
	 * uid always, plus these uids and members (primary or supplementary) of these groups. */
	uint32_t relay_uids[NX_HUB_MAX_RELAY_IDS];
	size_t n_relay_uids;
	uint32_t relay_gids[NX_HUB_MAX_RELAY_IDS];
	size_t n_relay_gids;
	unsigned relay_socket_mode;    /* 0: NX_HUB_RELAY_SOCKET_MODE */
	int relay_socket_group_set;    /* give the socket file this group: */
	uint32_t relay_socket_gid;
	uint64_t ping_ms;          /* keep-alive ping interval (default NX_HUB_PING_MS) */
	uint64_t silent_ms;        /* drop a backend silent this long (default NX_HUB_IDLE_MS) */
	/* SIGHUP: fill *out with the configuration as it is now (options, --config file,
	 * environment; strings that outlive the hub). NULL: the same options, files re-read.
	 * 0, or -1 with err (the reload is refused). */
	int (*reload)(void *arg, struct nx_hub_config *out, char *err, size_t errlen);
	void *reload_arg;
	const char *peers[NX_HUB_MAX_PEERS]; /* --peer wss://HOST:PORT/mesh: offer our backends */
	size_t n_peers;
	const char *peer_secret_file; /* --peer-secret-file: HMAC secret of the mesh (both ways) */
	const char *peer_ca;       /* --peer-ca: CA file for the peers' certificates (NULL: system) */
	const char *node_name;     /* --node-name: this hub in the mesh (NULL: host name) */
	const char *peer_client_ca; /* --peer-client-ca: dialling peers must show a certificate
	                             * from this CA (mutual TLS); NULL: the secret alone */
	const char *peer_client_name; /* --peer-client-name: ... with a DNS name matching this
	                               * ("*.mesh.example" = one label); NULL: any */
	const char *metrics_addr;  /* --metrics: GET /metrics and /backends there; NULL: none */
	/* ACME (hub_acme.c): with acme_directory the hub obtains its certificate for hostnames
	 * into acme_dir/cert.pem, answers HTTP-01 through files in acme_dir/challenges (for
	 * nexus-relay --acme-challenge-dir), renews it and installs it without restart.
	 * cert_file/key_file are then optional: used until an ACME certificate exists. */
	const char *acme_directory;
	const char *acme_email;
	const char *acme_dir;
	const char *acme_challenge_dir; /* NULL: acme_dir/challenges */
	const char *acme_ca;       /* PEM bundle to trust the ACME server with; NULL: system */
	const char *hostnames[NX_HUB_MAX_HOSTNAMES];
	size_t n_hostnames;
	uint64_t acme_poll_ms;     /* 0: the client's default */
	/* --workers: threads that carry live sessions and their streams (hub_worker.c); 0 or 1:
	 * none, everything on the caller's loop. */
	unsigned workers;
	nx_log_sink_fn log;        /* where events go (log.h); NULL: nowhere */
	void *log_arg;
};

struct nx_hub;

/* Load credentials and keys, bind the listeners and register them with the loop. */
struct nx_hub *nx_hub_new(struct nx_loop *loop, const struct nx_hub_config *cfg, char *err,
                          size_t errlen);
/* Close everything (sessions, streams, listeners, the relay socket file). NULL is fine. */
void nx_hub_free(struct nx_hub *hub);

/* Counters for status lines and tests. */
struct nx_hub_stats {
	size_t sessions;   /* authenticated backend sessions */
	size_t streams;    /* open end-user streams */
	size_t routes;     /* distinct route keys */
	uint64_t buffered; /* bytes the hub holds for end users and backends now */
};
void nx_hub_get_stats(struct nx_hub *hub, struct nx_hub_stats *st);

/* SIGHUP (hub_reload.c): take cfg.reload's configuration and re-read the certificate and
 * key, the secret or verify key, the deny-list, the allow-lists (--allow-tcp-port,
 * --relay-uid/--relay-group) and the --backends file. Everything is loaded first: one that
 * does not load refuses the reload (logged) and the old configuration stays. Sessions and
 * streams in flight keep going; new connections and tokens use the new one. With
 * --backends, backends whose line is gone, or whose claims the new grant refuses, are
 * disconnected (1008); a backends file that does not load keeps the old table. */
void nx_hub_reload(struct nx_hub *hub);

/* -n/--check-config: load and check everything cfg names (nothing bound); a one-line
 * summary into summary. 0, or -1 with err. */
int nx_hub_check(const struct nx_hub_config *cfg, char *summary, size_t n, char *err,
                 size_t errlen);

/* SIGUSR1: one "status" log line with the gauges and counters --metrics shows. */
void nx_hub_log_status(struct nx_hub *hub);

/* The port the backend listener is bound to. */
/* Worker threads carrying live sessions (0: none, the caller's loop carries them). */
unsigned nx_hub_workers(const struct nx_hub *hub);
uint16_t nx_hub_port(const struct nx_hub *hub);

#endif
