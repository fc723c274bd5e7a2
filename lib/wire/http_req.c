/* http_req.c — see http_req.h. */
#include "wire/http_req.h"

#include <string.h>
#include <strings.h>

static int tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int invalid(struct nx_http_req *r, int status, const char *why)
{
	r->status = status;
	r->why = why;
	return NX_HTTP_INVALID;
}

size_t nx_http_head_end(const void *data, size_t len)
{
	const char *buf = data;
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

int nx_http_slice_is(struct nx_http_slice s, const char *z)
{
	return s.n == strlen(z) && memcmp(s.p, z, s.n) == 0;
}

int nx_http_slice_ieq(struct nx_http_slice s, const char *z)
{
	return s.n == strlen(z) && strncasecmp(s.p, z, s.n) == 0;
}

const struct nx_http_slice *nx_http_req_field(const struct nx_http_req *r, const char *name)
{
	for (int i = 0; i < r->nfields; i++)
		if (nx_http_slice_ieq(r->f[i].name, name))
			return &r->f[i].value;
	return NULL;
}

/* Does the comma-separated list in v contain token t (case-insensitive)? */
static int list_has(struct nx_http_slice v, const char *t)
{
	size_t i = 0;
	while (i < v.n) {
		while (i < v.n && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == ','))
			i++;
		size_t s = i;
		while (i < v.n && v.p[i] != ',')
			i++;
		size_t e = i;
		while (e > s && (v.p[e - 1] == ' ' || v.p[e - 1] == '\t'))
			e--;
		struct nx_http_slice one = {v.p + s, e - s};
		if (e > s && nx_http_slice_ieq(one, t))
			return 1;
	}
	return 0;
}

static int parse_length(struct nx_http_slice v, int64_t *out)
{
	if (v.n == 0 || v.n > 15)
		return -1;
	int64_t n = 0;
	for (size_t i = 0; i < v.n; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -1;
		n = n * 10 + (v.p[i] - '0');
	}
	*out = n;
	return 0;
}

int nx_http_req_parse(const char *buf, size_t len, struct nx_http_req *r)
{
	memset(r, 0, sizeof *r);
	r->content_length = -1;
	size_t end = nx_http_head_end(buf, len);
	if (end == 0 || end > NX_HTTP_HEAD_MAX) {
		if (len >= NX_HTTP_HEAD_MAX || end > NX_HTTP_HEAD_MAX)
			return invalid(r, 431, "request head too large");
		/* Fail early on what can never become a request line. */
		for (size_t i = 0; i < len && buf[i] != ' '; i++)
			if (!tchar((unsigned char)buf[i]))
				return invalid(r, 400, "malformed request line");
		return NX_HTTP_MORE;
	}
	r->head_len = end;
	/* Request line: method SP target SP HTTP/1.x */
	size_t i = 0;
	while (i < end && tchar((unsigned char)buf[i]))
		i++;
	if (i == 0 || i >= end || buf[i] != ' ')
		return invalid(r, 400, "malformed request line");
	r->method = (struct nx_http_slice){buf, i};
	size_t ts = ++i;
	while (i < end && (unsigned char)buf[i] > ' ' && (unsigned char)buf[i] < 0x7f)
		i++;
	if (i == ts || i >= end || buf[i] != ' ')
		return invalid(r, 400, "malformed request target");
	r->target = (struct nx_http_slice){buf + ts, i - ts};
	if (buf[ts] != '/')
		return invalid(r, 400, "request target must be a path");
	const char *q = memchr(r->target.p, '?', r->target.n);
	r->path = (struct nx_http_slice){r->target.p, q ? (size_t)(q - r->target.p) : r->target.n};
	if (q)
		r->query = (struct nx_http_slice){q + 1, r->target.n - r->path.n - 1};
	i++;
	if (end - i < 9 || memcmp(buf + i, "HTTP/", 5) != 0)
		return invalid(r, 400, "malformed request line");
	if (buf[i + 5] != '1' || buf[i + 6] != '.' || (buf[i + 7] != '0' && buf[i + 7] != '1'))
		return invalid(r, 505, "only HTTP/1.0 and HTTP/1.1");
	r->minor = buf[i + 7] - '0';
	i += 8;
	if (buf[i] == '\r')
		i++;
	if (buf[i] != '\n')
		return invalid(r, 400, "malformed request line");
	i++;
	/* Header fields until the blank line. */
	int conn_close = 0, conn_keep = 0, have_cl = 0;
	while (i < end) {
		if (buf[i] == '\n' || (buf[i] == '\r' && i + 1 < end && buf[i + 1] == '\n'))
			break;
		if (buf[i] == ' ' || buf[i] == '\t')
			return invalid(r, 400, "folded header line");
		size_t ns = i;
		while (i < end && tchar((unsigned char)buf[i]))
			i++;
		if (i == ns || i >= end || buf[i] != ':')
			return invalid(r, 400, "malformed header field");
		struct nx_http_slice name = {buf + ns, i - ns};
		i++;
		while (i < end && (buf[i] == ' ' || buf[i] == '\t'))
			i++;
		size_t vs = i;
		while (i < end && buf[i] != '\n') {
			unsigned char c = (unsigned char)buf[i];
			if ((c < ' ' && c != '\t' && !(c == '\r' && i + 1 < end && buf[i + 1] == '\n')) ||
			    c == 0x7f)
				return invalid(r, 400, "control character in header field");
			i++;
		}
		size_t ve = i;
		i++; /* past '\n' */
		if (ve > vs && buf[ve - 1] == '\r')
			ve--;
		while (ve > vs && (buf[ve - 1] == ' ' || buf[ve - 1] == '\t'))
			ve--;
		struct nx_http_slice value = {buf + vs, ve - vs};
		if (r->nfields == NX_HTTP_MAX_FIELDS)
			return invalid(r, 431, "too many header fields");
		r->f[r->nfields].name = name;
		r->f[r->nfields].value = value;
		r->nfields++;
		if (nx_http_slice_ieq(name, "content-length")) {
			int64_t n;
			if (parse_length(value, &n) < 0)
				return invalid(r, 400, "bad Content-Length");
			if (have_cl && n != r->content_length)
				return invalid(r, 400, "conflicting Content-Length fields");
			have_cl = 1;
			r->content_length = n;
		} else if (nx_http_slice_ieq(name, "transfer-encoding")) {
			r->chunked = 1;
		} else if (nx_http_slice_ieq(name, "connection")) {
			conn_close |= list_has(value, "close");
			conn_keep |= list_has(value, "keep-alive");
		}
	}
	if (have_cl && r->chunked)
		return invalid(r, 400, "both Content-Length and Transfer-Encoding");
	r->keep_alive = !conn_close && (r->minor == 1 || conn_keep);
	return NX_HTTP_DONE;
}

const char *nx_http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}
