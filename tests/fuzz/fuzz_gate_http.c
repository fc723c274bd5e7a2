/* libFuzzer target: the gate's HTTP pieces (lib/gate/gate_http.h) on untrusted bytes: the
 * chunked-body scanner (the same answer for any split of the input), the device's
 * response head and its rewrite, cookies, the nx query parameter and the request head as
 * rewritten for the device (never our cookie, always within the buffer). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gate/gate_http.h"

static int scan_all(const char *p, size_t n, size_t split, size_t *end)
{
	struct nx_gate_chunked c = {0};
	size_t used;
	int rc = nx_gate_chunked_scan(&c, p, split, &used);
	if (rc != NX_HTTP_MORE) {
		*end = used;
		return rc;
	}
	rc = nx_gate_chunked_scan(&c, p + split, n - split, &used);
	*end = split + used;
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	if (size)
		memcpy(buf, data, size);
	static char out[NX_HTTP_HEAD_MAX + 2048];

	/* chunked: one call, or two at any split, end at the same byte */
	size_t e1, e2;
	int r1 = scan_all(buf, size, size, &e1);
	int r2 = scan_all(buf, size, size / 2, &e2);
	if (r1 != r2 || (r1 == NX_HTTP_DONE && (e1 != e2 || e1 > size)))
		abort();

	struct nx_gate_resp resp;
	if (nx_gate_resp_parse(buf, size, &resp) == NX_HTTP_DONE) {
		if (resp.head_len > size || resp.status < 100 || resp.status > 999)
			abort();
		int n = nx_gate_resp_rewrite(buf, &resp, 1, out, sizeof out);
		if (n > (int)sizeof out)
			abort();
		nx_gate_resp_close_delimited(&resp, 0);
	}

	const char *v;
	size_t vn;
	if (nx_gate_cookie_get(buf, size, NX_GATE_COOKIE, &v, &vn) &&
	    (v < buf || v + vn > buf + size))
		abort();
	char rest[256];
	const char *code;
	size_t cl;
	if (nx_gate_query_take(buf, size, rest, sizeof rest, &code, &cl) == 0 &&
	    (strlen(rest) >= sizeof rest || (code && (code < buf || code + cl > buf + size))))
		abort();

	struct nx_http_req req;
	if (nx_http_req_parse(buf, size, &req) == NX_HTTP_DONE) {
		int n = nx_gate_req_rewrite(&req, 0, "alice", out, sizeof out);
		if (n > (int)sizeof out)
			abort();
		/* our cookie never goes on */
		if (n > 0 && memmem(out, (size_t)n, "__Host-nx=", 10)) {
			/* only acceptable where it is not a cookie pair name: inside another field */
			struct nx_http_req again;
			if (nx_http_req_parse(out, (size_t)n, &again) == NX_HTTP_DONE)
				for (int i = 0; i < again.nfields; i++)
					if (nx_http_slice_ieq(again.f[i].name, "cookie") &&
					    nx_gate_cookie_get(again.f[i].value.p, again.f[i].value.n,
					                       NX_GATE_COOKIE, &v, &vn))
						abort();
		}
	}
	free(buf);
	return 0;
}
