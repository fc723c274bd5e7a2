/* cred.c — credential JSON: parse, check, and the ways to hand it over (cred.h). */
#include "vault/cred.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64url.h"
#include "core/util.h"

#define STR_MAX (16 * 1024)

struct member {
	const char *name;
	int kind;     /* 's' string, 'i' integer, 'S' scopes (string or array of strings) */
	int required;
};

static const struct member bearer_m[] = {{"token", 's', 1}, {"expires_at", 'i', 0}, {0}};
static const struct member basic_m[] = {{"username", 's', 1}, {"password", 's', 1}, {0}};
static const struct member api_key_m[] = {{"header", 's', 1}, {"key", 's', 1}, {0}};
static const struct member oauth_m[] = {
    {"access_token", 's', 1}, {"refresh_token", 's', 0}, {"expires_at", 'i', 0},
    {"scopes", 'S', 0},       {"token_endpoint", 's', 0}, {"client_id", 's', 0},
    {"issuer", 's', 0},       {"token_type", 's', 0},     {"client_secret", 's', 0},
    {0}};

static const struct {
	const char *name;
	const struct member *m;
} types[] = {{"bearer", bearer_m}, {"basic", basic_m}, {"api_key", api_key_m},
             {"oauth", oauth_m}};

/* Printable text: no control bytes (so never CR or LF), valid UTF-8 is jansson's job. */
static int text_ok(const char *s, size_t n)
{
	if (n == 0 || n > STR_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* An HTTP header name: RFC 9110 token characters. */
static int header_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 128)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("!#$%&'*+-.^_`|~", s[i]) &&
		    !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z')))
			return 0;
	return 1;
}

static int check_member(const struct member *m, json_t *v, char *err, size_t errlen)
{
	if (m->kind == 'i') {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return nx_err(err, errlen, "\"%s\" must be a non-negative integer (unix seconds)",
			              m->name);
		return 0;
	}
	if (m->kind == 'S' && json_is_array(v)) {
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e) {
			if (!json_is_string(e) || !text_ok(json_string_value(e), json_string_length(e)) ||
			    strchr(json_string_value(e), ' '))
				return nx_err(err, errlen, "\"%s\" must be strings without spaces", m->name);
		}
		return 0;
	}
	if (!json_is_string(v))
		return nx_err(err, errlen, "\"%s\" must be a string", m->name);
	if (!text_ok(json_string_value(v), json_string_length(v)))
		return nx_err(err, errlen, "\"%s\" must be 1 to %d bytes without control characters",
		              m->name, STR_MAX);
	return 0;
}

int nx_cred_parse(const char *buf, size_t len, json_t **out, char *err, size_t errlen)
{
	json_error_t je;
	json_t *c = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!c)
		return nx_err(err, errlen, "credential is not JSON: %s (line %d)", je.text, je.line);
	if (!json_is_object(c)) {
		json_decref(c);
		return nx_err(err, errlen, "credential must be a JSON object");
	}
	const char *tv = json_string_value(json_object_get(c, "type")), *t = NULL;
	const struct member *ms = NULL;
	for (size_t i = 0; tv && i < sizeof types / sizeof types[0]; i++)
		if (strcmp(tv, types[i].name) == 0)
			ms = types[i].m, t = types[i].name; /* ours: messages outlive c */
	if (!ms) {
		json_decref(c);
		return nx_err(err, errlen, "credential \"type\" must be bearer, basic, api_key or "
		                           "oauth");
	}
	const char *k;
	json_t *v;
	json_object_foreach(c, k, v) {
		if (strcmp(k, "type") == 0)
			continue;
		const struct member *m = ms;
		while (m->name && strcmp(m->name, k) != 0)
			m++;
		if (!m->name) {
			char safe[64];
			nx_sanitize(safe, sizeof safe, k, strlen(k));
			json_decref(c);
			return nx_err(err, errlen, "a %s credential has no member \"%s\"", t, safe);
		}
		if (check_member(m, v, err, errlen) < 0) {
			json_decref(c);
			return -1;
		}
	}
	for (const struct member *m = ms; m->name; m++)
		if (m->required && !json_object_get(c, m->name)) {
			json_decref(c);
			return nx_err(err, errlen, "a %s credential needs \"%s\"", t, m->name);
		}
	const char *h = json_string_value(json_object_get(c, "header"));
	if (h && !header_name_ok(h)) {
		json_decref(c);
		return nx_err(err, errlen, "\"header\" must be an HTTP header name");
	}
	const char *tt = json_string_value(json_object_get(c, "token_type"));
	if (tt && strcasecmp(tt, "bearer") != 0) {
		json_decref(c);
		return nx_err(err, errlen, "\"token_type\" must be Bearer");
	}
	*out = c;
	return 0;
}

