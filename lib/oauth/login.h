/* login.h — nexus-token login: an OpenID Connect login (oidc.h) that ends with the
 * verified ID token, or with our own user token minted from it: sub = the verified
 * subject (or email), scopes from a mapping file. */
#ifndef NEXUS_LOGIN_H
#define NEXUS_LOGIN_H
#include <stddef.h>
#include <stdint.h>

#include "oauth/oidc.h"

struct nx_login {
	const char *issuer, *client_id;
	const char *client_secret_file; /* NULL: a public client */
	const char *scope;              /* OIDC scopes to ask for ("openid" is added) */
	int device_flow, timeout_s;
	long leeway;                    /* seconds; < 0: the default (30) */
	const char *id_token_file;      /* verify this ID token ("-": stdin) instead of a flow */
	/* minting (key_file non-NULL) */
	const char *key_file;
	uint64_t ttl_ms;
	const char *scope_map;          /* lines "SUBJECT SCOPE..." ('*' for anyone); NULL: none */
	const char *sub_claim;          /* "sub" (default) or "email" */
	const char *our_iss, *our_aud;  /* default "nexus-login", "nexus-bind" */
	nx_oidc_show_fn show;
	void *show_arg;
};

/* Run the login. *out: the ID token, or with key_file our token (malloc'd). */
int nx_login_run(const struct nx_login *l, char **out, char *err, size_t errlen);

/* The scopes `subject` gets from the mapping file's text (first matching line; '*' matches
 * anyone): 1 found (into out), 0 no line matches, -1 malformed (line number in err). */
int nx_login_scope_lookup(const char *text, size_t len, const char *subject, char *out,
                          size_t cap, char *err, size_t errlen);

#endif
