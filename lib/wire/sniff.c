/* sniff.c — see sniff.h. Every read is bounds-checked against both the bytes we have
 * (→ NEED_MORE) and the length field that encloses it (→ INVALID): the parser never trusts
 * an inner length to fit its outer one. */
#include "wire/sniff.h"
#include "wire/http_req.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- TLS ClientHello ------------------------------------------------------------------ */

/* A cursor over the handshake bytes carried by consecutive handshake records: the record
 * headers are skipped as they come, so a ClientHello split over records and reads is parsed
 * in place, without reassembling it into a copy. */
struct tls_rd {
	const unsigned char *buf;
	size_t len;
	size_t pos;      /* next unread byte of buf */
	size_t rec_left; /* handshake bytes left in the current record */
	size_t off;      /* handshake bytes consumed so far */
	size_t limit;    /* handshake bytes that belong to the ClientHello (with its header) */
	enum nx_sniff_result fail;
	const char *why;
};

static int rd_fail(struct tls_rd *r, enum nx_sniff_result res, const char *why)
{
	r->fail = res;
	r->why = why;
	return -1;
}

static int rd_next_record(struct tls_rd *r)
{
	if (r->len - r->pos < 5)
		return rd_fail(r, NX_SNIFF_NEED_MORE, NULL);
	const unsigned char *h = r->buf + r->pos;
	if (h[0] != 0x16)
		return rd_fail(r, NX_SNIFF_INVALID, "non-handshake record inside the ClientHello");
	if (h[1] != 3)
		return rd_fail(r, NX_SNIFF_INVALID, "bad record version");
	size_t l = (size_t)h[3] << 8 | h[4];
	if (l == 0 || l > 16384)
		return rd_fail(r, NX_SNIFF_INVALID, "bad record length");
	r->pos += 5;
	r->rec_left = l;
	return 0;
}

/* Take n handshake bytes into dst (NULL: skip them). */
static int rd_get(struct tls_rd *r, unsigned char *dst, size_t n)
{
	if (n > r->limit - r->off)
		return rd_fail(r, NX_SNIFF_INVALID, "length field runs past the ClientHello");
	while (n) {
		if (r->rec_left == 0 && rd_next_record(r) < 0)
			return -1;
		size_t avail = r->len - r->pos;
		if (avail > r->rec_left)
			avail = r->rec_left;
		if (avail == 0)
			return rd_fail(r, NX_SNIFF_NEED_MORE, NULL);
		size_t take = avail < n ? avail : n;
		if (dst) {
			memcpy(dst, r->buf + r->pos, take);
			dst += take;
		}
		r->pos += take;
		r->rec_left -= take;
		r->off += take;
		n -= take;
	}
	return 0;
}

static int rd_u8(struct tls_rd *r, size_t *v)
{
	unsigned char b[1];
	if (rd_get(r, b, 1) < 0)
		return -1;
	*v = b[0];
	return 0;
}

static int rd_u16(struct tls_rd *r, size_t *v)
{
	unsigned char b[2];
	if (rd_get(r, b, 2) < 0)
		return -1;
	*v = (size_t)b[0] << 8 | b[1];
	return 0;
}

/* server_name extension body (RFC 6066 §3): list length, then (type, length, name)*. */
static int parse_server_name(struct tls_rd *r, size_t ext_len, struct nx_sniff *out, int *found)
{
	size_t list_len, end = r->off + ext_len;
	if (rd_u16(r, &list_len) < 0)
		return -1;
	if (list_len + 2 != ext_len || list_len == 0)
		return rd_fail(r, NX_SNIFF_INVALID, "bad server_name list length");
	while (r->off < end) {
		size_t type, nlen;
		if (rd_u8(r, &type) < 0 || rd_u16(r, &nlen) < 0)
			return -1;
		if (nlen > end - r->off)
			return rd_fail(r, NX_SNIFF_INVALID, "server name runs past its extension");
		if (type != 0) { /* unknown name type: skip */
			if (rd_get(r, NULL, nlen) < 0)
				return -1;
			continue;
		}
		if (*found)
			return rd_fail(r, NX_SNIFF_INVALID, "two host_name entries");
		if (nlen == 0 || nlen >= sizeof out->name)
			return rd_fail(r, NX_SNIFF_INVALID, "bad host_name length");
		if (rd_get(r, (unsigned char *)out->name, nlen) < 0)
			return -1;
		if (memchr(out->name, '\0', nlen))
			return rd_fail(r, NX_SNIFF_INVALID, "NUL byte in host_name");
		out->name[nlen] = '\0';
		out->name_len = nlen;
		*found = 1;
	}
	return 0;
}

