/* ws_upgrade.c — the HTTP/1.1 upgrade handshake of RFC 6455, both sides. */
#include <bearssl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"
#include "wire/http_req.h"
#include "wire/ws.h"

static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard base64 with padding (the handshake uses it, not base64url). */
static void b64_std(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = B64[v >> 18 & 63];
		out[o++] = B64[v >> 12 & 63];
		out[o++] = i + 1 < n ? B64[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? B64[v & 63] : '=';
	}
	out[o] = 0;
}

void nx_ws_make_key(const uint8_t nonce[16], char key[NX_WS_KEY_LEN + 1])
{
	b64_std(nonce, 16, key);
}

void nx_ws_accept_for(const char *key, size_t keylen, char accept[NX_WS_ACCEPT_LEN + 1])
{
	br_sha1_context sc;
	uint8_t digest[br_sha1_SIZE];
	br_sha1_init(&sc);
	br_sha1_update(&sc, key, keylen);
	br_sha1_update(&sc, WS_GUID, sizeof WS_GUID - 1);
	br_sha1_out(&sc, digest);
	b64_std(digest, sizeof digest, accept);
}

int nx_ws_client_request(char *out, size_t cap, const char *host, const char *path,
                         const char *key, const char *user_agent)
{
	int n = snprintf(out, cap,
	                 "GET %s HTTP/1.1\r\n"
	                 "Host: %s\r\n"
	                 "User-Agent: %s\r\n"
	                 "Connection: Upgrade\r\n"
	                 "Sec-WebSocket-Key: %s\r\n"
	                 "Sec-WebSocket-Version: 13\r\n"
	                 "Upgrade: websocket\r\n"
	                 "\r\n",
	                 path, host, user_agent ? user_agent : "Go-http-client/1.1", key);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	return n;
}

/* ---- head parsing ---------------------------------------------------------------------- */

struct line {
	const char *p;
	size_t n;
};

/* Next line of head [*pos, end): without its CR LF. 0 at the end. */
static int next_line(const char *buf, size_t end, size_t *pos, struct line *l)
{
	if (*pos >= end)
		return 0;
	const char *s = buf + *pos;
	const char *nl = memchr(s, '\n', end - *pos);
	size_t n = nl ? (size_t)(nl - s) : end - *pos;
	*pos += n + 1;
	if (n && s[n - 1] == '\r')
		n--;
	l->p = s;
	l->n = n;
	return 1;
}

static void trim(struct line *l)
{
	while (l->n && (l->p[0] == ' ' || l->p[0] == '\t')) {
		l->p++;
		l->n--;
	}
	while (l->n && (l->p[l->n - 1] == ' ' || l->p[l->n - 1] == '\t'))
		l->n--;
}

/* Split "Name: value"; 0 if the line is not a header. */
static int split_header(const struct line *l, struct line *name, struct line *value)
{
	const char *c = memchr(l->p, ':', l->n);
	if (!c || c == l->p)
		return 0;
	name->p = l->p;
	name->n = (size_t)(c - l->p);
	value->p = c + 1;
	value->n = l->n - name->n - 1;
	trim(value);
	for (size_t i = 0; i < name->n; i++)
		if (name->p[i] == ' ' || name->p[i] == '\t')
			return 0;
	return 1;
}

static int name_is(const struct line *name, const char *want)
{
	return name->n == strlen(want) && strncasecmp(name->p, want, name->n) == 0;
}

/* Does a comma-separated token list contain tok (case-insensitive)? */
static int has_token(const struct line *v, const char *tok)
{
	size_t tl = strlen(tok), i = 0;
	while (i < v->n) {
		size_t j = i;
		while (j < v->n && v->p[j] != ',')
			j++;
		struct line t = {v->p + i, j - i};
		trim(&t);
		if (t.n == tl && strncasecmp(t.p, tok, tl) == 0)
			return 1;
		i = j + 1;
	}
	return 0;
}

static void copy_value(char *dst, size_t cap, const struct line *v)
{
	size_t n = v->n < cap - 1 ? v->n : cap - 1;
	memcpy(dst, v->p, n);
	dst[n] = 0;
}

