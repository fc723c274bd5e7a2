/* login.c — see login.h. */
#include "oauth/login.h"
#include "core/random.h"
#include "core/util.h"
#include "token/jws.h"
#include "token/keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int nx_login_scope_lookup(const char *text, size_t len, const char *subject, char *out,
                          size_t cap, char *err, size_t errlen)
{
	size_t i = 0, sl = strlen(subject);
	int lineno = 0;
	while (i < len) {
		size_t s = i;
		while (i < len && text[i] != '\n')
			i++;
		size_t e = i++;
		lineno++;
		while (s < e && (text[s] == ' ' || text[s] == '\t'))
			s++;
		while (e > s && (text[e - 1] == ' ' || text[e - 1] == '\t' || text[e - 1] == '\r'))
			e--;
		if (s == e || text[s] == '#')
			continue;
		size_t k = s;
		while (k < e && text[k] != ' ' && text[k] != '\t')
			k++;
		int match = (k - s == 1 && text[s] == '*') || (k - s == sl && !memcmp(text + s, subject, sl));
		if (!match)
			continue;
		while (k < e && (text[k] == ' ' || text[k] == '\t'))
			k++;
		size_t o = 0;
		for (size_t j = k; j < e; j++) {
			char c = text[j] == '\t' ? ' ' : text[j];
			if ((unsigned char)c < ' ' || c == 0x7f)
				return nx_err(err, errlen, "scope map line %d: control character", lineno);
			if (c == ' ' && o && out[o - 1] == ' ')
				continue;
			if (o + 1 >= cap)
				return nx_err(err, errlen, "scope map line %d: too long", lineno);
			out[o++] = c;
		}
		out[o] = '\0';
		return 1;
	}
	return 0;
}

static void trim_secret(char *s, size_t *n)
{
	while (*n && (s[*n - 1] == '\n' || s[*n - 1] == '\r' || s[*n - 1] == ' '))
		s[--*n] = '\0';
}

static int mint(const struct nx_login *l, const json_t *idc, char **out, char *err,
                size_t errlen)
{
	const char *which = l->sub_claim ? l->sub_claim : "sub";
	const char *subject = json_string_value(json_object_get(idc, which));
	if (!subject || !*subject)
		return nx_err(err, errlen, "the ID token has no %s to name the user by", which);
	if (strcmp(which, "email") == 0 &&
	    json_is_false(json_object_get(idc, "email_verified")))
		return nx_err(err, errlen, "the issuer has not verified the email %s", subject);
	for (const char *c = subject; *c; c++)
		if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f || strlen(subject) > 128)
			return nx_err(err, errlen, "the %s claim is not usable as a user name", which);
	char scope[1024] = "";
	if (l->scope_map) {
		char *text;
		size_t n;
		if (nx_read_file(l->scope_map, 1 << 20, &text, &n, err, errlen) < 0)
			return -1;
		int rc = nx_login_scope_lookup(text, n, subject, scope, sizeof scope, err, errlen);
		free(text);
		if (rc < 0)
			return -1;
		if (rc == 0)
			return nx_err(err, errlen, "%s: no line for %s (and no '*' line)", l->scope_map,
			              subject);
	}
	struct nx_key *key;
	if (nx_key_load_file(l->key_file, &key, err, errlen) < 0)
		return -1;
	time_t now = time(NULL);
	char jti[40];
	unsigned char r[16];
	if (nx_random_uuid4(r, jti, err, errlen) < 0) {
		nx_key_free(key);
		return -1;
	}
	json_t *c = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "sub", subject, "iss",
	                      l->our_iss ? l->our_iss : "nexus-login", "aud",
	                      l->our_aud ? l->our_aud : "nexus-bind", "iat", (json_int_t)now, "exp",
	                      (json_int_t)(now + (time_t)(l->ttl_ms / 1000)), "jti", jti);
	if (c && *scope)
		json_object_set_new(c, "scope", json_string(scope));
	const char *email = json_string_value(json_object_get(idc, "email"));
	if (c && email)
		json_object_set_new(c, "email", json_string(email));
	int rc = c ? nx_jws_sign(key, NX_ALG_NONE, NULL, c, out, err, errlen)
	           : nx_err(err, errlen, "out of memory");
	json_decref(c);
	nx_key_free(key);
	return rc;
}

int nx_login_run(const struct nx_login *l, char **out, char *err, size_t errlen)
{
	struct nx_oidc p;
	char *secret = NULL;
	size_t sl = 0;
	char *idt = NULL;
	json_t *claims = NULL;
	int rc = -1;
	if (nx_oidc_discover(&p, l->issuer, err, errlen) < 0)
		return -1;
	if (l->leeway >= 0)
		p.leeway = l->leeway;
	if (l->client_secret_file) {
		if (nx_read_file(l->client_secret_file, 4096, &secret, &sl, err, errlen) < 0)
			goto out;
		trim_secret(secret, &sl);
	}
	struct nx_oidc_client c = {.client_id = l->client_id, .client_secret = secret,
	                           .scope = l->scope, .timeout_s = l->timeout_s};
	if (l->id_token_file) {
		size_t n;
		if (nx_read_file(l->id_token_file, 65536, &idt, &n, err, errlen) < 0)
			goto out;
		while (n && (idt[n - 1] == '\n' || idt[n - 1] == '\r'))
			idt[--n] = '\0';
		if (nx_oidc_verify_id_token(&p, l->client_id, idt, NULL, &claims, err, errlen) < 0)
			goto out;
	} else if (l->device_flow) {
		if (nx_oidc_device_flow(&p, &c, l->show, l->show_arg, &idt, &claims, err, errlen) < 0)
			goto out;
	} else if (nx_oidc_code_flow(&p, &c, l->show, l->show_arg, &idt, &claims, err, errlen) < 0)
		goto out;
	if (l->key_file)
		rc = mint(l, claims, out, err, errlen);
	else if ((*out = strdup(idt)))
		rc = 0;
	else
		nx_err(err, errlen, "out of memory");
out:
	if (secret)
		nx_free_secret(secret, sl);
	if (idt)
		nx_free_secret(idt, strlen(idt));
	json_decref(claims);
	nx_oidc_free(&p);
	return rc;
}
