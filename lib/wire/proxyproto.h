/* proxyproto.h — the PROXY protocol header (haproxy's proxy-protocol.txt, versions 1 and 2)
 * that tells a service behind us who the end user is: nexus-tunnel writes one to the local
 * service before the stream's first byte, built from the hub's `connect` (client_ip,
 * conn_port, hostname, client_id).
 *
 * Pure encoders, no I/O. Addresses come as text as the hub sends them ("ip:port",
 * "[v6]:port"); an IPv4-mapped IPv6 address is written as IPv4. A source that is missing or
 * not an IP literal gives "PROXY UNKNOWN" (v1) or a LOCAL command with family UNSPEC (v2),
 * as haproxy writes them: the service then uses the connection's own addresses.
 *
 * v2 TLVs written (each only when non-empty):
 *   PP2_TYPE_AUTHORITY (0x02)  the route key: the hostname the end user asked for (SNI or
 *                              Host); not for "tcp:N" / "udp:N" port claims
 *   PP2_TYPE_UNIQUE_ID (0x05)  the stream's id (the hub's client_id, 36 characters)
 *   NX_PP2_TYPE_BACKEND (0xE0) nexus: the backend identity the user reached the service
 *                              through (nexus-tunnel's --name, the token's sub) */
#ifndef NEXUS_PROXYPROTO_H
#define NEXUS_PROXYPROTO_H
#include <stddef.h>
#include <stdint.h>

enum nx_proxy_version { NX_PROXY_NONE = 0, NX_PROXY_V1 = 1, NX_PROXY_V2 = 2 };

#define NX_PP2_TYPE_AUTHORITY 0x02
#define NX_PP2_TYPE_UNIQUE_ID 0x05
#define NX_PP2_TYPE_BACKEND 0xE0 /* in the range reserved for custom TLVs, 0xE0–0xEF */

#define NX_PROXY_V1_MAX 107 /* the spec's bound for one v1 line, CRLF included */
#define NX_PROXY_V2_SIG_LEN 12
#define NX_PROXY_V2_HEADER 16
/* A v2 header with all the TLVs at their largest: 16 + 36 (IPv6) + 3 * 3 + 255 + 128 + 255 */
#define NX_PROXY_MAX 700

/* What one header says. src/dst: "ip:port" or "[v6]:port" (dst may be NULL: the
 * unspecified address of src's family, port dst_port). Strings may be NULL or "". */
struct nx_proxy_info {
	const char *src;       /* the end user */
	const char *dst;       /* where it connected; NULL: unspecified address */
	uint16_t dst_port;     /* used when dst is NULL */
	const char *authority; /* v2 only */
	const char *unique_id; /* v2 only, at most 128 bytes */
	const char *backend;   /* v2 only */
};

/* "none", "v1", "v2" → version; -1 for anything else. */
int nx_proxy_version_parse(const char *s);
const char *nx_proxy_version_name(enum nx_proxy_version v);

/* Write the header for version v into out (cap bytes). Returns its length, or -1 if it
 * does not fit or a TLV is too long (authority/backend over 255, unique id over 128). */
int nx_proxy_encode(enum nx_proxy_version v, const struct nx_proxy_info *pi, uint8_t *out,
                    size_t cap);

#endif
