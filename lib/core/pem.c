/* pem.c — see pem.h. */
#include "core/pem.h"

#include <bearssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* One object's DER, in a buffer of NX_PEM_OBJ_MAX that is never reallocated (a key must
 * not leave copies behind in freed memory). */
struct acc {
	unsigned char *p;
	size_t n;
	int over;
};

static void put(void *ctx, const void *d, size_t n)
{
	struct acc *a = ctx;
	if (n > NX_PEM_OBJ_MAX - a->n) {
		a->over = 1;
		return;
	}
	memcpy(a->p + a->n, d, n);
	a->n += n;
}

const char *nx_pem_strerror(int rc)
{
	switch (rc) {
	case NX_PEM_MALFORMED: return "malformed PEM";
	case NX_PEM_TOO_BIG: return "PEM object larger than 64 KiB";
	case NX_PEM_NOMEM: return "out of memory";
	case NX_PEM_TRUNCATED: return "truncated PEM object";
	default: return "PEM error";
	}
}

int nx_pem_each(const char *text, size_t len, nx_pem_fn fn, void *arg)
{
	struct acc a = {malloc(NX_PEM_OBJ_MAX), 0, 0};
	if (!a.p)
		return NX_PEM_NOMEM;
	br_pem_decoder_context pc;
	br_pem_decoder_init(&pc);
	char name[128] = "";
	int in = 0, rc = 0, stop = 0;
	/* the decoder sees an END line only once its newline is there: give it one at the end */
	for (int pass = 0; pass < 2 && !stop; pass++) {
		const char *p = pass ? "\n" : text;
		size_t left = pass ? 1 : len;
		while (left > 0 && !stop) {
			size_t k = br_pem_decoder_push(&pc, p, left);
			p += k;
			left -= k;
			switch (br_pem_decoder_event(&pc)) {
			case BR_PEM_BEGIN_OBJ:
				snprintf(name, sizeof name, "%s", br_pem_decoder_name(&pc));
				a.n = 0;
				a.over = 0;
				br_pem_decoder_setdest(&pc, put, &a);
				in = 1;
				break;
			case BR_PEM_END_OBJ:
				if (!in)
					break;
				in = 0;
				if (a.over) {
					rc = NX_PEM_TOO_BIG;
					stop = 1;
					break;
				}
				rc = fn(arg, name, a.p, a.n);
				nx_wipe(a.p, a.n);
				stop = rc != 0;
				if (rc > 0)
					rc = 0;
				break;
			case BR_PEM_ERROR:
				rc = NX_PEM_MALFORMED;
				stop = 1;
				break;
			default:
				break;
			}
		}
	}
	if (!stop && in)
		rc = NX_PEM_TRUNCATED;
	nx_free_secret(a.p, NX_PEM_OBJ_MAX);
	nx_wipe(&pc, sizeof pc);
	return rc;
}

struct first {
	const char *name;
	unsigned char *der;
	size_t n;
};

static int take_first(void *arg, const char *name, const unsigned char *der, size_t n)
{
	struct first *f = arg;
	if (f->name && strcmp(name, f->name) != 0)
		return 0;
	if (!(f->der = malloc(n ? n : 1)))
		return NX_PEM_NOMEM;
	memcpy(f->der, der, n);
	f->n = n;
	return 1;
}

int nx_pem_first(const char *text, size_t len, const char *name, unsigned char **der,
                 size_t *n)
{
	struct first f = {name, NULL, 0};
	int rc = nx_pem_each(text, len, take_first, &f);
	if (rc == NX_PEM_NOMEM)
		return -1;
	if (!f.der)
		return 0;
	*der = f.der;
	*n = f.n;
	return 1;
}
