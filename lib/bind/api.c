/* api.c — see api.h. Order of checks for every request: route (404/405), credentials
 * (401), scope (403), rate (429), body (415/400), then the handler. */
#include "bind/api.h"
#include "bind/api_int.h"
#include "bind/apikeys.h"
#include "bind/ingest.h"
#include "bind/qrterm.h"
#include "core/units.h"
#include "core/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CODES_PER_OWNER 20

void nx_api_reset(struct nx_api *api)
{
	free(api->last_token);
	json_decref(api->last_claims);
	api->last_token = NULL;
	api->last_claims = NULL;
}

void nx_api_resp_free(struct nx_api_resp *r)
{
	free(r->body);
	r->body = NULL;
}

static void set_json(struct nx_api_resp *out, int status, const char *ctype, json_t *v)
{
	free(out->body);
	out->status = status;
	out->ctype = ctype;
	out->body = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	out->len = out->body ? strlen(out->body) : 0;
	json_decref(v);
	if (!out->body && status != 204) {
		out->status = 500;
		out->ctype = NULL;
	}
}

void nx_api_problem(struct nx_api_resp *out, int status, const char *detail)
{
	json_t *p = json_pack("{s:s, s:s, s:i}", "type", "about:blank", "title",
	                      nx_http_reason(status), "status", status);
	if (p && detail)
		json_object_set_new(p, "detail", json_string(detail));
	set_json(out, status, "application/problem+json", p);
}

void nx_api_problemf(struct nx_api_resp *out, int status, const char *fmt, ...)
{
	char d[NX_ERRLEN], clean[NX_ERRLEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d, sizeof d, fmt, ap);
	va_end(ap);
	nx_sanitize(clean, sizeof clean, d, strlen(d));
	nx_api_problem(out, status, clean);
}

void nx_api_add_header(struct nx_api_resp *out, const char *fmt, ...)
{
	size_t n = strlen(out->headers);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->headers + n, sizeof out->headers - n, fmt, ap);
	va_end(ap);
}

/* ---- routing ---------------------------------------------------------------------- */

enum ep { EP_NONE, EP_DEVICES, EP_DEVICE, EP_UNBIND, EP_REVOKE, EP_SESSION, EP_SESSION_END, EP_REVOCATIONS, EP_CODES,
          EP_CLAIM, EP_KEYS, EP_KEY, EP_AUDIT };

static const struct route {
	enum ep ep;
	const char *method, *scope; /* scope NULL: the claim, authorised by its pairing code */
	const char *pattern;        /* '*' stands for one path segment */
} routes[] = {
    {EP_DEVICES, "GET", "devices:read", "/v1/devices"},
    {EP_DEVICE, "GET", "devices:read", "/v1/devices/*"},
    {EP_UNBIND, "POST", "devices:write", "/v1/devices/*/unbind"},
    {EP_REVOKE, "POST", "devices:write", "/v1/devices/*/revoke"},
    {EP_SESSION, "POST", "sessions", "/v1/devices/*/session"},
    {EP_SESSION_END, "POST", "sessions", "/v1/sessions/*/end"},
    {EP_REVOCATIONS, "GET", NULL, "/v1/revocations"},
    {EP_CODES, "POST", "pairing", "/v1/pairing-codes"},
    {EP_CLAIM, "POST", NULL, "/v1/claim"},
    {EP_KEYS, "GET", "keys", "/v1/api-keys"},
    {EP_KEYS, "POST", "keys", "/v1/api-keys"},
    {EP_KEY, "DELETE", "keys", "/v1/api-keys/*"},
    {EP_AUDIT, "GET", "audit", "/v1/audit"},
};

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

/* Does path match pattern? The '*' segment is percent-decoded into seg. */
static int match(const char *pat, struct nx_http_slice path, char *seg, size_t segcap)
{
	size_t i = 0;
	for (; *pat; pat++) {
		if (*pat != '*') {
			if (i >= path.n || path.p[i] != *pat)
				return 0;
			i++;
			continue;
		}
		size_t n = 0;
		if (i >= path.n || path.p[i] == '/')
			return 0;
		while (i < path.n && path.p[i] != '/') {
			int c = (unsigned char)path.p[i];
			if (c == '%') {
				int h = i + 2 < path.n ? hexval(path.p[i + 1]) : -1;
				int l = h >= 0 ? hexval(path.p[i + 2]) : -1;
				if (l < 0)
					return 0;
				c = h * 16 + l;
				i += 2;
			}
			if (n + 1 >= segcap)
				return 0;
			seg[n++] = (char)c;
			i++;
		}
		seg[n] = '\0';
		if (strlen(seg) != n) /* %00 */
			return 0;
	}
	return i == path.n;
}