enum nx_cred_type nx_cred_type(const json_t *c)
{
	const char *t = json_string_value(json_object_get(c, "type"));
	if (t && strcmp(t, "basic") == 0)
		return NX_CRED_BASIC;
	if (t && strcmp(t, "api_key") == 0)
		return NX_CRED_API_KEY;
	if (t && strcmp(t, "oauth") == 0)
		return NX_CRED_OAUTH;
	return NX_CRED_BEARER;
}

const char *nx_cred_type_name(const json_t *c)
{
	static const char *names[] = {"bearer", "basic", "api_key", "oauth"};
	return names[nx_cred_type(c)];
}

int64_t nx_cred_expires(const json_t *c)
{
	json_t *e = json_object_get(c, "expires_at");
	return json_is_integer(e) ? (int64_t)json_integer_value(e) : 0;
}

static const char *str(const json_t *c, const char *name)
{
	const char *s = json_string_value(json_object_get(c, name));
	return s ? s : "";
}

/* The one secret of a token-like credential. */
static const char *token_of(const json_t *c)
{
	switch (nx_cred_type(c)) {
	case NX_CRED_API_KEY: return str(c, "key");
	case NX_CRED_OAUTH: return str(c, "access_token");
	default: return str(c, "token");
	}
}

static char *join(const char *a, const char *sep, const char *b)
{
	size_t n = strlen(a) + strlen(sep) + strlen(b) + 1;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s%s%s", a, sep, b);
	return s;
}

char *nx_cred_secret(const json_t *c)
{
	if (nx_cred_type(c) == NX_CRED_BASIC)
		return join(str(c, "username"), ":", str(c, "password"));
	return strdup(token_of(c));
}

char *nx_base64_std(const void *src, size_t n)
{
	size_t el = NX_B64URL_ENCLEN(n), pad = (4 - el % 4) % 4;
	char *s = malloc(el + pad + 1);
	if (!s)
		return NULL;
	nx_b64url_encode(s, src, n);
	for (size_t i = 0; i < el; i++)
		s[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	memset(s + el, '=', pad);
	s[el + pad] = '\0';
	return s;
}

char *nx_cred_header(const json_t *c)
{
	switch (nx_cred_type(c)) {
	case NX_CRED_BASIC: {
		char *up = nx_cred_secret(c);
		if (!up)
			return NULL;
		char *b = nx_base64_std(up, strlen(up));
		nx_free_secret(up, strlen(up));
		if (!b)
			return NULL;
		char *h = join("Authorization: Basic ", "", b);
		nx_free_secret(b, strlen(b));
		return h;
	}
	case NX_CRED_API_KEY: return join(str(c, "header"), ": ", str(c, "key"));
	default: return join("Authorization: Bearer ", "", token_of(c));
	}
}

int nx_cred_env(const json_t *c, int (*set)(void *arg, const char *name, const char *value),
                void *arg)
{
	char *h = nx_cred_header(c);
	if (!h)
		return -1;
	int rc = set(arg, "NEXUS_VAULT_TYPE", nx_cred_type_name(c));
	if (rc == 0)
		rc = set(arg, "NEXUS_VAULT_HEADER", h);
	nx_free_secret(h, strlen(h));
	if (rc == 0 && nx_cred_type(c) == NX_CRED_BASIC) {
		rc = set(arg, "NEXUS_VAULT_USERNAME", str(c, "username"));
		if (rc == 0)
			rc = set(arg, "NEXUS_VAULT_PASSWORD", str(c, "password"));
	} else if (rc == 0)
		rc = set(arg, "NEXUS_VAULT_TOKEN", token_of(c));
	return rc;
}
