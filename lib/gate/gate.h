/* gate.h — the session gate of nexus-tunnel: browser sessions to the device's own web UI.
 *
 * For the host names it gates, the gate terminates the browser's TLS (the device's
 * certificate; the relay and hub stay passthrough and never see plaintext), trades a
 * one-time grant from nexus-bind session (bind/session.h) for a session cookie, checks
 * that cookie, Host == SNI and a same-origin Origin on every unsafe request and WebSocket
 * upgrade, strips the cookie and forwards plain HTTP/1.1 to the local web UI. Other host
 * names on the same tunnel never reach the gate.
 *
 * Each gated stream is one end of a socketpair that the tunnel pumps like a local
 * connection; the gate serves the other end on a thread of its own with blocking I/O
 * (at most NX_GATE_MAX_CONNS at once). Per request the gate dials the UI afresh and asks
 * it to close after the answer, so the answer's end is the connection's end and the
 * browser side can keep alive and pipeline whatever the UI does. */
#ifndef NEXUS_GATE_H
#define NEXUS_GATE_H
#include <stddef.h>
#include <stdint.h>

#include "core/log.h"

#define NX_GATE_MAX_HOSTS 16
#define NX_GATE_MAX_CONNS 256
#define NX_GATE_MAX_CONNS_PER_SOURCE 64 /* of which from one end-user address (IPv6 /64) */
#define NX_GATE_REPLAY_MAX 4096 /* grant ids remembered until they expire */
#define NX_GATE_GRANT_LIFE_MAX 60
#define NX_GATE_REVOCATIONS_EVERY 10
#define NX_GATE_REVOCATIONS_STALE 60

struct nx_gate_cfg {
	const char *const *hosts; /* normalised host names the gate serves */
	size_t n_hosts;
	const char *verify_key;   /* the grant issuer's public key (ES256) */
	const char *cert, *cert_key; /* the device's certificate chain and key (PEM) */
	int64_t session_max_s;    /* longest session (0: as the grant says) */
	int idle_ms;              /* close a browser connection quiet this long (0: 60 s) */
	/* nexus-bind serve's GET /v1/revocations (http:// or https://), fetched every
	 * NX_GATE_REVOCATIONS_EVERY s; stale beyond NX_GATE_REVOCATIONS_STALE s, nothing goes
	 * through. NULL: sessions end only by expiry (and with this process). */
	const char *revocations_url;
	const char *revocations_ca; /* CA bundle for https (NULL: the system's) */
	/* stale beyond this many seconds (0: NX_GATE_REVOCATIONS_STALE); fetched every
	 * NX_GATE_REVOCATIONS_EVERY s, or a third of this when that is shorter */
	int revocations_max_age_s;
	/* ACME (gate_acme.c): with acme_directory the gate obtains the certificate for its
	 * hosts into acme_dir/cert.pem (cert and cert_key may then be NULL), answers the HTTP-01
	 * validations itself on plain-HTTP streams to its hosts, renews at ~2/3 of the life and
	 * swaps the certificate in for new connections. */
	const char *acme_directory;
	const char *acme_email;
	const char *acme_dir;
	const char *acme_ca;        /* CA bundle for the ACME server (NULL: the system's) */
	nx_log_sink_fn log;
	void *log_arg;
	int check_only;             /* nexus-tunnel -n: load and check, start no thread */
};

struct nx_gate;

/* Load keys and certificate. NULL with err. */
struct nx_gate *nx_gate_new(const struct nx_gate_cfg *cfg, char *err, size_t errlen);
/* Only once no connection is being served (at exit). */
void nx_gate_free(struct nx_gate *g);

/* 1 when the gate serves hostname. */
int nx_gate_handles(const struct nx_gate *g, const char *hostname);

/* A new gated stream for hostname whose requests go to target ("ip:port"), from the end
 * user at client ("ip:port" as the hub saw it; counted per source): returns the tunnel's
 * end of the socketpair (non-blocking), or -1 with err. */
int nx_gate_open(struct nx_gate *g, const char *hostname, const char *client, const char *target,
                 char *err, size_t errlen);

/* The tunnel's stream hook (tunnel.h): arg is the gate. -2 for a host it does not gate.
 * A plain-HTTP stream (is_tls 0) to a gated host gets the ACME answers (with ACME) or a
 * 421 saying to use https. */
int nx_gate_hook(void *arg, const char *hostname, const char *client, const char *target,
                 int is_tls, char *err, size_t errlen);

#endif
