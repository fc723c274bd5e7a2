/* relay.h — the nexus-relay engine: accept clients, sniff a route key, then route each
 * connection to a TCP address itself (lib/pump) or hand it to nexus-hub (lib/handoff).
 *
 * Per connection: read until the first bytes decide (TLS SNI, else HTTP Host, else — when
 * they are neither, or nothing came within first_bytes_ms — "tcp:<local port>"), bounded by
 * header_ms so a client that trickles a partial head cannot hold a slot forever. Then:
 *   1. a local route (exact name, then "*.parent", or "tcp:N") → dial it, replay the bytes
 *      already read, pump both ways;
 *   2. else, with a hub: one handoff message (fd + prelude); the hub's one-byte reply says
 *      whether it took the connection;
 *   3. else "no route", told in the client's protocol: TLS alert unrecognized_name, HTTP 502,
 *      plain TCP just closed.
 * The hub may restart at any time: the relay redials it with backoff, and while it is down
 * clients that need it get an HTTP 503 or a TLS internal_error alert at once, never a hang.
 *
 * The library never logs: it reports through cfg->log (one call per finished connection,
 * plus hub up/down events), with every network-supplied value already quoted for logfmt. */
#ifndef NEXUS_RELAY_H
#define NEXUS_RELAY_H
#include <stddef.h>
#include <stdint.h>

#include "core/log.h"
#include "core/loop.h"

struct nx_relay_route {
	char key[256];  /* normalised name, "*.wildcard" or "tcp:N" */
	char addr[264]; /* "host:port" to dial */
};

/* Parse "NAME=host:port" (NAME a host name, "*.wildcard" or "tcp:PORT"). */
int nx_relay_parse_route(const char *spec, struct nx_relay_route *out, char *err, size_t errlen);

/* -n: resolve every route's address as nx_relay_new would. 0, or -1 with err. */
int nx_relay_check_routes(const struct nx_relay_route *routes, size_t n, char *err,
                          size_t errlen);

struct nx_relay_config {
	const char *hub_path;               /* NULL: no hub, local routes only */
	const struct nx_relay_route *routes; /* copied and resolved in nx_relay_new/_reload */
	size_t nroutes;
	uint64_t first_bytes_ms;  /* silent client → tcp:<port> after this (default 1 s) */
	uint64_t header_ms;       /* whole sniff phase bound (default 10 s) */
	uint64_t dial_ms;         /* connect to a --route address (default 5 s) */
	uint64_t idle_ms;         /* local-route connections without traffic (0 = never) */
	uint64_t hub_reply_ms;    /* hub must answer a handoff within this (default 5 s) */
	size_t max_conns;         /* connections being sniffed/routed at once (default 4096) */
	size_t max_conns_per_source; /* of which from one address, IPv6 /64 (default 256);
	                              * more from it are closed at once */
	int splice;               /* local routes: splice(2) once the prelude is out */
	int proxy_protocol;       /* local routes: send a PROXY protocol v1 line first */
	int exit_when_idle;       /* inetd mode: stop the loop when the last connection ends */
	/* ACME HTTP-01 for the hub's own names (relay_acme.c): a plain-HTTP
	 * "GET /.well-known/acme-challenge/TOKEN" for one of acme_hosts is answered from the
	 * file TOKEN in acme_challenge_dir (a regular file, not a symlink, 404 if none); every
	 * other request and name is routed as usual. NULL: off. */
	const char *acme_challenge_dir;
	const char *const *acme_hosts;
	size_t n_acme_hosts;
	const char *metrics_addr; /* --metrics: GET /metrics there (a local address); NULL: none */
	nx_log_sink_fn log;          /* where events go (log.h); NULL: nowhere */
	void *log_arg;
};

struct nx_relay;

struct nx_relay *nx_relay_new(struct nx_loop *loop, const struct nx_relay_config *cfg, char *err,
                              size_t errlen);
/* A listening socket to accept from (the relay owns it from now on). */
int nx_relay_add_listener(struct nx_relay *r, int fd, char *err, size_t errlen);
/* A bound UDP socket (--listen-udp): handed to the hub, which carries its flows. Needs
 * cfg.hub_path. */
int nx_relay_add_udp(struct nx_relay *r, int fd, char *err, size_t errlen);
/* One already accepted client connection (inetd mode: fd 0). */
int nx_relay_add_conn(struct nx_relay *r, int fd, char *err, size_t errlen);
/* SIGHUP: new routes (resolved first: one that does not resolve refuses the whole reload,
 * -1 with err, nothing changed) and the new timeouts, limits, --splice and
 * --proxy-protocol for connections from now on. Connections in flight keep their route.
 * hub_path, exit_when_idle and the listeners stay as they started. */
int nx_relay_reload(struct nx_relay *r, const struct nx_relay_config *cfg, char *err,
                    size_t errlen);
/* A reload the caller refused before nx_relay_reload (a usage error): counted in
 * nexus_relay_reloads_total{result="failed"} (nx_relay_reload counts the rest). */
void nx_relay_reload_failed(struct nx_relay *r);
/* The --metrics address actually bound ("ip:port"), or NULL. */
const char *nx_relay_metrics_addr(const struct nx_relay *r);
/* Graceful stop: close listeners, let connections being sniffed/dialled finish (at most
 * grace_ms), then stop the loop. Pumping connections are closed at the end of the grace. */
void nx_relay_shutdown(struct nx_relay *r, uint64_t grace_ms);
size_t nx_relay_active(const struct nx_relay *r);
void nx_relay_free(struct nx_relay *r);

#endif
