/* ws_tls.c — see ws_tls.h. */
#include "wire/ws_tls.h"

int nx_ws_out_tls(struct nx_tls *c, const struct nx_ws_out *f, size_t *done)
{
	while (*done < f->total) {
		uint8_t *room;
		ssize_t k = nx_tls_write_room(c, &room);
		if (k == NX_TLS_AGAIN)
			return 0;
		if (k <= 0)
			return NX_TLS_ERROR;
		size_t n = f->total - *done < (size_t)k ? f->total - *done : (size_t)k;
		nx_ws_out_copy(room, f, *done, n);
		*done += n;
		if (nx_tls_write_commit(c, n, *done < f->total) < 0)
			return NX_TLS_ERROR;
	}
	return 0;
}