/* ---- bodies ------------------------------------------------------------------------- */

/* *obj: the body's JSON object ({} for an empty body). 1 ok, 0 answered. */
static int json_body(const struct nx_http_req *req, const char *body, size_t blen, json_t **obj,
                     struct nx_api_resp *out)
{
	*obj = NULL;
	if (blen == 0) {
		*obj = json_object();
		return 1;
	}
	const struct nx_http_slice *ct = nx_http_req_field(req, "content-type");
	/* the media type: up to a ';' within the field (the request buffer is not a string) */
	const char *semi = ct ? memchr(ct->p, ';', ct->n) : NULL;
	size_t n = !ct ? 0 : semi ? (size_t)(semi - ct->p) : ct->n;
	while (n && (ct->p[n - 1] == ' ' || ct->p[n - 1] == '\t'))
		n--;
	if (!ct || !nx_http_slice_ieq((struct nx_http_slice){ct->p, n}, "application/json")) {
		nx_api_problem(out, 415, "the body must be application/json");
		return 0;
	}
	json_error_t je;
	json_t *v = json_loadb(body, blen, JSON_REJECT_DUPLICATES, &je);
	if (!v) {
		nx_api_problemf(out, 400, "malformed JSON: %s (line %d)", je.text, je.line);
		return 0;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		nx_api_problem(out, 400, "the body must be a JSON object");
		return 0;
	}
	*obj = v;
	return 1;
}

/* "scope": an array of names or one space-separated string → "a b" in buf. */
static int scope_arg(json_t *o, char *buf, size_t cap, struct nx_api_resp *out)
{
	json_t *s = json_object_get(o, "scope");
	size_t len = 0;
	buf[0] = '\0';
	if (!s)
		return 1;
	json_t *items = json_is_array(s) ? json_incref(s) : NULL;
	if (json_is_string(s)) {
		items = json_array();
		char tmp[SCOPE_MAX];
		if (json_string_length(s) >= sizeof tmp)
			goto bad_free;
		snprintf(tmp, sizeof tmp, "%s", json_string_value(s));
		for (char *save, *t = strtok_r(tmp, " ", &save); t; t = strtok_r(NULL, " ", &save))
			json_array_append_new(items, json_string(t));
	}
	if (!items)
		goto bad;
	size_t i;
	json_t *e;
	json_array_foreach(items, i, e)
	{
		const char *v = json_string_value(e);
		if (!v || !nx_ingest_name_ok(v, json_string_length(e)) || len + strlen(v) + 2 > cap)
			goto bad_free;
		len += (size_t)snprintf(buf + len, cap - len, "%s%s", len ? " " : "", v);
	}
	json_decref(items);
	return 1;
bad_free:
	json_decref(items);
bad:
	nx_api_problem(out, 400, "\"scope\" must be names without spaces (an array or one string)");
	return 0;
}

/* "ttl": seconds (a number) or a duration string ("5m"); def when absent. */
static int ttl_arg(json_t *o, uint64_t def, uint64_t max, uint64_t *ms, struct nx_api_resp *out)
{
	json_t *t = json_object_get(o, "ttl");
	char err[NX_ERRLEN];
	*ms = def;
	if (!t)
		return 1;
	if (json_is_integer(t) && json_integer_value(t) > 0 &&
	    (uint64_t)json_integer_value(t) <= max / 1000)
		*ms = (uint64_t)json_integer_value(t) * 1000;
	else if (!json_is_string(t) ||
	         nx_parse_duration(json_string_value(t), ms, err, sizeof err) < 0 || *ms < 1000 ||
	         *ms > max) {
		nx_api_problemf(out, 400, "\"ttl\" must be 1 s to %llu s (seconds or a duration like \"5m\")",
		         (unsigned long long)(max / 1000));
		return 0;
	}
	return 1;
}

/* ---- handlers ------------------------------------------------------------------------ */

