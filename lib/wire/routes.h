/* routes.h — the hub's route table: route key → the backends serving it.
 *
 * Keys are normalised hostnames ("app.example.com"), single-label wildcards
 * ("*.example.com"), port claims ("tcp:2222") and UDP claims ("udp:5353"). A key may be served
 * by several backends at once (each backend session registers every key it claims); a pick
 * among them is an interleaved weighted round robin (the LVS "gcd-stepped" scheme), kept per
 * key, so weights 1 and 3 give A B B B spread out as B B A B rather than bursts.
 *
 * Lookup order (shared/protocol.md §5): exact key, then the wildcard one label up
 * ("a.example.com" → "*.example.com"; never two labels, never the bare domain).
 * Backends are opaque pointers owned by the caller; the table never dereferences them. */
#ifndef NEXUS_ROUTES_H
#define NEXUS_ROUTES_H
#include <stddef.h>

#define NX_ROUTE_KEY_MAX 256

struct nx_routes;

struct nx_routes *nx_routes_new(void);
/* Frees the table (not the backends). NULL is fine. */
void nx_routes_free(struct nx_routes *rt);

/* Register `backend` for `key` with `weight` (≤ 0 counts as 1). Adding the same backend to
 * the same key again updates its weight. Returns 0, or -1 (key too long or out of memory). */
int nx_routes_add(struct nx_routes *rt, const char *key, void *backend, int weight);

/* Unregister `backend` from `key`; from every key with nx_routes_remove_backend(). A key with
 * no backends left disappears. Removing what is not there is a no-op. */
void nx_routes_remove(struct nx_routes *rt, const char *key, void *backend);
void nx_routes_remove_backend(struct nx_routes *rt, void *backend);

/* The next backend for a route key (exact, then wildcard), advancing that key's round robin;
 * NULL when nothing serves it. *matched, when non-NULL, gets the key that matched. */
void *nx_routes_pick(struct nx_routes *rt, const char *key, const char **matched);

/* Number of backends registered under exactly `key` (0 when none). */
size_t nx_routes_count(const struct nx_routes *rt, const char *key);
/* Call fn for every backend registered under exactly `key` (no wildcard step); the table must
 * not change meanwhile. */
void nx_routes_each_backend(const struct nx_routes *rt, const char *key,
                            void (*fn)(void *backend, void *arg), void *arg);
/* Number of distinct keys in the table. */
size_t nx_routes_keys(const struct nx_routes *rt);
/* Call fn for every key in the table (order unspecified); the table must not change meanwhile. */
void nx_routes_each_key(const struct nx_routes *rt, void (*fn)(const char *key, void *arg),
                        void *arg);

#endif