static int valid_key(const struct line *v)
{
	if (v->n != NX_WS_KEY_LEN || v->p[22] != '=' || v->p[23] != '=')
		return 0;
	for (size_t i = 0; i < 22; i++)
		if (!strchr(B64, v->p[i]) || !v->p[i])
			return 0;
	return 1; /* like Go's decoder, the unused low bits of the last character are not checked */
}

int nx_ws_client_parse_response(const char *buf, size_t len, const char *key, size_t *head_len,
                                int *status, char *err, size_t errlen)
{
	size_t end = nx_http_head_end(buf, len < NX_WS_MAX_HEAD ? len : NX_WS_MAX_HEAD);
	*status = 0;
	if (!end) {
		if (len >= NX_WS_MAX_HEAD)
			return nx_err(err, errlen, "upgrade response head longer than %d bytes",
			              NX_WS_MAX_HEAD);
		return NX_WS_NEED;
	}
	*head_len = end;
	size_t pos = 0;
	struct line l, name, value;
	next_line(buf, end, &pos, &l);
	int code = 0;
	char reason[64] = "";
	/* the head is not NUL-terminated: no sscanf here */
	if (l.n < 12 || memcmp(l.p, "HTTP/1.", 7) != 0 || l.p[8] != ' ')
		return nx_err(err, errlen, "hub did not answer with HTTP");
	for (int i = 9; i < 12; i++) {
		if (l.p[i] < '0' || l.p[i] > '9')
			return nx_err(err, errlen, "hub did not answer with HTTP");
		code = code * 10 + (l.p[i] - '0');
	}
	if (code < 100)
		return nx_err(err, errlen, "hub did not answer with HTTP");
	*status = code;
	if (l.n > 13) {
		struct line r = {l.p + 13, l.n - 13};
		char raw[64];
		copy_value(raw, sizeof raw, &r);
		nx_sanitize(reason, sizeof reason, raw, strlen(raw));
	}
	if (code != 101)
		return nx_err(err, errlen, "hub answered %d %s instead of switching to WebSocket",
		              code, reason);
	int upgrade = 0, connection = 0, accept_ok = 0, accept_seen = 0;
	char want[NX_WS_ACCEPT_LEN + 1];
	nx_ws_accept_for(key, strlen(key), want);
	while (next_line(buf, end, &pos, &l)) {
		if (l.n == 0)
			break;
		if (!split_header(&l, &name, &value))
			return nx_err(err, errlen, "malformed header line in the upgrade response");
		if (name_is(&name, "Upgrade"))
			upgrade |= has_token(&value, "websocket");
		else if (name_is(&name, "Connection"))
			connection |= has_token(&value, "upgrade");
		else if (name_is(&name, "Sec-WebSocket-Accept")) {
			accept_seen = 1;
			accept_ok = value.n == NX_WS_ACCEPT_LEN && memcmp(value.p, want, value.n) == 0;
		} else if (name_is(&name, "Sec-WebSocket-Extensions") && value.n)
			return nx_err(err, errlen, "hub chose a WebSocket extension nobody offered");
		else if (name_is(&name, "Sec-WebSocket-Protocol") && value.n)
			return nx_err(err, errlen, "hub chose a WebSocket subprotocol nobody offered");
	}
	if (!upgrade)
		return nx_err(err, errlen, "upgrade response without Upgrade: websocket");
	if (!connection)
		return nx_err(err, errlen, "upgrade response without Connection: Upgrade");
	if (!accept_seen)
		return nx_err(err, errlen, "upgrade response without Sec-WebSocket-Accept");
	if (!accept_ok)
		return nx_err(err, errlen, "bad Sec-WebSocket-Accept in the upgrade response");
	return NX_WS_DONE;
}