static void store_failed(struct nx_api_resp *out, const char *err)
{
	/* the detail of a store failure is for the operator's log, not the client */
	snprintf(out->note, sizeof out->note, "%s", err);
	nx_api_problem(out, 500, "store failure");
}

static void h_devices(struct nx_api *api, const struct principal *who, struct nx_api_resp *out)
{
	char err[NX_ERRLEN];
	json_t *a;
	if (nx_bind_list(api->b, who->owner, &a, err, sizeof err) < 0)
		return store_failed(out, err);
	set_json(out, 200, "application/json", json_pack("{s:o}", "devices", a));
}

static void h_device(struct nx_api *api, const struct principal *who, const char *id,
                     struct nx_api_resp *out)
{
	char err[NX_ERRLEN];
	json_t *o = NULL;
	int rc = nx_bind_show(api->b, id, &o, err, sizeof err);
	if (rc < 0)
		return store_failed(out, err);
	const char *owner = rc ? json_string_value(json_object_get(o, "owner")) : NULL;
	if (!owner || strcmp(owner, who->owner) != 0) {
		json_decref(o);
		return nx_api_problemf(out, 404, "no device %s", id);
	}
	json_object_del(o, "bound"); /* always true here */
	set_json(out, 200, "application/json", o);
}

static void h_unbind(struct nx_api *api, const struct principal *who, const char *id,
                     struct nx_api_resp *out)
{
	char err[NX_ERRLEN];
	api->b->only_owner = who->owner;
	int rc = nx_bind_unbind(api->b, id, err, sizeof err);
	api->b->only_owner = NULL;
	if (rc < 0)
		return store_failed(out, err);
	if (rc == 0)
		return nx_api_problemf(out, 404, "no device %s", id);
	set_json(out, 200, "application/json", json_pack("{s:s, s:b}", "device", id, "bound", 0));
}

static void h_revoke(struct nx_api *api, const struct principal *who, const char *id,
                     struct nx_api_resp *out)
{
	char err[NX_ERRLEN];
	json_t *jtis = NULL;
	if (!api->deny_list)
		return nx_api_problem(out, 501, "this server has no --deny-list to revoke into");
	api->b->only_owner = who->owner;
	int rc = nx_bind_revoke(api->b, id, api->deny_list, &jtis, err, sizeof err);
	api->b->only_owner = NULL;
	if (rc < 0)
		return store_failed(out, err);
	if (rc == 0)
		return nx_api_problemf(out, 404, "no device %s", id);
	set_json(out, 200, "application/json",
	         json_pack("{s:s, s:b, s:o}", "device", id, "bound", 0, "revoked", jtis));
}

static char *qr_svg(const char *text)
{
	char err[NX_ERRLEN];
	return nx_qr_render_svg(text, err, sizeof err);
}

static void h_codes(struct nx_api *api, const struct principal *who, json_t *body,
                    struct nx_api_resp *out)
{
	char err[NX_ERRLEN], scope[SCOPE_MAX], code[NX_PAIR_CODE_CHARS + 2], tnow[24];
	uint64_t ttl;
	int64_t exp;
	struct nx_rows r;
	if (!scope_arg(body, scope, sizeof scope, out) ||
	    !ttl_arg(body, 300000, 7 * 86400000ull, &ttl, out))
		return;
	/* Each owner holds a bounded number of live codes (the code space is global). */
	snprintf(tnow, sizeof tnow, "%lld", (long long)nx_unix_time() * 1000);
	if (nx_store_exec(api->b->st,
	                  "SELECT count(*) FROM codes WHERE owner = $1 AND used_at IS NULL "
	                  "AND expires_at > $2",
	                  2, (const char *[]){who->owner, tnow}, &r, err, sizeof err) < 0)
		return store_failed(out, err);
	long live = strtol(nx_rows_get(&r, 0, 0) ? nx_rows_get(&r, 0, 0) : "0", NULL, 10);
	nx_rows_free(&r);
	if (live >= CODES_PER_OWNER)
		return nx_api_problemf(out, 429, "%d live pairing codes already; wait for one to be used or "
		                "expire", CODES_PER_OWNER);
	if (nx_bind_code_new(api->b, who->owner, scope, ttl, code, &exp, err, sizeof err) < 0)
		return store_failed(out, err);
	json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "code", code, "owner", who->owner, "scope",
	                      scope, "expires_at", (json_int_t)(exp / 1000));
	char *svg = qr_svg(code);
	if (o && svg)
		json_object_set_new(o, "qr_svg", json_string(svg));
	free(svg);
	set_json(out, 201, "application/json", o);
}

