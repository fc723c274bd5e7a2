/* sbuf.h — a bounded byte buffer that grows by copying and wipes every block it lets go
 * (realloc would leave the old one in the heap as it was): for HTTP answers that may hold
 * tokens, filled from libcurl's write callback. Always NUL-terminated after the bytes. */
#ifndef NEXUS_SBUF_H
#define NEXUS_SBUF_H
#include <stddef.h>

struct nx_sbuf {
	char *p;     /* NULL until the first byte */
	size_t n;    /* bytes held */
	size_t cap;  /* bytes allocated */
	int over;    /* an append would have passed the bound: nothing more was taken */
};

/* Append n bytes, keeping at most max in all. 0, or -1 (over the bound: over is set; or
 * out of memory). */
int nx_sbuf_add(struct nx_sbuf *b, const void *d, size_t n, size_t max);
/* Wipe and free; the buffer is empty again. */
void nx_sbuf_free(struct nx_sbuf *b);

#endif
