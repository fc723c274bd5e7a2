/* sbuf.c — see sbuf.h. */
#include "core/sbuf.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

int nx_sbuf_add(struct nx_sbuf *b, const void *d, size_t n, size_t max)
{
	if (b->n + n > max) {
		b->over = 1;
		return -1;
	}
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *np = malloc(cap);
		if (!np)
			return -1;
		if (b->p) {
			memcpy(np, b->p, b->n);
			nx_free_secret(b->p, b->cap);
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
	b->p[b->n] = '\0';
	return 0;
}

void nx_sbuf_free(struct nx_sbuf *b)
{
	if (b->p)
		nx_free_secret(b->p, b->cap);
	memset(b, 0, sizeof *b);
}