static void h_claim(struct nx_api *api, json_t *body, struct nx_api_resp *out)
{
	char err[NX_ERRLEN], actor[NX_DEVICE_ID_MAX + 8];
	const char *code = json_string_value(json_object_get(body, "code"));
	const char *device = json_string_value(json_object_get(body, "device"));
	json_t *pk = json_object_get(body, "pubkey");
	if (!code || json_string_length(json_object_get(body, "code")) > 64)
		return nx_api_problem(out, 400, "\"code\" (a pairing code) is required");
	if (!device || !nx_ingest_name_ok(device, json_string_length(json_object_get(body, "device"))))
		return nx_api_problem(out, 400, "\"device\" must be 1-128 printable characters "
		                      "without spaces");
	if (pk && (!json_is_string(pk) || json_string_length(pk) > 16384 ||
	           strlen(json_string_value(pk)) != json_string_length(pk)))
		return nx_api_problem(out, 400, "\"pubkey\" must be a PEM text of at most 16 KiB");
	snprintf(actor, sizeof actor, "device:%s", device);
	const char *saved = api->b->actor;
	api->b->actor = actor;
	json_t *binding = NULL;
	int rc = nx_bind_claim(api->b, code, device, pk ? json_string_value(pk) : NULL, &binding, err,
	                       sizeof err);
	api->b->actor = saved;
	if (rc == NX_CLAIM_ERROR)
		return store_failed(out, err);
	if (rc == NX_CLAIM_REFUSED) {
		int st = strstr(err, "too many failed") ? 429 : strstr(err, "another owner") ? 409 : 403;
		if (st == 429)
			nx_api_add_header(out, "Retry-After: 60\r\n");
		return nx_api_problemf(out, st, "%s", err);
	}
	set_json(out, 201, "application/json", binding);
}

static void h_keys(struct nx_api *api, const struct principal *who, int create, json_t *body,
                   struct nx_api_resp *out)
{
	char err[NX_ERRLEN], scope[SCOPE_MAX];
	json_t *o;
	if (!create) {
		if (nx_apikey_list(api->b, who->owner, &o, err, sizeof err) < 0)
			return store_failed(out, err);
		return set_json(out, 200, "application/json", json_pack("{s:o}", "keys", o));
	}
	json_t *jn = json_object_get(body, "name");
	const char *name = jn ? json_string_value(jn) : "";
	if (!name || json_string_length(jn) > 128 || strlen(name) != json_string_length(jn))
		return nx_api_problem(out, 400, "\"name\" must be a string of at most 128 characters");
	uint64_t ttl;
	if (!scope_arg(body, scope, sizeof scope, out) ||
	    !ttl_arg(body, 0, 3650ull * 86400000ull, &ttl, out))
		return;
	if (!json_object_get(body, "scope"))
		snprintf(scope, sizeof scope, "%s", who->scope);
	/* A key never holds more than the credential that made it. */
	char tmp[SCOPE_MAX];
	snprintf(tmp, sizeof tmp, "%s", scope);
	for (char *save, *t = strtok_r(tmp, " ", &save); t; t = strtok_r(NULL, " ", &save))
		if (!nx_api_has_scope(who->scope, t))
			return nx_api_problemf(out, 403, "cannot grant scope %s: this credential does not hold it",
			                t);
	const char *saved = api->b->actor;
	api->b->actor = who->actor;
	int rc = nx_apikey_new(api->b, who->owner, name, scope, ttl, &o, err, sizeof err);
	api->b->actor = saved;
	if (rc < 0)
		return store_failed(out, err);
	if (rc == 0)
		return nx_api_problemf(out, 409, "%s", err);
	set_json(out, 201, "application/json", o);
	nx_api_add_header(out, "Cache-Control: no-store\r\n");
}

