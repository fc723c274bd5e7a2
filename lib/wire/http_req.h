/* http_req.h — an HTTP/1.x request head (RFC 9112) for a server that answers JSON: the
 * request line, the header fields as slices of the caller's buffer, and what framing the
 * body has.
 *
 * nx_http_req_parse() is pure: (buf, len) → done / need more / invalid, the answer
 * depending only on the bytes, never on how they were split into reads. Nothing is copied:
 * every slice points into buf, which must outlive the request. Strict where leniency has
 * been a smuggling vector: obs-fold, a space before the colon, Content-Length and
 * Transfer-Encoding together, two different Content-Lengths, a non-digit length are all
 * INVALID. */
#ifndef NEXUS_HTTP_REQ_H
#define NEXUS_HTTP_REQ_H
#include <stddef.h>
#include <stdint.h>

#define NX_HTTP_HEAD_MAX (16 * 1024) /* request line + header fields + blank line */
#define NX_HTTP_MAX_FIELDS 64

enum nx_http_parse { NX_HTTP_DONE = 0, NX_HTTP_MORE = 1, NX_HTTP_INVALID = -1 };

struct nx_http_slice {
	const char *p;
	size_t n;
};

struct nx_http_req {
	struct nx_http_slice method, target, path, query; /* path: target up to '?' */
	int minor;                   /* 0 or 1 */
	size_t head_len;             /* DONE: bytes of buf the head takes (the body follows) */
	int nfields;
	struct {
		struct nx_http_slice name, value; /* value without surrounding white space */
	} f[NX_HTTP_MAX_FIELDS];
	int64_t content_length;      /* -1: none given */
	int chunked;                 /* a Transfer-Encoding was given (we only know chunked) */
	int keep_alive;              /* 1.1 unless "Connection: close"; 1.0 only with keep-alive */
	int status;                  /* INVALID: the status to answer (400, 431, 505) */
	const char *why;             /* INVALID: a short static reason */
};

int nx_http_req_parse(const char *buf, size_t len, struct nx_http_req *r);

/* Length of an HTTP head including its blank line (CRLF CRLF, or bare LFs as Go's reader
 * takes them); 0 while the blank line is not in buf yet. Shared by every head reader. */
size_t nx_http_head_end(const void *buf, size_t len);

/* The first field called `name` (case-insensitive), or NULL. */
const struct nx_http_slice *nx_http_req_field(const struct nx_http_req *r, const char *name);

/* 1 if slice s equals the NUL-terminated string z (case-sensitive / -insensitive). */
int nx_http_slice_is(struct nx_http_slice s, const char *z);
int nx_http_slice_ieq(struct nx_http_slice s, const char *z);

/* The reason phrase of a status code ("Not Found"); "Unknown" for others. */
const char *nx_http_reason(int status);

#endif
