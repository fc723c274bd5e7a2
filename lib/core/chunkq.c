/* chunkq.c — FIFO of byte chunks. */
#include "core/chunkq.h"

#include <stdlib.h>
#include <string.h>

uint8_t *nx_chunkq_push(struct nx_chunkq *q, size_t len)
{
	struct nx_chunk *c = malloc(sizeof *c + len);
	if (!c)
		return NULL;
	c->next = NULL;
	c->len = len;
	c->off = 0;
	if (q->tail)
		q->tail->next = c;
	else
		q->head = c;
	q->tail = c;
	q->bytes += len;
	q->count++;
	return c->data;
}

int nx_chunkq_push_copy(struct nx_chunkq *q, const void *buf, size_t len)
{
	uint8_t *p = nx_chunkq_push(q, len);
	if (!p)
		return -1;
	if (len)
		memcpy(p, buf, len);
	return 0;
}

size_t nx_chunkq_front(const struct nx_chunkq *q, const uint8_t **p)
{
	if (!q->head)
		return 0;
	*p = q->head->data + q->head->off;
	return q->head->len - q->head->off;
}

int nx_chunkq_consume(struct nx_chunkq *q, size_t n)
{
	struct nx_chunk *c = q->head;
	if (!c)
		return 0;
	c->off += n;
	q->bytes -= n;
	if (c->off < c->len)
		return 0;
	q->head = c->next;
	if (!q->head)
		q->tail = NULL;
	q->count--;
	free(c);
	return 1;
}

void nx_chunkq_clear(struct nx_chunkq *q)
{
	while (q->head) {
		struct nx_chunk *c = q->head;
		q->head = c->next;
		free(c);
	}
	q->tail = NULL;
	q->bytes = 0;
	q->count = 0;
}
