/* routes.c — see routes.h. A chained hash of keys; each key holds a small array of
 * (backend, weight) and its round-robin cursor. Membership changes reset the cursor, which
 * keeps the scheme exact without bookkeeping across changes. */
#include "wire/routes.h"
#include "core/hostname.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 1024u

struct member {
	void *backend;
	int weight;
};

struct route {
	struct route *next;
	struct member *m;
	size_t n, cap;
	int idx;  /* last picked member, -1 before the first pick */
	int cw;   /* current weight threshold */
	int gcd;  /* gcd of all weights: the step cw goes down by */
	int maxw; /* largest weight */
	char key[NX_ROUTE_KEY_MAX];
};

struct nx_routes {
	struct route *b[NBUCKETS];
	size_t nkeys;
};

static unsigned bucket(const char *key)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % NBUCKETS;
}

static int gcd(int a, int b)
{
	while (b) {
		int t = a % b;
		a = b;
		b = t;
	}
	return a;
}

static void reset_cursor(struct route *r)
{
	r->idx = -1;
	r->cw = 0;
	r->gcd = 0;
	r->maxw = 0;
	for (size_t i = 0; i < r->n; i++) {
		r->gcd = gcd(r->gcd, r->m[i].weight);
		if (r->m[i].weight > r->maxw)
			r->maxw = r->m[i].weight;
	}
}

struct nx_routes *nx_routes_new(void) { return calloc(1, sizeof(struct nx_routes)); }

void nx_routes_free(struct nx_routes *rt)
{
	if (!rt)
		return;
	for (unsigned i = 0; i < NBUCKETS; i++) {
		struct route *r = rt->b[i];
		while (r) {
			struct route *nx = r->next;
			free(r->m);
			free(r);
			r = nx;
		}
	}
	free(rt);
}

static struct route *find(const struct nx_routes *rt, const char *key, struct route ***link)
{
	struct route *const *pp = &rt->b[bucket(key)];
	for (; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->key, key) == 0)
			break;
	if (link)
		*link = (struct route **)pp;
	return *pp;
}

int nx_routes_add(struct nx_routes *rt, const char *key, void *backend, int weight)
{
	size_t klen = strlen(key);
	if (klen == 0 || klen >= NX_ROUTE_KEY_MAX)
		return -1;
	if (weight <= 0)
		weight = 1;
	struct route **link;
	struct route *r = find(rt, key, &link);
	if (!r) {
		r = calloc(1, sizeof *r);
		if (!r)
			return -1;
		memcpy(r->key, key, klen + 1);
		*link = r;
		rt->nkeys++;
	}
	for (size_t i = 0; i < r->n; i++) {
		if (r->m[i].backend == backend) {
			r->m[i].weight = weight;
			reset_cursor(r);
			return 0;
		}
	}
	if (r->n == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 4;
		struct member *nm = realloc(r->m, nc * sizeof *nm);
		if (!nm) {
			if (r->n == 0)
				nx_routes_remove(rt, key, backend);
			return -1;
		}
		r->m = nm;
		r->cap = nc;
	}
	r->m[r->n++] = (struct member){backend, weight};
	reset_cursor(r);
	return 0;
}

static void drop_member(struct nx_routes *rt, struct route **link, void *backend)
{
	struct route *r = *link;
	for (size_t i = 0; i < r->n; i++) {
		if (r->m[i].backend != backend)
			continue;
		memmove(&r->m[i], &r->m[i + 1], (r->n - i - 1) * sizeof r->m[0]);
		r->n--;
		break;
	}
	if (r->n == 0) {
		*link = r->next;
		free(r->m);
		free(r);
		rt->nkeys--;
		return;
	}
	reset_cursor(r);
}

void nx_routes_remove(struct nx_routes *rt, const char *key, void *backend)
{
	struct route **link;
	if (find(rt, key, &link))
		drop_member(rt, link, backend);
}

void nx_routes_remove_backend(struct nx_routes *rt, void *backend)
{
	for (unsigned i = 0; i < NBUCKETS; i++) {
		struct route **link = &rt->b[i];
		while (*link) {
			struct route *r = *link;
			int has = 0;
			for (size_t j = 0; j < r->n; j++)
				has |= r->m[j].backend == backend;
			if (has)
				drop_member(rt, link, backend);
			if (*link == r) /* still there: step past it */
				link = &r->next;
		}
	}
}

/* Interleaved weighted round robin: walk the members cyclically; each full cycle lowers the
 * threshold by the gcd, and a member is chosen when its weight reaches the threshold. Ends
 * within one cycle at cw == maxw, where the heaviest member always qualifies. */
static void *wrr_next(struct route *r)
{
	if (r->n == 1)
		return r->m[0].backend;
	for (;;) {
		r->idx = (r->idx + 1) % (int)r->n;
		if (r->idx == 0) {
			r->cw -= r->gcd;
			if (r->cw <= 0)
				r->cw = r->maxw;
		}
		if (r->m[r->idx].weight >= r->cw)
			return r->m[r->idx].backend;
	}
}

void *nx_routes_pick(struct nx_routes *rt, const char *key, const char **matched)
{
	if (strchr(key, '*')) /* a client naming "*.example.com" literally gets nothing */
		return NULL;
	struct route *r = find(rt, key, NULL);
	if (!r && strncmp(key, "tcp:", 4) != 0 && strncmp(key, "udp:", 4) != 0) {
		char wild[NX_ROUTE_KEY_MAX];
		if (nx_hostname_wildcard_of(key, wild, sizeof wild) == 0)
			r = find(rt, wild, NULL);
	}
	if (!r)
		return NULL;
	if (matched)
		*matched = r->key;
	return wrr_next(r);
}

size_t nx_routes_count(const struct nx_routes *rt, const char *key)
{
	const struct route *r = find(rt, key, NULL);
	return r ? r->n : 0;
}

size_t nx_routes_keys(const struct nx_routes *rt) { return rt->nkeys; }

void nx_routes_each_backend(const struct nx_routes *rt, const char *key,
                            void (*fn)(void *backend, void *arg), void *arg)
{
	const struct route *r = find(rt, key, NULL);
	for (size_t i = 0; r && i < r->n; i++)
		fn(r->m[i].backend, arg);
}

void nx_routes_each_key(const struct nx_routes *rt, void (*fn)(const char *key, void *arg),
                        void *arg)
{
	for (unsigned i = 0; i < NBUCKETS; i++)
		for (const struct route *r = rt->b[i]; r; r = r->next)
			fn(r->key, arg);
}