int nx_ws_server_parse_request(const char *buf, size_t len, const char *want_path,
                               struct nx_ws_request *req, char *err, size_t errlen)
{
	memset(req, 0, sizeof *req);
	size_t end = nx_http_head_end(buf, len < NX_WS_MAX_HEAD ? len : NX_WS_MAX_HEAD);
	if (!end) {
		if (len >= NX_WS_MAX_HEAD) {
			req->status = 400;
			return nx_err(err, errlen, "request head longer than %d bytes", NX_WS_MAX_HEAD);
		}
		return NX_WS_NEED;
	}
	req->head_len = end;
	size_t pos = 0;
	struct line l, name, value;
	next_line(buf, end, &pos, &l);
	/* METHOD SP target SP HTTP/1.x */
	const char *sp1 = memchr(l.p, ' ', l.n);
	const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', l.n - (size_t)(sp1 + 1 - l.p)) : NULL;
	if (!sp1 || !sp2 || sp1 == l.p || sp2 == sp1 + 1 ||
	    (size_t)(l.p + l.n - (sp2 + 1)) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0) {
		req->status = 400;
		return nx_err(err, errlen, "not an HTTP/1.x request");
	}
	struct line method = {l.p, (size_t)(sp1 - l.p)};
	struct line target = {sp1 + 1, (size_t)(sp2 - sp1 - 1)};
	const char *q = memchr(target.p, '?', target.n);
	if (q)
		target.n = (size_t)(q - target.p);
	copy_value(req->path, sizeof req->path, &target);
	int minor = sp2[8] - '0';
	int upgrade = 0, connection = 0, version_ok = 0, version_seen = 0, host = 0, key_ok = 0;
	while (next_line(buf, end, &pos, &l)) {
		if (l.n == 0)
			break;
		if (!split_header(&l, &name, &value)) {
			req->status = 400;
			return nx_err(err, errlen, "malformed header line");
		}
		if (name_is(&name, "Host")) {
			host = 1;
			copy_value(req->host, sizeof req->host, &value);
		} else if (name_is(&name, "User-Agent"))
			copy_value(req->user_agent, sizeof req->user_agent, &value);
		else if (name_is(&name, "Upgrade"))
			upgrade |= has_token(&value, "websocket");
		else if (name_is(&name, "Connection"))
			connection |= has_token(&value, "upgrade");
		else if (name_is(&name, "Sec-WebSocket-Version")) {
			version_seen = 1;
			version_ok = value.n == 2 && memcmp(value.p, "13", 2) == 0;
		} else if (name_is(&name, "Sec-WebSocket-Key")) {
			key_ok = valid_key(&value);
			if (key_ok)
				copy_value(req->key, sizeof req->key, &value);
		}
	}
	if (target.n != strlen(want_path) || memcmp(target.p, want_path, target.n) != 0)
		req->status = 404;
	else if (method.n != 3 || memcmp(method.p, "GET", 3) != 0)
		req->status = 405;
	else if (minor < 1 || minor > 9 || !host || !upgrade || !connection || !key_ok ||
	         !version_seen)
		req->status = 400;
	else if (!version_ok)
		req->status = 426;
	else
		req->status = 101;
	return NX_WS_DONE;
}

int nx_ws_server_response(char *out, size_t cap, const struct nx_ws_request *req)
{
	int n;
	if (req->status == 101) {
		char accept[NX_WS_ACCEPT_LEN + 1];
		nx_ws_accept_for(req->key, strlen(req->key), accept);
		n = snprintf(out, cap,
		             "HTTP/1.1 101 Switching Protocols\r\n"
		             "Upgrade: websocket\r\n"
		             "Connection: Upgrade\r\n"
		             "Sec-WebSocket-Accept: %s\r\n"
		             "\r\n",
		             accept);
	} else {
		const char *text, *body, *extra = "";
		switch (req->status) {
		case 404:
			text = "Not Found";
			body = "404 page not found\n";
			break;
		case 405:
			text = "Method Not Allowed";
			body = "method not allowed\n";
			break;
		case 426:
			text = "Upgrade Required";
			body = "unsupported websocket version\n";
			extra = "Sec-WebSocket-Version: 13\r\n";
			break;
		default:
			text = "Bad Request";
			body = "bad websocket upgrade request\n";
			break;
		}
		n = snprintf(out, cap,
		             "HTTP/1.1 %d %s\r\n"
		             "Content-Type: text/plain; charset=utf-8\r\n"
		             "Content-Length: %zu\r\n"
		             "%s"
		             "Connection: close\r\n"
		             "\r\n%s",
		             req->status == 0 ? 400 : req->status, text, strlen(body), extra, body);
	}
	if (n < 0 || (size_t)n >= cap)
		return -1;
	return n;
}
