/* route_claims.h — what a backend's token claims, and whether the hub accepts it
 * (shared/protocol.md §2). Signature, iss/aud and time checks are the token module's job
 * (jws.h, claims.h); this module reads the route claims out of the verified claims object:
 *
 *   hostnames   array of FQDNs or single-label wildcards "*.example.com", normalised by
 *               nx_hostname_normalize() (hostname.h); "*.com", "a.*.b", "tcp:…", "udp:…",
 *               empty names and names with a port are refused, not silently ignored
 *   tcp_ports   array of ints 1–65535, each must be in the hub's allow-list
 *   udp_routes  array of {"port":N,"flow_idle_timeout_seconds":S} (a bare port number is
 *               taken too); each port must be in the hub's UDP allow-list; S defaults to
 *               30 s and is clamped to 5–300 s (§5)
 *   weight      int, ≤ 0 means 1
 *   session_nonce, handshake_max_age_seconds, reauth_interval_seconds, reauth_grace_seconds
 *
 * Unknown claims are ignored. Stage 0 must claim at least one hostname or port; stage 1 must
 * carry the challenge's nonce and exactly the same routes and weight (compared as sets). */
#ifndef NEXUS_ROUTE_CLAIMS_H
#define NEXUS_ROUTE_CLAIMS_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hostname.h"

#define NX_CLAIMS_MAX_HOSTNAMES 256
#define NX_CLAIMS_MAX_PORTS 64
#define NX_UDP_IDLE_DEFAULT_S 30
#define NX_UDP_IDLE_MIN_S 5
#define NX_UDP_IDLE_MAX_S 300

struct nx_udp_route {
	uint16_t port;
	uint16_t idle_s; /* flow idle timeout, clamped to NX_UDP_IDLE_MIN_S..NX_UDP_IDLE_MAX_S */
};

struct nx_route_claims {
	char sub[128];       /* backend name, sanitised for logs ("" if absent) */
	char **hostnames;    /* normalised, sorted, no duplicates */
	size_t n_hostnames;
	uint16_t *tcp_ports; /* sorted, no duplicates */
	size_t n_tcp_ports;
	struct nx_udp_route *udp_routes; /* sorted by port, no duplicate ports */
	size_t n_udp_routes;
	int weight;          /* ≥ 1 */
	char session_nonce[128];
	int64_t handshake_max_age_s;
	int64_t reauth_interval_s;
	int64_t reauth_grace_s; /* 10 when absent or ≤ 0 */
	int has_half_close;     /* "extensions" lists "half_close" (§6) */
	int has_initial_window; /* "extensions" lists "initial_window" (§6) */
	int has_random_name;    /* ours: "random_name", a stage-0 ask for a random name */
};

struct nx_route_policy {
	const uint16_t *allow_tcp_ports; /* empty: port claims refused */
	size_t n_allow_tcp_ports;
	const uint16_t *allow_udp_ports; /* empty: UDP claims refused */
	size_t n_allow_udp_ports;
};

/* Read the route claims of a verified token. 0, or -1 with the reason in err (a reason
 * short enough for a WebSocket close frame). Free with nx_route_claims_free(), also after
 * a failure. */
int nx_route_claims_parse(const json_t *claims, struct nx_route_claims *out, char *err,
                            size_t errlen);
void nx_route_claims_free(struct nx_route_claims *c);

/* Stage 0: at least one route, every port allowed. */
int nx_route_claims_check_stage0(const struct nx_route_claims *c,
                                   const struct nx_route_policy *policy, char *err,
                                   size_t errlen);

/* Stage 1 (or re-auth) against stage 0: the nonce matches and the routes and weight are the
 * same. */
int nx_route_claims_check_followup(const struct nx_route_claims *stage0,
                                     const struct nx_route_claims *next, const char *nonce,
                                     char *err, size_t errlen);

#endif
