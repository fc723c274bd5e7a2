/* acme_json.c — the parsers of what an ACME server answers (see acme_int.h). Untrusted:
 * every string is bounded, URLs must be http(s), tokens base64url, arrays capped. */
#include "acme/acme_int.h"
#include "core/util.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int nx_acme_token_ok(const char *s, size_t n)
{
	if (n == 0 || n > NX_ACME_TOKEN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

const char *acme_status_name(enum acme_status s)
{
	static const char *const n[] = {"unknown", "pending", "ready", "processing",
	                                "valid", "invalid", "other"};
	return (unsigned)s < sizeof n / sizeof n[0] ? n[s] : "unknown";
}

static enum acme_status status_of(const json_t *o)
{
	const char *s = json_string_value(json_object_get(o, "status"));
	if (!s)
		return ACME_ST_UNKNOWN;
	static const struct {
		const char *n;
		enum acme_status st;
	} t[] = {{"pending", ACME_ST_PENDING}, {"ready", ACME_ST_READY},
	         {"processing", ACME_ST_PROCESSING}, {"valid", ACME_ST_VALID},
	         {"invalid", ACME_ST_INVALID}};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (strcmp(s, t[i].n) == 0)
			return t[i].st;
	return ACME_ST_OTHER;
}

static json_t *load(const char *buf, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(j)) {
		json_decref(j);
		nx_err(err, errlen, "answer is not a JSON object");
		return NULL;
	}
	return j;
}

/* A URL member into dst: present, a string, http(s), no control characters, fits. */
static int url_of(const json_t *o, const char *name, char *dst, int required, char *err,
                  size_t errlen)
{
	dst[0] = 0;
	const json_t *v = json_object_get(o, name);
	if (!v)
		return required ? nx_err(err, errlen, "answer without \"%s\"", name) : 0;
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (!s || n >= NX_ACME_URL_MAX ||
	    (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0))
		return nx_err(err, errlen, "\"%s\" is not an http(s) URL", name);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return nx_err(err, errlen, "\"%s\" is not an http(s) URL", name);
	memcpy(dst, s, n + 1);
	return 0;
}

int acme_parse_directory(const char *buf, size_t len, struct acme_directory *d, char *err,
                         size_t errlen)
{
	json_t *j = load(buf, len, err, errlen);
	if (!j)
		return -1;
	int rc = url_of(j, "newNonce", d->new_nonce, 1, err, errlen) < 0 ||
	         url_of(j, "newAccount", d->new_account, 1, err, errlen) < 0 ||
	         url_of(j, "newOrder", d->new_order, 1, err, errlen) < 0 ? -1 : 0;
	json_decref(j);
	return rc;
}

int acme_parse_problem(const char *buf, size_t len, struct acme_problem *p)
{
	p->type[0] = p->detail[0] = 0;
	json_error_t je;
	json_t *j = json_loadb(buf, len, 0, &je);
	const json_t *t = json_object_get(j, "type"), *d = json_object_get(j, "detail");
	if (json_is_string(t))
		nx_sanitize(p->type, sizeof p->type, json_string_value(t), json_string_length(t));
	if (json_is_string(d))
		nx_sanitize(p->detail, sizeof p->detail, json_string_value(d), json_string_length(d));
	json_decref(j);
	return p->type[0] ? 0 : -1;
}

int acme_parse_order(const char *buf, size_t len, struct acme_order *o, char *err,
                     size_t errlen)
{
	memset(o, 0, sizeof *o);
	json_t *j = load(buf, len, err, errlen);
	if (!j)
		return -1;
	int rc = -1;
	o->status = status_of(j);
	if (o->status == ACME_ST_UNKNOWN) {
		nx_err(err, errlen, "order without a status");
		goto out;
	}
	if (url_of(j, "finalize", o->finalize, 1, err, errlen) < 0 ||
	    url_of(j, "certificate", o->certificate, 0, err, errlen) < 0)
		goto out;
	const json_t *az = json_object_get(j, "authorizations");
	if (!json_is_array(az) || json_array_size(az) > NX_ACME_MAX_NAMES) {
		nx_err(err, errlen, "order without an authorizations array of at most %d",
		       NX_ACME_MAX_NAMES);
		goto out;
	}
	for (size_t i = 0; i < json_array_size(az); i++) {
		json_t *w = json_pack("{sO}", "u", json_array_get(az, i));
		int bad = !w || url_of(w, "u", o->authz[i], 1, err, errlen) < 0;
		json_decref(w);
		if (bad)
			goto out;
		o->nauthz++;
	}
	rc = 0;
out:
	json_decref(j);
	return rc;
}

int acme_parse_authz(const char *buf, size_t len, struct acme_authz *a, char *err,
                     size_t errlen)
{
	memset(a, 0, sizeof *a);
	json_t *j = load(buf, len, err, errlen);
	if (!j)
		return -1;
	int rc = -1;
	a->status = status_of(j);
	const json_t *id = json_object_get(j, "identifier");
	const json_t *v = json_object_get(id, "value");
	if (a->status == ACME_ST_UNKNOWN || !json_is_string(v)) {
		nx_err(err, errlen, "authorization without a status or an identifier");
		goto out;
	}
	nx_sanitize(a->identifier, sizeof a->identifier, json_string_value(v),
	            json_string_length(v));
	const json_t *ch = json_object_get(j, "challenges");
	if (!json_is_array(ch) || json_array_size(ch) > 16) {
		nx_err(err, errlen, "authorization without a challenges array of at most 16");
		goto out;
	}
	for (size_t i = 0; i < json_array_size(ch); i++) {
		const json_t *c = json_array_get(ch, i);
		const char *type = json_string_value(json_object_get(c, "type"));
		if (!type || strcmp(type, "http-01") != 0)
			continue;
		const json_t *tok = json_object_get(c, "token");
		if (!json_is_string(tok) ||
		    !nx_acme_token_ok(json_string_value(tok), json_string_length(tok))) {
			nx_err(err, errlen, "http-01 challenge with a token that is not base64url");
			goto out;
		}
		if (url_of(c, "url", a->chall_url, 1, err, errlen) < 0)
			goto out;
		memcpy(a->token, json_string_value(tok), json_string_length(tok) + 1);
		a->chall_status = status_of(c);
		const json_t *e = json_object_get(json_object_get(c, "error"), "detail");
		if (json_is_string(e))
			nx_sanitize(a->error, sizeof a->error, json_string_value(e),
			            json_string_length(e));
		a->has_http01 = 1;
		break;
	}
	rc = 0;
out:
	json_decref(j);
	return rc;
}

int64_t acme_parse_retry_after(const char *v, int64_t now)
{
	if (!v || !*v)
		return -1;
	if (*v >= '0' && *v <= '9') {
		int64_t s = 0;
		for (; *v >= '0' && *v <= '9'; v++) {
			s = s * 10 + (*v - '0');
			if (s > 86400 * 30)
				return 86400 * 30;
		}
		return *v ? -1 : s;
	}
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	const char *e = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!e || *e)
		return -1;
	int64_t t = (int64_t)timegm(&tm);
	return t > now ? t - now : 0;
}
