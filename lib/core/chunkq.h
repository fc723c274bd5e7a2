/* chunkq.h — a FIFO of byte chunks (one chunk per message or frame), for output that could
 * not be written yet. Chunk boundaries are kept so a writer can count whole messages written
 * (credits are counted in frames). Memory is bounded by the caller, who checks bytes/count
 * before pushing (a reader stops reading while the queue behind it is full). */
#ifndef NEXUS_CHUNKQ_H
#define NEXUS_CHUNKQ_H
#include <stddef.h>
#include <stdint.h>

struct nx_chunk {
	struct nx_chunk *next;
	size_t len, off;
	uint8_t data[];
};

struct nx_chunkq {
	struct nx_chunk *head, *tail;
	size_t bytes; /* not yet consumed */
	size_t count; /* chunks */
};

/* Append a chunk of len bytes; returns its data to fill in, or NULL (out of memory). */
uint8_t *nx_chunkq_push(struct nx_chunkq *q, size_t len);
/* Append a copy of buf. 0 or -1. */
int nx_chunkq_push_copy(struct nx_chunkq *q, const void *buf, size_t len);
/* The unconsumed bytes of the first chunk; 0 if empty. */
size_t nx_chunkq_front(const struct nx_chunkq *q, const uint8_t **p);
/* n bytes of the first chunk were written. Returns 1 if that completed the chunk. */
int nx_chunkq_consume(struct nx_chunkq *q, size_t n);
void nx_chunkq_clear(struct nx_chunkq *q);
static inline int nx_chunkq_empty(const struct nx_chunkq *q) { return q->head == NULL; }

#endif
