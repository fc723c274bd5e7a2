/* libFuzzer target: the HTTP/1.x request head parser of nexus-bind serve. Every slice lies
 * inside the input, the head alone parses the same as the head plus what follows, and a
 * split at any point gives MORE or the same answer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/http_req.h"

static void inside(const struct nx_http_slice *s, const char *buf, size_t size)
{
	if (s->n && (s->p < buf || s->p + s->n > buf + size))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	if (size)
		memcpy(buf, data, size);
	static struct nx_http_req r, h;
	int rc = nx_http_req_parse(buf, size, &r);
	if (rc == NX_HTTP_DONE) {
		if (r.head_len > size || r.head_len > NX_HTTP_HEAD_MAX || r.minor > 1)
			abort();
		inside(&r.method, buf, size);
		inside(&r.target, buf, size);
		inside(&r.path, buf, size);
		inside(&r.query, buf, size);
		for (int i = 0; i < r.nfields; i++) {
			inside(&r.f[i].name, buf, size);
			inside(&r.f[i].value, buf, size);
		}
		if (nx_http_req_parse(buf, r.head_len, &h) != NX_HTTP_DONE ||
		    h.nfields != r.nfields || h.content_length != r.content_length)
			abort();
		/* one byte short of the head is never DONE */
		if (nx_http_req_parse(buf, r.head_len - 1, &h) == NX_HTTP_DONE)
			abort();
	} else if (rc == NX_HTTP_INVALID) {
		if (!r.why || r.status < 400)
			abort();
	}
	free(buf);
	return 0;
}
