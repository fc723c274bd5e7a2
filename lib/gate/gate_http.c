/* gate_http.c — see gate_http.h. */
#include "gate/gate_http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

enum { C_SIZE, C_EXT, C_SIZE_LF, C_DATA, C_DATA_CR, C_DATA_LF, C_TRAILER, C_TLINE, C_FINAL_LF };

static int hexv(char c)
{
	return c >= '0' && c <= '9' ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

int nx_gate_chunked_scan(struct nx_gate_chunked *c, const char *p, size_t n, size_t *used)
{
	size_t i = 0;
	while (i < n) {
		char ch = p[i];
		switch (c->st) {
		case C_SIZE: {
			int h = hexv(ch);
			if (h >= 0) {
				if (++c->digits > 15)
					return NX_HTTP_INVALID;
				c->left = c->left * 16 + (uint64_t)h;
			} else if (c->digits == 0) {
				return NX_HTTP_INVALID;
			} else if (ch == ';' || ch == ' ' || ch == '\t') {
				c->st = C_EXT;
				c->line = 0;
			} else if (ch == '\r') {
				c->st = C_SIZE_LF;
			} else {
				return NX_HTTP_INVALID;
			}
			i++;
			break;
		}
		case C_EXT:
			if (ch == '\r')
				c->st = C_SIZE_LF;
			else if (ch == '\n' || ++c->line > NX_GATE_LINE_MAX)
				return NX_HTTP_INVALID;
			i++;
			break;
		case C_SIZE_LF:
			if (ch != '\n')
				return NX_HTTP_INVALID;
			i++;
			c->digits = 0;
			c->st = c->left ? C_DATA : C_TRAILER;
			break;
		case C_DATA: {
			size_t take = n - i < c->left ? n - i : (size_t)c->left;
			i += take;
			c->left -= take;
			if (!c->left)
				c->st = C_DATA_CR;
			break;
		}
		case C_DATA_CR:
			if (ch != '\r')
				return NX_HTTP_INVALID;
			c->st = C_DATA_LF;
			i++;
			break;
		case C_DATA_LF:
			if (ch != '\n')
				return NX_HTTP_INVALID;
			c->st = C_SIZE;
			i++;
			break;
		case C_TRAILER:
			if (ch == '\r') {
				c->st = C_FINAL_LF;
			} else if (ch == '\n') {
				return NX_HTTP_INVALID;
			} else {
				c->st = C_TLINE;
				c->line = 1;
			}
			i++;
			break;
		case C_TLINE:
			if (ch == '\n')
				c->st = C_TRAILER;
			else if (++c->line > NX_GATE_LINE_MAX)
				return NX_HTTP_INVALID;
			i++;
			break;
		case C_FINAL_LF:
			if (ch != '\n')
				return NX_HTTP_INVALID;
			*used = i + 1;
			return NX_HTTP_DONE;
		default: return NX_HTTP_INVALID;
		}
	}
	*used = n;
	return NX_HTTP_MORE;
}

/* The next line of the head: [*pos, end of line) without CR LF; 0 at the blank line. */
static size_t next_line(const char *buf, size_t hl, size_t *pos, const char **line)
{
	size_t s = *pos, e = s;
	while (e < hl && buf[e] != '\n')
		e++;
	*pos = e < hl ? e + 1 : hl;
	*line = buf + s;
	size_t n = e - s;
	if (n && buf[s + n - 1] == '\r')
		n--;
	return n;
}

static int name_is(const char *line, size_t n, const char *name)
{
	size_t l = strlen(name);
	return n > l && line[l] == ':' && strncasecmp(line, name, l) == 0;
}

static struct nx_http_slice field_value(const char *line, size_t n)
{
	const char *c = memchr(line, ':', n);
	size_t i = c ? (size_t)(c - line) + 1 : n;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	while (n > i && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	return (struct nx_http_slice){line + i, n - i};
}

int nx_gate_resp_parse(const char *buf, size_t len, struct nx_gate_resp *r)
{
	memset(r, 0, sizeof *r);
	r->content_length = -1;
	size_t hl = nx_http_head_end(buf, len);
	if (!hl)
		return len > NX_HTTP_HEAD_MAX ? NX_HTTP_INVALID : NX_HTTP_MORE;
	if (hl > NX_HTTP_HEAD_MAX)
		return NX_HTTP_INVALID;
	size_t pos = 0;
	const char *line;
	size_t n = next_line(buf, hl, &pos, &line);
	if (n < 12 || memcmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') ||
	    line[8] != ' ' || hexv(line[9]) < 0 || hexv(line[9]) > 9 || hexv(line[10]) < 0 ||
	    hexv(line[10]) > 9 || hexv(line[11]) < 0 || hexv(line[11]) > 9 ||
	    (n > 12 && line[12] != ' '))
		return NX_HTTP_INVALID;
	r->minor = line[7] - '0';
	r->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
	if (r->status < 100)
		return NX_HTTP_INVALID;
	while ((n = next_line(buf, hl, &pos, &line)) > 0) {
		if (!memchr(line, ':', n) || line[0] == ' ' || line[0] == '\t')
			return NX_HTTP_INVALID;
		if (name_is(line, n, "content-length")) {
			struct nx_http_slice v = field_value(line, n);
			int64_t cl = 0;
			if (!v.n || v.n > 18)
				return NX_HTTP_INVALID;
			for (size_t i = 0; i < v.n; i++) {
				if (v.p[i] < '0' || v.p[i] > '9')
					return NX_HTTP_INVALID;
				cl = cl * 10 + (v.p[i] - '0');
			}
			if (r->content_length >= 0 && r->content_length != cl)
				return NX_HTTP_INVALID;
			r->content_length = cl;
		} else if (name_is(line, n, "transfer-encoding")) {
			r->chunked = 1;
		}
	}
	if (r->chunked && r->content_length >= 0)
		return NX_HTTP_INVALID;
	r->head_len = hl;
	return NX_HTTP_DONE;
}

int nx_gate_resp_close_delimited(const struct nx_gate_resp *r, int head_request)
{
	if (head_request || r->status / 100 == 1 || r->status == 204 || r->status == 304)
		return 0;
	return !r->chunked && r->content_length < 0;
}

static int put(char *out, size_t cap, size_t *o, const char *p, size_t n)
{
	if (*o + n > cap)
		return -1;
	memcpy(out + *o, p, n);
	*o += n;
	return 0;
}

static int hop_field(const char *line, size_t n)
{
	return name_is(line, n, "connection") || name_is(line, n, "keep-alive") ||
	       name_is(line, n, "proxy-connection");
}

int nx_gate_resp_rewrite(const char *buf, const struct nx_gate_resp *r, int close, char *out,
                         size_t cap)
{
	size_t pos = 0, o = 0;
	const char *line;
	size_t n = next_line(buf, r->head_len, &pos, &line);
	if (put(out, cap, &o, line, n) < 0 || put(out, cap, &o, "\r\n", 2) < 0)
		return -1;
	int upgrade = r->status == 101;
	while ((n = next_line(buf, r->head_len, &pos, &line)) > 0) {
		if (!upgrade && hop_field(line, n))
			continue;
		if (put(out, cap, &o, line, n) < 0 || put(out, cap, &o, "\r\n", 2) < 0)
			return -1;
	}
	if (close && put(out, cap, &o, "Connection: close\r\n", 19) < 0)
		return -1;
	if (put(out, cap, &o, "\r\n", 2) < 0)
		return -1;
	return (int)o;
}

/* Walk "a=1; b=2": calls back each pair; stops when cb returns nonzero. */
struct cpair {
	const char *name, *val;
	size_t nn, vn, start, end; /* start/end: the pair's extent in the field value */
};

static int next_pair(const char *v, size_t n, size_t *i, struct cpair *c)
{
	while (*i < n && (v[*i] == ' ' || v[*i] == '\t' || v[*i] == ';'))
		(*i)++;
	if (*i >= n)
		return 0;
	c->start = *i;
	size_t e = *i;
	while (e < n && v[e] != ';')
		e++;
	c->end = e;
	const char *eq = memchr(v + *i, '=', e - *i);
	c->name = v + *i;
	c->nn = eq ? (size_t)(eq - (v + *i)) : e - *i;
	while (c->nn && (c->name[c->nn - 1] == ' ' || c->name[c->nn - 1] == '\t'))
		c->nn--;
	c->val = eq ? eq + 1 : v + e;
	c->vn = eq ? (size_t)(v + e - (eq + 1)) : 0;
	while (c->vn && (c->val[0] == ' ' || c->val[0] == '\t'))
		c->val++, c->vn--;
	while (c->vn && (c->val[c->vn - 1] == ' ' || c->val[c->vn - 1] == '\t'))
		c->vn--;
	*i = e;
	return 1;
}

int nx_gate_cookie_get(const char *val, size_t n, const char *name, const char **v, size_t *vn)
{
	size_t i = 0, l = strlen(name);
	struct cpair c;
	while (next_pair(val, n, &i, &c))
		if (c.nn == l && memcmp(c.name, name, l) == 0) {
			*v = c.val;
			*vn = c.vn;
			return 1;
		}
	return 0;
}

int nx_gate_query_take(const char *q, size_t n, char *out, size_t cap, const char **code,
                       size_t *code_len)
{
	size_t i = 0, o = 0;
	*code = NULL;
	*code_len = 0;
	if (!cap)
		return -1;
	while (i < n) {
		size_t e = i;
		while (e < n && q[e] != '&')
			e++;
		if (e - i >= 3 && memcmp(q + i, "nx=", 3) == 0) {
			if (!*code) {
				*code = q + i + 3;
				*code_len = e - i - 3;
			}
		} else if (e > i || 1) {
			if (e > i) {
				if (o && put(out, cap - 1, &o, "&", 1) < 0)
					return -1;
				if (put(out, cap - 1, &o, q + i, e - i) < 0)
					return -1;
			}
		}
		i = e + 1;
	}
	out[o] = '\0';
	return 0;
}

int nx_gate_req_rewrite(const struct nx_http_req *r, int upgrade, const char *user, char *out,
                        size_t cap)
{
	size_t o = 0;
	char tmp[600];
	int w = snprintf(tmp, sizeof tmp, " HTTP/1.%d\r\n", r->minor);
	if (put(out, cap, &o, r->method.p, r->method.n) < 0 || put(out, cap, &o, " ", 1) < 0 ||
	    put(out, cap, &o, r->target.p, r->target.n) < 0 || put(out, cap, &o, tmp, (size_t)w) < 0)
		return -1;
	for (int f = 0; f < r->nfields; f++) {
		struct nx_http_slice nm = r->f[f].name, v = r->f[f].value;
		if (nx_http_slice_ieq(nm, "connection") || nx_http_slice_ieq(nm, "keep-alive") ||
		    nx_http_slice_ieq(nm, "proxy-connection") ||
		    (nm.n >= 8 && strncasecmp(nm.p, "x-nexus-", 8) == 0))
			continue;
		if (nx_http_slice_ieq(nm, "cookie")) {
			/* the other cookies stay, ours goes */
			size_t i = 0, start = o, l = strlen(NX_GATE_COOKIE), kept = 0;
			struct cpair c;
			if (put(out, cap, &o, "Cookie: ", 8) < 0)
				return -1;
			while (next_pair(v.p, v.n, &i, &c)) {
				if (c.nn == l && memcmp(c.name, NX_GATE_COOKIE, l) == 0)
					continue;
				if ((kept++ && put(out, cap, &o, "; ", 2) < 0) ||
				    put(out, cap, &o, v.p + c.start, c.end - c.start) < 0)
					return -1;
			}
			if (!kept)
				o = start;
			else if (put(out, cap, &o, "\r\n", 2) < 0)
				return -1;
			continue;
		}
		if (put(out, cap, &o, nm.p, nm.n) < 0 || put(out, cap, &o, ": ", 2) < 0 ||
		    put(out, cap, &o, v.p, v.n) < 0 || put(out, cap, &o, "\r\n", 2) < 0)
			return -1;
	}
	w = snprintf(tmp, sizeof tmp, "Connection: %s\r\nX-Forwarded-Proto: https\r\n%s%.300s%s\r\n",
	             upgrade ? "Upgrade" : "close", user ? "X-Nexus-User: " : "", user ? user : "",
	             user ? "\r\n" : "");
	if (w < 0 || (size_t)w >= sizeof tmp || put(out, cap, &o, tmp, (size_t)w) < 0)
		return -1;
	return (int)o;
}
