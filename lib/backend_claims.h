/* backend_claims.h — the route claims of a Nexus Proxy backend token (shared/protocol.md §2):
 * "hostnames", "tcp_ports", "udp_routes", "weight", parsed from option or environment text
 * and added to a claims object. Used by nexus-token issue --backend; the hub and the tunnel
 * can use the same rules.
 *
 * Hostname normalisation: trim, drop one trailing dot, lowercase. A wildcard is "*." plus at
 * least two labels and no other '*'; names starting "tcp:" or "udp:" are refused. */
#ifndef NEXUS_BACKEND_CLAIMS_H
#define NEXUS_BACKEND_CLAIMS_H
#include <jansson.h>
#include <stddef.h>

#define NX_HOSTNAME_MAX 253

/* Normalise `in` into out (NX_HOSTNAME_MAX + 1 bytes). 0, or -1 with a reason. */
int nx_hostname_normalize(const char *in, char out[NX_HOSTNAME_MAX + 1], char *err,
                          size_t errlen);

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

#endif
