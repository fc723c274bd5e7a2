/* backend_claims.h — the route claims of a Nexus Proxy backend token (shared/protocol.md §2):
 * "hostnames", "tcp_ports", "udp_routes", "weight", parsed from option or environment text
 * and added to a claims object. Used by nexus-token issue --backend; the hub and the tunnel
 * can use the same rules.
 *
 * Hostnames go through nx_hostname_normalize() (hostname.h) with wildcards allowed. */
#ifndef NEXUS_BACKEND_CLAIMS_H
#define NEXUS_BACKEND_CLAIMS_H
#include <jansson.h>
#include <stddef.h>

#include "core/hostname.h" /* the one normalisation (nx_hostname_normalize), shared with the relay */

/* Append to the claim arrays (created when missing); duplicates are not added twice.
 *   hostname: a name as above                 → "hostnames": ["app.example.com", …]
 *   tcp port: "1".."65535"                     → "tcp_ports": [2222, …]
 *   udp route: "PORT" or "PORT:IDLE" where IDLE is a duration (units.h), whole seconds
 *                                              → "udp_routes": [{"port":N,
 *                                                  "flow_idle_timeout_seconds":S}, …] */
int nx_claims_add_hostname(json_t *claims, const char *name, char *err, size_t errlen);
int nx_claims_add_tcp_port(json_t *claims, const char *port, char *err, size_t errlen);
int nx_claims_add_udp_route(json_t *claims, const char *spec, char *err, size_t errlen);

/* Each item of a comma-separated list (blank items skipped) through `add`: the form of
 * NEXUS_HOSTNAMES, NEXUS_TCP_PORTS and NEXUS_UDP_ROUTES. */
int nx_claims_add_list(json_t *claims, const char *csv,
                       int (*add)(json_t *, const char *, char *, size_t), char *err,
                       size_t errlen);

/* The environment contract of a backend's token command (shared/protocol.md §2), as
 * nexus-tunnel sets it: NEXUS_ATTESTATION_STAGE (handshake|attest|reauth; attest and reauth
 * need a nonce), NEXUS_SESSION_NONCE → "session_nonce", NEXUS_BACKEND_NAME → "sub",
 * NEXUS_HOSTNAMES / NEXUS_TCP_PORTS / NEXUS_UDP_ROUTES (comma lists) and NEXUS_WEIGHT.
 * A claim already present in `claims` wins over its variable. `getenv_fn` is getenv, or a
 * stand-in for tests. 0, or -1 with a reason naming the variable. */
int nx_claims_add_backend_env(json_t *claims, char *(*getenv_fn)(const char *), char *err,
                              size_t errlen);

#endif
