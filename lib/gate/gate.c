/* gate.c — see gate.h: one browser connection (TLS, the session checks, the request loop
 * towards the web UI); the gate's state is in gate_core.c. */
#include "gate/gate_http.h"
#include "gate/gate_int.h"
#include "core/random.h"
#include "core/sock.h"
#include "core/util.h"
#include "token/keys.h"
#include "wire/tls.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* an untrusted value quoted for a logfmt line (a buffer of the calling block) */
#define LQ(s) nx_log_q((char[600]){0}, 600, (s))
#define CONN_BUF (NX_HTTP_HEAD_MAX + 16384)
#define UP_DIAL_MS 10000
#define HANDSHAKE_MS 30000 /* a browser's whole TLS handshake */
#define HEAD_MS 30000      /* a request head, from its first byte: no trickling forever */
#define UP_IO_MS 120000

/* ---- one browser connection ------------------------------------------------------------ */

struct conn {
	struct nx_gate *g;
	struct gate_slot slot;
	int fd;
	struct nx_tls *tls;
	char host[NX_HOSTNAME_MAX + 1];
	char target[300];
	char buf[CONN_BUF];
	size_t len;
	char out[NX_HTTP_HEAD_MAX + 1024];
};

/* Wait for what the TLS engine wants; 0 ready, -1 timeout or error. */
static int tls_wait(struct conn *c, int ms)
{
	unsigned want = nx_tls_want(c->tls);
	if (!want)
		return -1;
	struct pollfd p = {c->fd, 0, 0};
	if (want & 1)
		p.events |= POLLIN;
	if (want & 2)
		p.events |= POLLOUT;
	int r;
	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	return r > 0 ? 0 : -1;
}

/* More browser bytes into c->buf: > 0 read, 0 EOF, -1 error or quiet for ms. */
static ssize_t fill(struct conn *c, int ms)
{
	if (c->len >= sizeof c->buf)
		return -1;
	for (;;) {
		ssize_t n = nx_tls_read(c->tls, c->buf + c->len, sizeof c->buf - c->len);
		if (n > 0) {
			c->len += (size_t)n;
			return n;
		}
		if (n == NX_TLS_EOF)
			return 0;
		if (n != NX_TLS_AGAIN || tls_wait(c, ms) < 0)
			return -1;
	}
}

static int send_tls(struct conn *c, const void *p, size_t n)
{
	const char *b = p;
	while (n) {
		ssize_t w = nx_tls_write(c->tls, b, n);
		if (w > 0) {
			b += w;
			n -= (size_t)w;
		} else if (w != NX_TLS_AGAIN || tls_wait(c, UP_IO_MS) < 0) {
			return -1;
		}
	}
	while (nx_tls_flush(c->tls) == NX_TLS_AGAIN)
		if (tls_wait(c, UP_IO_MS) < 0)
			return -1;
	return 0;
}

