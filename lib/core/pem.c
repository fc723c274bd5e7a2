/* pem.c — see pem.h. */
#include "core/pem.h"

#include <bearssl.h>
#include <stdlib.h>
#include <string.h>

struct acc {
	unsigned char *p;
	size_t n;
	int oom;
};

static void put(void *ctx, const void *d, size_t n)
{
	struct acc *a = ctx;
	if (a->oom)
		return;
	unsigned char *p = realloc(a->p, a->n + n);
	if (!p) {
		a->oom = 1;
		return;
	}
	memcpy(p + a->n, d, n);
	a->p = p;
	a->n += n;
}

int nx_pem_first(const char *text, size_t len, const char *name, unsigned char **der,
                 size_t *n)
{
	br_pem_decoder_context pc;
	br_pem_decoder_init(&pc);
	struct acc a = {0};
	int in = 0, done = 0;
	while (len > 0 && !done) {
		size_t k = br_pem_decoder_push(&pc, text, len);
		text += k;
		len -= k;
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			in = !name || strcmp(br_pem_decoder_name(&pc), name) == 0;
			br_pem_decoder_setdest(&pc, in ? put : NULL, &a);
			break;
		case BR_PEM_END_OBJ: done = in; break;
		case BR_PEM_ERROR: len = 0; break;
		default: break;
		}
	}
	if (!done || a.oom) {
		free(a.p);
		return a.oom ? -1 : 0;
	}
	*der = a.p;
	*n = a.n;
	return 1;
}