static int parse_client_hello(struct tls_rd *r, struct nx_sniff *out, int *found)
{
	size_t v, n;
	unsigned char hdr[4];
	r->limit = 4;
	if (rd_get(r, hdr, 4) < 0)
		return -1;
	if (hdr[0] != 1)
		return rd_fail(r, NX_SNIFF_INVALID, "first handshake message is not a ClientHello");
	size_t body = (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
	if (body > NX_SNIFF_TLS_HELLO_MAX - 4)
		return rd_fail(r, NX_SNIFF_INVALID, "ClientHello over 32 KiB");
	r->limit = 4 + body;

	if (rd_u16(r, &v) < 0) /* client_version */
		return -1;
	if (v >> 8 != 3)
		return rd_fail(r, NX_SNIFF_INVALID, "bad client_version");
	if (rd_get(r, NULL, 32) < 0) /* random */
		return -1;
	if (rd_u8(r, &n) < 0)
		return -1;
	if (n > 32)
		return rd_fail(r, NX_SNIFF_INVALID, "session id over 32 bytes");
	if (rd_get(r, NULL, n) < 0)
		return -1;
	if (rd_u16(r, &n) < 0)
		return -1;
	if (n < 2 || n % 2)
		return rd_fail(r, NX_SNIFF_INVALID, "bad cipher_suites length");
	if (rd_get(r, NULL, n) < 0)
		return -1;
	if (rd_u8(r, &n) < 0)
		return -1;
	if (n < 1)
		return rd_fail(r, NX_SNIFF_INVALID, "no compression methods");
	if (rd_get(r, NULL, n) < 0)
		return -1;
	if (r->off == r->limit)
		return 0; /* no extensions at all (SSL 3.0 style): no SNI */
	size_t ext_total;
	if (rd_u16(r, &ext_total) < 0)
		return -1;
	if (ext_total != r->limit - r->off)
		return rd_fail(r, NX_SNIFF_INVALID, "extensions length does not match the ClientHello");
	int seen_sni = 0;
	while (r->off < r->limit) {
		size_t type, elen;
		if (rd_u16(r, &type) < 0 || rd_u16(r, &elen) < 0)
			return -1;
		if (elen > r->limit - r->off)
			return rd_fail(r, NX_SNIFF_INVALID, "extension runs past the ClientHello");
		if (type == 0) {
			if (seen_sni++)
				return rd_fail(r, NX_SNIFF_INVALID, "two server_name extensions");
			if (elen == 0)
				continue; /* empty server_name: only legal in a ServerHello; treat as none */
			if (parse_server_name(r, elen, out, found) < 0)
				return -1;
		} else if (rd_get(r, NULL, elen) < 0) {
			return -1;
		}
	}
	return 0;
}

enum nx_sniff_result nx_sniff_tls(const unsigned char *buf, size_t len, struct nx_sniff *out)
{
	memset(out, 0, sizeof *out);
	if (len == 0)
		return NX_SNIFF_NEED_MORE;
	/* A TLS connection starts with a handshake record of major version 3. SSLv2-style hellos
	 * (first bit set) are not TLS we can route: no extensions, hence no SNI. */
	if (buf[0] != 0x16 || (len > 1 && buf[1] != 3))
		return NX_SNIFF_NOT_THIS;
	if (len < 5)
		return NX_SNIFF_NEED_MORE; /* need 0: the next byte may still say NOT_THIS */
	out->tls_version = (uint16_t)(buf[1] << 8 | buf[2]);
	struct tls_rd r = {.buf = buf, .len = len};
	int found = 0;
	if (parse_client_hello(&r, out, &found) < 0) {
		out->why = r.why;
		out->name[0] = '\0';
		out->name_len = 0;
		/* every handshake byte still missing takes at least one more byte of input */
		if (r.fail == NX_SNIFF_NEED_MORE)
			out->need = len + (r.limit > r.off ? r.limit - r.off : 1);
		return r.fail;
	}
	/* The prelude ends with the record that carries the last ClientHello byte. */
	out->consumed = r.pos + r.rec_left <= len ? r.pos + r.rec_left : r.pos;
	return found ? NX_SNIFF_DONE : NX_SNIFF_NO_NAME;
}

/* ---- HTTP/1.x request head ------------------------------------------------------------- */

static int is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int is_vchar(unsigned char c) { return c > 0x20 && c < 0x7f; }

/* Host value (or absolute-form authority) without its port into out. 0 ok, -1 invalid. */
static int host_without_port(const unsigned char *s, size_t n, struct nx_sniff *out)
{
	size_t hl = n;
	if (n && s[0] == '[') {
		const unsigned char *rb = memchr(s, ']', n);
		if (!rb)
			return -1;
		hl = (size_t)(rb - s) + 1;
		if (hl < n && s[hl] != ':')
			return -1;
	} else {
		for (size_t i = 0; i < n; i++)
			if (s[i] == ':') {
				hl = i;
				break;
			}
	}
	if (hl < n) { /* ":port": digits only, may be empty (RFC 3986 allows "host:") */
		if (n - hl - 1 > 5)
			return -1;
		for (size_t i = hl + 1; i < n; i++)
			if (s[i] < '0' || s[i] > '9')
				return -1;
	}
	if (hl == 0 || hl >= sizeof out->name)
		return -1;
	for (size_t i = 0; i < hl; i++)
		if (!is_vchar(s[i]) || s[i] == '@' || s[i] == '/')
			return -1;
	memcpy(out->name, s, hl);
	out->name[hl] = '\0';
	out->name_len = hl;
	return 0;
}

static enum nx_sniff_result http_invalid(struct nx_sniff *out, const char *why)
{
	out->why = why;
	out->name[0] = '\0';
	out->name_len = 0;
	return NX_SNIFF_INVALID;
}

/* Check the request line's start as far as we have it: "METHOD SP" with an upper-case
 * token method. Returns NOT_THIS, NEED_MORE (plausible so far) or DONE (method complete);
 * *mlen gets the method length. */
static enum nx_sniff_result http_method(const unsigned char *buf, size_t len, size_t *mlen)
{
	size_t i = 0;
	for (; i < len && i <= 16; i++) {
		unsigned char c = buf[i];
		if (c == ' ')
			break;
		if (!((c >= 'A' && c <= 'Z') || c == '-' || c == '_'))
			return NX_SNIFF_NOT_THIS;
	}
	if (i > 16)
		return NX_SNIFF_NOT_THIS;
	if (i == len)
		return NX_SNIFF_NEED_MORE;
	if (i == 0)
		return NX_SNIFF_NOT_THIS;
	*mlen = i;
	return NX_SNIFF_DONE;
}

enum nx_sniff_result nx_sniff_http(const unsigned char *buf, size_t len, struct nx_sniff *out)
{
	memset(out, 0, sizeof *out);
	size_t mlen = 0;
	enum nx_sniff_result m = http_method(buf, len, &mlen);
	if (m != NX_SNIFF_DONE)
		return m;
	if (len >= 14 && memcmp(buf, "PRI * HTTP/2.0", 14) == 0)
		return NX_SNIFF_NOT_THIS;

	/* Find the end of the head: an empty line (CRLF CRLF, or bare LFs). */
	size_t scan = len < NX_SNIFF_HTTP_HEAD_MAX ? len : NX_SNIFF_HTTP_HEAD_MAX;
	size_t head_end = nx_http_head_end(buf, scan);
	/* Validate the request line as soon as it is complete, so garbage is refused early. */
	const unsigned char *eol = memchr(buf, '\n', scan);
	if (!eol) {
		if (len >= NX_SNIFF_HTTP_HEAD_MAX)
			return http_invalid(out, "request line over 64 KiB");
		return NX_SNIFF_NEED_MORE;
	}
	size_t line_len = (size_t)(eol - buf);
	if (line_len && buf[line_len - 1] == '\r')
		line_len--;
	/* A first line with no " HTTP/" in it is some other line-based protocol that happens to
	 * start with an upper-case word ("HELO x", HTTP/0.9 "GET /"): not ours to judge. */
	if (!memmem(buf, line_len, " HTTP/", 6))
		return NX_SNIFF_NOT_THIS;
	if (line_len <= mlen + 1)
		return http_invalid(out, "malformed request line");
	const unsigned char *target = buf + mlen + 1;
	const unsigned char *sp = memchr(target, ' ', line_len - mlen - 1);
	if (!sp || sp == target)
		return http_invalid(out, "malformed request line");
	size_t tlen = (size_t)(sp - target);
	const unsigned char *ver = sp + 1;
	size_t vlen = line_len - (size_t)(ver - buf);
	if (vlen != 8 || memcmp(ver, "HTTP/1.", 7) != 0 || (ver[7] != '0' && ver[7] != '1'))
		return http_invalid(out, "not HTTP/1.0 or HTTP/1.1");
	out->http_minor = (uint8_t)(ver[7] - '0');
	for (size_t i = 0; i < tlen; i++)
		if (!is_vchar(target[i]))
			return http_invalid(out, "bad byte in request target");
	if (!head_end) {
		if (len >= NX_SNIFF_HTTP_HEAD_MAX)
			return http_invalid(out, "request head over 64 KiB");
		return NX_SNIFF_NEED_MORE;
	}

	/* Absolute-form target: its authority wins over Host (RFC 9112 §3.2.2). */
	int have_name = 0;
	size_t skip = 0;
	if (tlen > 7 && strncasecmp((const char *)target, "http://", 7) == 0)
		skip = 7;
	else if (tlen > 8 && strncasecmp((const char *)target, "https://", 8) == 0)
		skip = 8;
	if (skip) {
		const unsigned char *a = target + skip;
		size_t alen = 0;
		while (skip + alen < tlen && a[alen] != '/' && a[alen] != '?' && a[alen] != '#')
			alen++;
		if (host_without_port(a, alen, out) < 0)
			return http_invalid(out, "bad authority in absolute-form target");
		have_name = 1;
	}

	/* Header lines. */
	int hosts = 0;
	const unsigned char *p = eol + 1, *end = buf + head_end;
	for (;;) {
		const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = (size_t)(nl - p);
		if (l && p[l - 1] == '\r')
			l--;
		if (l == 0)
			break; /* the empty line */
		if (p[0] == ' ' || p[0] == '\t')
			return http_invalid(out, "folded header line");
		const unsigned char *colon = memchr(p, ':', l);
		if (!colon || colon == p)
			return http_invalid(out, "header line without a name");
		size_t nlen = (size_t)(colon - p);
		for (size_t i = 0; i < nlen; i++)
			if (!is_tchar(p[i]))
				return http_invalid(out, "bad byte in header name");
		for (size_t i = nlen + 1; i < l; i++)
			if (p[i] < 0x20 && p[i] != '\t')
				return http_invalid(out, "control byte in header value");
		if (nlen == 4 && strncasecmp((const char *)p, "host", 4) == 0) {
			if (hosts++)
				return http_invalid(out, "duplicate Host header");
			const unsigned char *v = colon + 1, *ve = p + l;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			if (!have_name && ve > v) {
				if (host_without_port(v, (size_t)(ve - v), out) < 0)
					return http_invalid(out, "bad Host header");
			} else if (ve > v) {
				/* absolute form given: the Host value must still be well-formed */
				struct nx_sniff tmp;
				if (host_without_port(v, (size_t)(ve - v), &tmp) < 0)
					return http_invalid(out, "bad Host header");
			}
		}
		p = nl + 1;
	}
	out->consumed = head_end;
	return out->name_len ? NX_SNIFF_DONE : NX_SNIFF_NO_NAME;
}

const char *nx_sniff_result_name(enum nx_sniff_result r)
{
	switch (r) {
	case NX_SNIFF_DONE: return "done";
	case NX_SNIFF_NEED_MORE: return "need-more";
	case NX_SNIFF_NO_NAME: return "no-name";
	case NX_SNIFF_INVALID: return "invalid";
	case NX_SNIFF_NOT_THIS: return "not-this";
	}
	return "?";
}

/* ---- answers --------------------------------------------------------------------------- */

size_t nx_tls_alert(unsigned char out[7], uint16_t client_record_version, uint8_t desc)
{
	uint16_t v = client_record_version;
	if (v < 0x0300 || v > 0x0303)
		v = 0x0301;
	out[0] = 0x15; /* alert */
	out[1] = (unsigned char)(v >> 8);
	out[2] = (unsigned char)v;
	out[3] = 0;
	out[4] = 2;
	out[5] = 2; /* fatal */
	out[6] = desc;
	return 7;
}

#define RESP(code, text, body)                                                              \
	"HTTP/1.1 " code " " text "\r\nContent-Type: text/plain\r\nContent-Length: " #body     \
	"\r\nConnection: close\r\n\r\n"

const char *nx_http_error_response(int status, size_t *len)
{
	const char *r;
	switch (status) {
	case 400: r = RESP("400", "Bad Request", 12) "bad request\n"; break;
	case 408: r = RESP("408", "Request Timeout", 16) "request timeout\n"; break;
	case 502: r = RESP("502", "Bad Gateway", 9) "no route\n"; break;
	case 503: r = RESP("503", "Service Unavailable", 20) "service unavailable\n"; break;
	case 504: r = RESP("504", "Gateway Timeout", 16) "gateway timeout\n"; break;
	default: r = RESP("500", "Internal Server Error", 15) "internal error\n"; break;
	}
	*len = strlen(r);
	return r;
}

size_t nx_http_error_format(int status, const char *body, char *out, size_t outlen)
{
	size_t len;
	const char *r = nx_http_error_response(status, &len);
	const char *sp = strchr(r, ' '), *eol = strstr(r, "\r\n");
	int n = snprintf(out, outlen,
	                 "HTTP/1.1 %.*s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
	                 "Connection: close\r\n\r\n%s\n",
	                 (int)(eol - sp - 1), sp + 1, strlen(body) + 1, body);
	return n > 0 && (size_t)n < outlen ? (size_t)n : 0;
}