static void h_key_revoke(struct nx_api *api, const struct principal *who, const char *id,
                         struct nx_api_resp *out)
{
	char err[NX_ERRLEN];
	int rc = nx_apikey_revoke(api->b, who->owner, id, err, sizeof err);
	if (rc < 0)
		return store_failed(out, err);
	if (rc == 0)
		return nx_api_problemf(out, 404, "no live API key %s", id);
	set_json(out, 204, NULL, NULL);
}

static void h_audit(struct nx_api *api, const struct principal *who,
                    const struct nx_http_req *req, struct nx_api_resp *out)
{
	char err[NX_ERRLEN];
	long long since = 0;
	if (req->query.n) {
		char q[64];
		if (req->query.n >= sizeof q || req->query.n < 7 || memcmp(req->query.p, "since=", 6))
			return nx_api_problem(out, 400, "the only query parameter is since=UNIX-SECONDS");
		memcpy(q, req->query.p + 6, req->query.n - 6);
		q[req->query.n - 6] = '\0';
		char *end;
		since = strtoll(q, &end, 10);
		if (*end || since < 0)
			return nx_api_problem(out, 400, "since must be Unix seconds");
	}
	json_t *a;
	if (nx_bind_audit_of(api->b, who->owner, (int64_t)since * 1000, 1000, &a, err,
	                     sizeof err) < 0)
		return store_failed(out, err);
	set_json(out, 200, "application/json", json_pack("{s:o}", "audit", a));
}

void nx_api_handle(struct nx_api *api, const struct nx_http_req *req, const char *body,
                   size_t blen, struct nx_api_resp *out)
{
	memset(out, 0, sizeof *out);
	char seg[NX_DEVICE_ID_MAX + 2];
	const struct route *rt = NULL;
	int path_known = 0;
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		if (!match(routes[i].pattern, req->path, seg, sizeof seg))
			continue;
		path_known = 1;
		if (nx_http_slice_is(req->method, routes[i].method) ||
		    (nx_http_slice_is(req->method, "HEAD") && !strcmp(routes[i].method, "GET"))) {
			rt = &routes[i];
			break;
		}
	}
	if (!rt) {
		if (!path_known)
			return nx_api_problem(out, 404, "no such endpoint");
		nx_api_problem(out, 405, "method not allowed on this endpoint");
		return;
	}
	if (strchr(rt->pattern, '*') && !nx_ingest_name_ok(seg, strlen(seg)))
		return nx_api_problem(out, 404, "no such device or key");
	struct principal who = {0};
	json_t *obj = NULL;
	if (rt->scope) {
		if (!nx_api_authenticate(api, req, &who, out))
			return;
		if (!nx_api_has_scope(who.scope, rt->scope))
			return nx_api_problemf(out, 403, "this credential lacks the scope %s", rt->scope);
		if (!nx_api_rate_check(api, &who, out))
			return;
	}
	int wants_body = rt->ep == EP_CODES || rt->ep == EP_CLAIM ||
	                 (rt->ep == EP_KEYS && nx_http_slice_is(req->method, "POST"));
	if (wants_body && !json_body(req, body, blen, &obj, out))
		return;
	const char *saved = api->b->actor;
	if (rt->scope) {
		api->b->actor = who.actor;
		snprintf(out->who, sizeof out->who, "%s", who.actor);
	}
	switch (rt->ep) {
	case EP_DEVICES: h_devices(api, &who, out); break;
	case EP_DEVICE: h_device(api, &who, seg, out); break;
	case EP_UNBIND: h_unbind(api, &who, seg, out); break;
	case EP_REVOKE: h_revoke(api, &who, seg, out); break;
	case EP_SESSION: nx_api_session(api, who.owner, who.scope, seg, out); break;
	case EP_SESSION_END: nx_api_session_end(api, who.owner, seg, out); break;
	case EP_REVOCATIONS: nx_api_revocations(api, out); break;
	case EP_CODES: h_codes(api, &who, obj, out); break;
	case EP_CLAIM: h_claim(api, obj, out); break;
	case EP_KEYS: h_keys(api, &who, nx_http_slice_is(req->method, "POST"), obj, out); break;
	case EP_KEY: h_key_revoke(api, &who, seg, out); break;
	case EP_AUDIT: h_audit(api, &who, req, out); break;
	case EP_NONE: nx_api_problem(out, 404, "no such endpoint"); break;
	}
	api->b->actor = saved;
	json_decref(obj);
}
