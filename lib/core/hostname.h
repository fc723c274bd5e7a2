/* hostname.h — route-key hostnames: one normalisation for relay, hub and tokens.
 *
 * protocol.md §2: trim, drop one trailing dot, lowercase (IDNA A-labels pass through
 * unchanged). A wildcard is "*." followed by at least two labels, and has no other '*'
 * ("*.com" is rejected rather than silently never matching). Names starting "tcp:" or
 * "udp:" are port claims, never hostnames, and are rejected here.
 *
 * Accepted characters after lowercasing: a-z 0-9 '-' '_' and '.' between labels; labels
 * 1..63 bytes, the whole name 1..253. IPv4 literals pass (they are valid labels); IPv6
 * literals do not (they never are a route key). */
#ifndef NEXUS_HOSTNAME_H
#define NEXUS_HOSTNAME_H
#include <stddef.h>

#define NX_HOSTNAME_MAX 253 /* without the NUL */

enum { NX_HOSTNAME_WILDCARD_OK = 1 }; /* flags for nx_hostname_normalize */

/* Normalise in[0..len) into out (NUL-terminated, outlen >= NX_HOSTNAME_MAX + 1 is always
 * enough). Returns 0, or -1 with the reason in err. in may contain any bytes (it usually
 * comes from the network); out is only written on success. */
int nx_hostname_normalize(const char *in, size_t len, char *out, size_t outlen, unsigned flags,
                          char *err, size_t errlen);

/* 1 if a normalised name is a wildcard pattern ("*.a.b"). */
int nx_hostname_is_wildcard(const char *name);

/* Does normalised `name` match normalised `pattern`? Exact, or "*.suffix" matching exactly
 * one label in front of suffix ("*.example.com" matches "a.example.com", not
 * "a.b.example.com" nor "example.com"). */
int nx_hostname_match(const char *pattern, const char *name);

/* The wildcard a name would be covered by: "a.example.com" → "*.example.com" into out.
 * Returns 0, or -1 when the name has fewer than three labels (no valid wildcard covers it).
 * Lets a table do exact lookup, then one more exact lookup for the wildcard. */
int nx_hostname_wildcard_of(const char *name, char *out, size_t outlen);

#endif
