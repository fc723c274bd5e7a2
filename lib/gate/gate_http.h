/* gate_http.h — the pure HTTP pieces of the gate (gate.h): chunked-body framing, the
 * device's response head, cookies and the grant in the query, and the request head as the
 * device gets it. Each takes (buf, len) and depends only on the bytes; request heads are
 * wire/http_req.h. Fuzzed by tests/fuzz/fuzz_gate_http.c. */
#ifndef NEXUS_GATE_HTTP_H
#define NEXUS_GATE_HTTP_H
#include <stddef.h>
#include <stdint.h>

#include "wire/http_req.h"

#define NX_GATE_COOKIE "__Host-nx"
#define NX_GATE_LINE_MAX 4096 /* a chunk-size line or a trailer line */

/* Where a chunked body (RFC 9112 §7.1) ends. Zero it, then feed bytes in any split. */
struct nx_gate_chunked {
	int st;
	uint64_t left;   /* data bytes left in the current chunk */
	unsigned digits; /* hex digits of the size so far */
	size_t line;     /* bytes of the current extension / trailer line */
};
/* NX_HTTP_DONE: the body ends after *used bytes of p; NX_HTTP_MORE: all n belong to the
 * body; NX_HTTP_INVALID: not a chunked body (bad size, missing CRLF, a line too long). */
int nx_gate_chunked_scan(struct nx_gate_chunked *c, const char *p, size_t n, size_t *used);

/* A response head from the device. */
struct nx_gate_resp {
	int status;
	int minor;
	size_t head_len;
	int64_t content_length; /* -1: none */
	int chunked;
};
/* DONE (r filled) / MORE / INVALID. */
int nx_gate_resp_parse(const char *buf, size_t len, struct nx_gate_resp *r);
/* 1 when the body of r (answering a request with method) is delimited by the close of
 * the connection: neither a length nor chunked, and a status that has a body. */
int nx_gate_resp_close_delimited(const struct nx_gate_resp *r, int head_request);

/* Copy the head in buf[0..r->head_len) to out without Connection, Keep-Alive and
 * Proxy-Connection fields (our hop); add "Connection: close" when close is set. Returns
 * bytes written, or -1 when out is too small. */
int nx_gate_resp_rewrite(const char *buf, const struct nx_gate_resp *r, int close, char *out,
                         size_t cap);

/* The value of cookie `name` in a Cookie field value; 1 found (*v, *vn), 0 not. */
int nx_gate_cookie_get(const char *val, size_t n, const char *name, const char **v, size_t *vn);

/* The query without its "nx" parameter into out (NUL-terminated; "" when nothing is left)
 * and the nx value in *code (NULL when there is none). -1 when out is too small. */
int nx_gate_query_take(const char *q, size_t n, char *out, size_t cap, const char **code,
                       size_t *code_len);

/* The request head as the device gets it: request line as is, fields in order without
 * our cookie (the other cookies of the Cookie field stay), without Connection,
 * Keep-Alive, Proxy-Connection and X-Nexus-*; then "Connection: Upgrade" (upgrade set)
 * or "Connection: close", "X-Forwarded-Proto: https" and "X-Nexus-User: user". -1 when
 * out is too small. */
int nx_gate_req_rewrite(const struct nx_http_req *r, int upgrade, const char *user, char *out,
                        size_t cap);

#endif
