/* issue.c — see issue.h. */
#include "token/issue.h"
#include "token/backend_claims.h"
#include "token/denylist.h"
#include "token/jws.h"
#include "core/random.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int nx_issue_push(const char **list, int *n, const char *v, const char *what, char *err,
                  size_t errlen)
{
	if (*n >= NX_ISSUE_MAX_LIST)
		return nx_err(err, errlen, "too many %s options (at most %d)", what, NX_ISSUE_MAX_LIST);
	list[(*n)++] = v;
	return 0;
}

int nx_issue_claim_ok(const char *spec, char *err, size_t errlen)
{
	const char *eq = strchr(spec, '=');
	if (!eq || eq == spec)
		return nx_err(err, errlen, "--claim wants NAME=JSON, not '%s'", spec);
	json_error_t je;
	json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, &je);
	if (!v)
		return nx_err(err, errlen, "--claim %.*s: value is not JSON (quote strings: %.*s='\"text\"')",
		              (int)(eq - spec), spec, (int)(eq - spec), spec);
	json_decref(v);
	return 0;
}

void nx_issue_defaults(struct nx_issue_req *r)
{
	if (r->backend) {
		/* What a Nexus Proxy hub demands of a backend token. */
		if (!r->iss)
			r->iss = "authorizer";
		if (r->naud == 0)
			r->aud[r->naud++] = "nexus";
		if (!r->ttl_set)
			r->ttl_ms = 30000;
	} else if (!r->ttl_set) {
		r->ttl_ms = 3600000;
	}
}

/* A string claim from the command line; jansson refuses invalid UTF-8, say so. */
static int set_string(json_t *c, const char *name, const char *value, char *err, size_t errlen)
{
	json_t *v = json_string(value);
	if (!v || json_object_set_new(c, name, v) < 0)
		return nx_err(err, errlen, "'%s' is not valid UTF-8 text", name);
	return 0;
}

static json_t *base_object(const char *file, char *err, size_t errlen)
{
	if (!file)
		return json_object();
	char *buf, e2[NX_ERRLEN];
	size_t len;
	json_error_t je;
	if (nx_read_file(file, NX_JWS_MAX, &buf, &len, e2, sizeof e2) < 0) {
		nx_err(err, errlen, "--claims: %s", e2);
		return NULL;
	}
	json_t *c = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	free(buf);
	if (!json_is_object(c)) {
		nx_err(err, errlen, "--claims %s: not a JSON object (%s)", file,
		       c ? "wrong type" : je.text);
		json_decref(c);
		return NULL;
	}
	return c;
}

static int set_audience(json_t *c, const struct nx_issue_req *r, char *err, size_t errlen)
{
	if (r->naud == 1 && !r->backend)
		return set_string(c, "aud", r->aud[0], err, errlen);
	if (r->naud == 0)
		return 0;
	json_t *a = json_array();
	json_object_set_new(c, "aud", a);
	for (int i = 0; i < r->naud; i++)
		if (json_array_append_new(a, json_string(r->aud[i])) < 0)
			return nx_err(err, errlen, "'aud' is not valid UTF-8 text");
	return 0;
}

/* A jti already in --claims (nexus-bind records the id it prints) is kept unless --jti says
 * otherwise: replacing it would make the token unrevocable by that id. */
static int set_jti(json_t *c, const char *jti, char *err, size_t errlen)
{
	if (!jti)
		jti = json_is_string(json_object_get(c, "jti")) ? "none" : "auto";
	if (strcmp(jti, "none") == 0)
		return 0;
	if (strcmp(jti, "auto") == 0) {
		char id[NX_UUID_TEXT_LEN + 1];
		if (nx_random_uuid4(NULL, id, err, errlen) < 0)
			return -1;
		json_object_set_new(c, "jti", json_string(id));
		return 0;
	}
	/* An id the deny-list could not hold would make the token unrevocable. */
	for (const unsigned char *p = (const unsigned char *)jti; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return nx_err(err, errlen, "--jti: no spaces or control characters allowed");
	if (strlen(jti) >= NX_JTI_MAX || jti[0] == '#')
		return nx_err(err, errlen, "--jti: at most %d characters, not starting with '#'",
		              NX_JTI_MAX - 1);
	return set_string(c, "jti", jti, err, errlen);
}

static int set_extra(json_t *c, const char *spec, char *err, size_t errlen)
{
	if (nx_issue_claim_ok(spec, err, errlen) < 0)
		return -1;
	const char *eq = strchr(spec, '=');
	char name[256];
	snprintf(name, sizeof name, "%.*s", (int)(eq - spec), spec);
	json_object_set_new(c, name, json_loads(eq + 1, JSON_DECODE_ANY, NULL));
	return 0;
}

json_t *nx_issue_claims(const struct nx_issue_req *r, int64_t now,
                        char *(*getenv_fn)(const char *), char *err, size_t errlen)
{
	json_t *c = base_object(r->claims_file, err, errlen);
	if (!c)
		return NULL;
	if (r->routes)
		json_object_update(c, r->routes); /* route flags, and --weight */
	if (r->sub && set_string(c, "sub", r->sub, err, errlen) < 0)
		goto fail;
	if (r->backend && nx_claims_add_backend_env(c, getenv_fn, err, errlen) < 0)
		goto fail;
	json_object_set_new(c, "iat", json_integer(now));
	if (r->ttl_ms > 0)
		json_object_set_new(c, "exp", json_integer(now + (int64_t)((r->ttl_ms + 999) / 1000)));
	if (r->nbf_set)
		json_object_set_new(c, "nbf", json_integer(now + (int64_t)(r->nbf_ms / 1000)));
	if (r->iss && set_string(c, "iss", r->iss, err, errlen) < 0)
		goto fail;
	if (set_audience(c, r, err, errlen) < 0)
		goto fail;
	if (r->nscope > 0) {
		char s[4096] = "";
		for (int i = 0; i < r->nscope; i++)
			snprintf(s + strlen(s), sizeof s - strlen(s), "%s%s", i ? " " : "", r->scope[i]);
		if (set_string(c, "scope", s, err, errlen) < 0)
			goto fail;
	}
	if (set_jti(c, r->jti, err, errlen) < 0)
		goto fail;
	for (int i = 0; i < r->nclaim; i++)
		if (set_extra(c, r->claim[i], err, errlen) < 0)
			goto fail;
	return c;
fail:
	json_decref(c);
	return NULL;
}