static void consume(struct conn *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

/* A response of our own (keep-alive framing). */
static int answer(struct conn *c, int status, const char *ctype, const char *extra,
                  const char *body, int close)
{
	char head[8192];
	size_t bl = body ? strlen(body) : 0;
	int n = snprintf(head, sizeof head,
	                 "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%s%s%sCache-Control: no-store\r\n"
	                 "X-Content-Type-Options: nosniff\r\n%s%s\r\n",
	                 status, nx_http_reason(status), bl, ctype ? "Content-Type: " : "",
	                 ctype ? ctype : "", ctype ? "\r\n" : "", extra ? extra : "",
	                 close ? "Connection: close\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof head)
		return -1;
	if (send_tls(c, head, (size_t)n) < 0 || (bl && send_tls(c, body, bl) < 0))
		return -1;
	return close ? -1 : 0;
}

static const char page_ended[] =
    "<!doctype html><html><head><meta charset=utf-8><title>Session ended</title></head>"
    "<body><h1>This session has ended</h1><p>Open the device again from your app or "
    "dashboard to start a new session.</p></body></html>\n";
static const char page_bad_link[] =
    "<!doctype html><html><head><meta charset=utf-8><title>Link not valid</title></head>"
    "<body><h1>This link is not valid</h1><p>Session links work once and only for a minute. "
    "Ask for a new one.</p></body></html>\n";

static int wants_html(const struct nx_http_req *r)
{
	const struct nx_http_slice *m = nx_http_req_field(r, "sec-fetch-mode");
	if (m)
		return nx_http_slice_ieq(*m, "navigate");
	const struct nx_http_slice *a = nx_http_req_field(r, "accept");
	if (!a || nx_http_req_field(r, "x-requested-with"))
		return 0;
	for (size_t i = 0; i + 9 <= a->n; i++)
		if (strncasecmp(a->p + i, "text/html", 9) == 0)
			return 1;
	return 0;
}

static int host_ok(const struct conn *c, const struct nx_http_req *r)
{
	const struct nx_http_slice *h = nx_http_req_field(r, "host");
	if (!h)
		return 0;
	size_t n = h->n, hl = strlen(c->host);
	if (n == hl + 4 && memcmp(h->p + hl, ":443", 4) == 0)
		n = hl;
	return n == hl && strncasecmp(h->p, c->host, hl) == 0;
}

static int same_origin(const struct conn *c, const struct nx_http_req *r)
{
	const struct nx_http_slice *o = nx_http_req_field(r, "origin");
	char want[NX_HOSTNAME_MAX + 16];
	snprintf(want, sizeof want, "https://%s", c->host);
	return o && (nx_http_slice_ieq(*o, want) ||
	             (snprintf(want, sizeof want, "https://%s:443", c->host), nx_http_slice_ieq(*o, want)));
}

/* The session cookie of any Cookie field. */
static int find_session(struct conn *c, const struct nx_http_req *r, struct gate_session *s,
                        char *err, size_t errlen)
{
	nx_err(err, errlen, "no session cookie");
	for (int i = 0; i < r->nfields; i++) {
		const char *v;
		size_t vn;
		if (nx_http_slice_ieq(r->f[i].name, "cookie") &&
		    nx_gate_cookie_get(r->f[i].value.p, r->f[i].value.n, NX_GATE_COOKIE, &v, &vn) &&
		    gate_cookie_check(c->g, c->host, v, vn, s, err, errlen) == 0)
			return 0;
	}
	return -1;
}

static int dial_up(struct conn *c, char *err, size_t errlen)
{
	int fd = nx_dial_tcp(c->target, err, errlen);
	if (fd < 0)
		return -1;
	struct pollfd p = {fd, POLLOUT, 0};
	if (poll(&p, 1, UP_DIAL_MS) <= 0) {
		close(fd);
		return nx_err(err, errlen, "connect timed out");
	}
	if (nx_connect_result(fd, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	nx_set_nonblock(fd, 0);
	struct timeval tv = {UP_IO_MS / 1000, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return fd;
}

/* The request body (length or chunked) from the browser to the UI. */
static int copy_body(struct conn *c, const struct nx_http_req *r, int up)
{
	if (r->chunked) {
		struct nx_gate_chunked ch = {0};
		for (;;) {
			if (!c->len && fill(c, UP_IO_MS) <= 0)
				return -1;
			size_t used;
			int rc = nx_gate_chunked_scan(&ch, c->buf, c->len, &used);
			if (rc == NX_HTTP_INVALID || nx_write_all(up, c->buf, used) < 0)
				return -1;
			consume(c, used);
			if (rc == NX_HTTP_DONE)
				return 0;
		}
	}
	int64_t left = r->content_length > 0 ? r->content_length : 0;
	while (left > 0) {
		if (!c->len && fill(c, UP_IO_MS) <= 0)
			return -1;
		size_t take = (int64_t)c->len < left ? c->len : (size_t)left;
		if (nx_write_all(up, c->buf, take) < 0)
			return -1;
		consume(c, take);
		left -= (int64_t)take;
	}
	return 0;
}

/* After the UI's 101: bytes both ways until one side ends or the session does. */
static void pump_ws(struct conn *c, int up, int64_t exp, const char *sid)
{
	char b[16384];
	if (c->len && nx_write_all(up, c->buf, c->len) < 0)
		return;
	c->len = 0;
	nx_set_nonblock(up, 1);
	for (;;) {
		int64_t left = exp - nx_unix_time();
		if (left <= 0 || gate_session_live(c->g, sid) != GATE_LIVE)
			return;
		ssize_t n;
		while ((n = nx_tls_read(c->tls, b, sizeof b)) > 0)
			if (nx_write_all(up, b, (size_t)n) < 0)
				return;
		if (n != NX_TLS_AGAIN)
			return;
		unsigned want = nx_tls_want(c->tls);
		struct pollfd p[2] = {{c->fd, (short)((want & 1 ? POLLIN : 0) | (want & 2 ? POLLOUT : 0)), 0},
		                      {up, POLLIN, 0}};
		int ms = left > 5 ? 5000 : (int)left * 1000;
		if (poll(p, 2, ms) < 0 && errno != EINTR)
			return;
		if (p[1].revents) {
			n = read(up, b, sizeof b);
			if (n == 0 || (n < 0 && errno != EAGAIN))
				return;
			if (n > 0 && send_tls(c, b, (size_t)n) < 0)
				return;
		}
	}
}

/* Forward one request; 0 the browser connection goes on, -1 it ends. */
static int forward(struct conn *c, const struct nx_http_req *r, const struct gate_session *s,
                   int upgrade)
{
	char err[NX_ERRLEN];
	int head_req = nx_http_slice_is(r->method, "HEAD");
	int keep = r->keep_alive;
	int n = nx_gate_req_rewrite(r, upgrade, s->user, c->out, sizeof c->out);
	if (n < 0)
		return answer(c, 431, NULL, NULL, NULL, 1);
	int up = dial_up(c, err, sizeof err);
	if (up < 0) {
		gate_log_remote(c->g, NX_LOG_WARN, "gate: cannot reach the web UI", "target=%s error=%s",
		         c->target, LQ(err));
		return answer(c, 502, "text/plain", NULL, "the device's web UI is not answering\n", 1);
	}
	consume(c, r->head_len);
	int rc = -1;
	if (nx_write_all(up, c->out, (size_t)n) < 0 || copy_body(c, r, up) < 0)
		goto done;
	/* the answer: its head (after any 1xx), then everything until the UI closes */
	char ub[CONN_BUF];
	size_t ul = 0;
	struct nx_gate_resp resp;
	for (;;) {
		int prc;
		while ((prc = nx_gate_resp_parse(ub, ul, &resp)) == NX_HTTP_MORE) {
			ssize_t got = read(up, ub + ul, sizeof ub - ul);
			if (got <= 0)
				goto done;
			ul += (size_t)got;
		}
		if (prc != NX_HTTP_DONE)
			goto done;
		int closing = !keep || nx_gate_resp_close_delimited(&resp, head_req);
		int hn = nx_gate_resp_rewrite(ub, &resp, closing && resp.status >= 200, c->out,
		                              sizeof c->out);
		if (hn < 0 || send_tls(c, c->out, (size_t)hn) < 0)
			goto done;
		memmove(ub, ub + resp.head_len, ul - resp.head_len);
		ul -= resp.head_len;
		if (resp.status == 101 && upgrade) {
			if (ul && send_tls(c, ub, ul) < 0)
				goto done;
			gate_log(c->g, NX_LOG_INFO, "gate: websocket open", "host=%s user=%s sid=%s",
			         c->host, s->user, s->sid);
			pump_ws(c, up, s->exp, s->sid);
			gate_log(c->g, NX_LOG_INFO, "gate: websocket closed", "host=%s sid=%s", c->host,
			         s->sid);
			goto done;
		}
		if (resp.status >= 200) {
			rc = closing ? -1 : 0;
			break;
		}
	}
	/* the body, by its framing (a UI that keeps its side open despite our close is
	 * fine), or until the UI closes when it has none */
	int framed = !nx_gate_resp_close_delimited(&resp, head_req);
	int no_body = head_req || resp.status == 204 || resp.status == 304;
	int64_t left = no_body ? 0 : resp.content_length;
	struct nx_gate_chunked ch = {0};
	for (;;) {
		size_t take = ul;
		int end = 0;
		if (framed && (no_body || !resp.chunked)) {
			if ((int64_t)take >= left)
				take = (size_t)left, end = 1;
			left -= (int64_t)take;
		} else if (framed) {
			size_t used;
			int sc = nx_gate_chunked_scan(&ch, ub, ul, &used);
			if (sc == NX_HTTP_INVALID) {
				rc = -1;
				break;
			}
			take = used;
			end = sc == NX_HTTP_DONE;
		}
		if (take && send_tls(c, ub, take) < 0) {
			rc = -1;
			break;
		}
		if (end)
			break;
		ssize_t got = read(up, ub, sizeof ub);
		if (got <= 0) {
			if (framed)
				rc = -1; /* cut short: the browser must not wait for the rest */
			break;
		}
		ul = (size_t)got;
	}
done:
	close(up);
	return rc;
}

/* A session that was revoked, or cannot be told apart from one (the list is stale). */
static int refuse_dead(struct conn *c, const struct nx_http_req *r, const struct gate_session *s,
                       int live, int close)
{
	gate_log_remote(c->g, NX_LOG_WARN, "gate: refused", "host=%s user=%s sid=%s reason=%s", c->host,
	         s->user, s->sid, live == GATE_REVOKED ? "\"session revoked\""
	                                               : "\"revocation list stale: failing closed\"");
	if (live == GATE_STALE)
		return answer(c, 503, "text/plain", "Retry-After: 10\r\n",
		              "session state unknown (revocation list stale); try again shortly\n", close);
	if (wants_html(r))
		return answer(c, 401, "text/html; charset=utf-8", NULL, page_ended, close);
	return answer(c, 401, "application/problem+json", NULL,
	              "{\"type\":\"about:blank\",\"title\":\"Unauthorized\",\"status\":401,"
	              "\"detail\":\"session revoked\"}",
	              close);
}

/* A request head that did not come whole within HEAD_MS: 408, and the connection ends. */
static int head_late(struct conn *c)
{
	return answer(c, 408, "text/plain", NULL, "request head not received in time\n", 1);
}

/* One request from the browser: 0 go on, -1 the connection ends. */
static int one_request(struct conn *c)
{
	char err[NX_ERRLEN], rest[4096];
	int idle = c->g->cfg.idle_ms > 0 ? c->g->cfg.idle_ms : 60000;
	uint64_t head_by = 0;
	while (!nx_http_head_end(c->buf, c->len)) {
		if (c->len >= NX_HTTP_HEAD_MAX)
			return answer(c, 431, NULL, NULL, NULL, 1);
		int wait = idle;
		if (c->len) { /* a head has begun: it has HEAD_MS in all */
			uint64_t now = nx_now_ms();
			if (!head_by)
				head_by = now + HEAD_MS;
			if (now >= head_by)
				return head_late(c);
			wait = (int)(head_by - now < (uint64_t)idle ? head_by - now : (uint64_t)idle);
		}
		if (fill(c, wait) <= 0)
			return head_by && nx_now_ms() >= head_by ? head_late(c) : -1;
	}
	struct nx_http_req r;
	if (nx_http_req_parse(c->buf, c->len, &r) != NX_HTTP_DONE)
		return answer(c, r.status ? r.status : 400, "text/plain", NULL, r.why, 1);
	int has_body = r.chunked || r.content_length > 0;
	if (!host_ok(c, &r)) {
		gate_log_remote(c->g, NX_LOG_WARN, "gate: refused", "host=%s reason=\"Host is not the TLS "
		         "server name\"", c->host);
		return answer(c, 421, "text/plain", NULL, "Host does not match the TLS server name\n", 1);
	}
	const char *code;
	size_t code_len;
	if (nx_gate_query_take(r.query.p, r.query.n, rest, sizeof rest, &code, &code_len) < 0)
		return answer(c, 414, NULL, NULL, NULL, 1);
	struct gate_session s;
	if (code) {
		if (has_body || !nx_http_slice_is(r.method, "GET"))
			return answer(c, 400, "text/plain", NULL, "a session link is opened with GET\n", 1);
		consume(c, r.head_len);
		if (gate_grant_take(c->g, c->host, code, code_len, &s, err, sizeof err) < 0) {
			gate_log_remote(c->g, NX_LOG_WARN, "gate: refused", "host=%s reason=%s", c->host,
			         LQ(err));
			return answer(c, 403, "text/html; charset=utf-8", NULL, page_bad_link, 0);
		}
		int live = gate_session_live(c->g, s.sid);
		if (live != GATE_LIVE)
			return refuse_dead(c, &r, &s, live, 0);
		char *cookie = gate_cookie_make(c->g, c->host, &s, err, sizeof err);
		if (!cookie)
			return answer(c, 500, NULL, NULL, NULL, 1);
		char extra[4096 + 2048 + 1024];
		int64_t age = s.exp - nx_unix_time();
		snprintf(extra, sizeof extra,
		         "Location: %.*s%s%.2000s\r\nSet-Cookie: " NX_GATE_COOKIE "=%s; Path=/; Secure; "
		         "HttpOnly; SameSite=Lax; Max-Age=%lld\r\nReferrer-Policy: no-referrer\r\n",
		         (int)(r.path.n > 2048 ? 2048 : r.path.n), r.path.p, rest[0] ? "?" : "", rest, cookie,
		         (long long)(age > 0 ? age : 0));
		nx_free_secret(cookie, strlen(cookie));
		gate_log(c->g, NX_LOG_INFO, "gate: session started", "host=%s user=%s device=%s sid=%s",
		         c->host, s.user, s.device, s.sid);
		return answer(c, 303, NULL, extra, NULL, 0);
	}
	if (find_session(c, &r, &s, err, sizeof err) < 0) {
		gate_log_remote(c->g, NX_LOG_INFO, "gate: no session", "host=%s reason=%s", c->host,
		         LQ(err));
		if (!has_body)
			consume(c, r.head_len);
		if (wants_html(&r))
			return answer(c, 401, "text/html; charset=utf-8", NULL, page_ended, has_body);
		return answer(c, 401, "application/problem+json", NULL,
		              "{\"type\":\"about:blank\",\"title\":\"Unauthorized\",\"status\":401,"
		              "\"detail\":\"no valid session\"}",
		              has_body);
	}
	int live = gate_session_live(c->g, s.sid);
	if (live != GATE_LIVE) {
		if (!has_body)
			consume(c, r.head_len);
		return refuse_dead(c, &r, &s, live, has_body);
	}
	const struct nx_http_slice *upg = nx_http_req_field(&r, "upgrade");
	int upgrade = upg != NULL;
	int safe = nx_http_slice_is(r.method, "GET") || nx_http_slice_is(r.method, "HEAD") ||
	           nx_http_slice_is(r.method, "OPTIONS");
	if ((!safe || upgrade) && !same_origin(c, &r)) {
		gate_log_remote(c->g, NX_LOG_WARN, "gate: refused", "host=%s user=%s reason=\"cross-origin "
		         "%s\"", c->host, s.user, upgrade ? "upgrade" : "unsafe request");
		if (!has_body)
			consume(c, r.head_len);
		return answer(c, 403, "text/plain", NULL, "cross-origin request refused\n", has_body);
	}
	return forward(c, &r, &s, upgrade);
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	char err[NX_ERRLEN];
	static const char *const alpn[] = {"http/1.1", NULL};
	struct gate_creds *gc = gate_creds_hold(c->g);
	c->tls = gc ? nx_tls_server_new(gc->c, c->fd, alpn, err, sizeof err) : NULL;
	if (!gc)
		gate_log_remote(c->g, NX_LOG_WARN, "gate: refused", "host=%s reason=\"no certificate yet "
		         "(ACME has not delivered one)\"", c->host);
	int ok = c->tls != NULL;
	uint64_t hs_by = nx_now_ms() + HANDSHAKE_MS;
	while (ok) {
		int h = nx_tls_handshake(c->tls);
		if (h == 1)
			break;
		uint64_t now = nx_now_ms();
		if (h != NX_TLS_AGAIN || now >= hs_by || tls_wait(c, (int)(hs_by - now)) < 0) {
			gate_log_remote(c->g, NX_LOG_INFO, "gate: TLS handshake failed", "host=%s error=%s",
			         c->host, LQ(nx_tls_error(c->tls)));
			ok = 0;
		}
	}
	if (ok) {
		const char *sni = nx_tls_server_name(c->tls);
		if (!sni || strcasecmp(sni, c->host) != 0) {
			gate_log_remote(c->g, NX_LOG_WARN, "gate: refused", "host=%s reason=\"TLS server name "
			         "is not the routed host\"", c->host);
			ok = 0;
		}
	}
	while (ok && one_request(c) == 0)
		;
	if (c->tls) {
		nx_tls_close(c->tls);
		nx_tls_free(c->tls);
	}
	close(c->fd);
	struct nx_gate *g = c->g;
	if (gc)
		gate_creds_drop(g, gc);
	gate_slot_release(g, &c->slot);
	free(c);
	return NULL;
}

int nx_gate_open(struct nx_gate *g, const char *hostname, const char *client, const char *target,
                 char *err, size_t errlen)
{
	struct conn *c = malloc(sizeof *c);
	if (!c)
		return nx_err(err, errlen, "gate: out of memory");
	memset(c, 0, offsetof(struct conn, buf));
	c->len = 0;
	c->g = g;
	snprintf(c->host, sizeof c->host, "%s", hostname);
	snprintf(c->target, sizeof c->target, "%s", target);
	int fd = gate_thread_open(g, &c->slot, client, conn_main, c, &c->fd, 512 * 1024, err, errlen);
	if (fd < 0)
		free(c);
	return fd;
}

int nx_gate_hook(void *arg, const char *hostname, const char *client, const char *target,
                 int is_tls, char *err, size_t errlen)
{
	struct nx_gate *g = arg;
	if (!g || !nx_gate_handles(g, hostname))
		return -2;
	if (!is_tls)
		return gate_plain_open(g, hostname, client, err, errlen);
	return nx_gate_open(g, hostname, client, target, err, errlen);
}
