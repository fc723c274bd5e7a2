/* oidc.h — an OpenID Connect relying party for command-line tools (nexus-token login,
 * nexus-vault): discovery, the authorization code flow with PKCE (S256) and a loopback
 * redirect on a random port (RFC 8252; state, nonce and the RFC 9207 iss parameter
 * checked), the device authorization grant (RFC 8628), and ID token verification against
 * the issuer's JWKS (RS256, ES256; iss, aud, azp, exp, nonce).
 *
 * Nothing here prints: what a person must see (a URL to open, a user code) goes through
 * the caller's `show` callback; secrets (the client secret, codes, the verifier) are never
 * put in an error message. */
#ifndef NEXUS_OIDC_H
#define NEXUS_OIDC_H
#include <jansson.h>
#include <stddef.h>

struct nx_oidc {
	char issuer[512];
	json_t *meta;       /* the discovery document */
	json_t *jwks;       /* fetched on first use, again once when a kid is unknown */
	long leeway;        /* seconds of clock skew allowed on exp/iat (default 30) */
};

struct nx_oidc_client {
	const char *client_id;
	const char *client_secret; /* NULL: a public client (PKCE alone) */
	const char *scope;         /* space-separated, "openid" added when missing */
	int timeout_s;             /* how long to wait for the browser / the user (default 300) */
	const char *prompt;        /* code flow: the prompt parameter ("consent"), or NULL */
	json_t **tokens;           /* non-NULL: gets the token endpoint's whole answer (access,
	                              refresh token, expires_in, scope); free it with
	                              nx_oauth_json_free_secret */
};

/* Fetch ISSUER/.well-known/openid-configuration; its "issuer" must equal `issuer`. */
int nx_oidc_discover(struct nx_oidc *p, const char *issuer, char *err, size_t errlen);
void nx_oidc_free(struct nx_oidc *p);

/* Verify an ID token: signature under the JWKS key its header names (RS256 or ES256 only),
 * iss = the issuer, aud contains client_id (and azp = client_id when aud has several),
 * exp in the future, sub present, and nonce equal to `nonce` when non-NULL. *claims on
 * success (json_decref it). */
int nx_oidc_verify_id_token(struct nx_oidc *p, const char *client_id, const char *token,
                            const char *nonce, json_t **claims, char *err, size_t errlen);

/* What the user must be told: a URL to open (code flow: user_code NULL), or the device
 * flow's user code and verification URLs (complete may be NULL). */
typedef void (*nx_oidc_show_fn)(void *arg, const char *url, const char *user_code,
                                const char *complete_url);

/* A show function that tells a person on stderr, through nx_say; arg is the verb of what
 * they are doing ("log in", "connect github"). */
void nx_oidc_show_say(void *arg, const char *url, const char *user_code,
                      const char *complete_url);

/* The authorization code flow through the system browser (or whatever opens the URL shown)
 * and a loopback listener on 127.0.0.1, port chosen by the kernel. *id_token: malloc'd. */
int nx_oidc_code_flow(struct nx_oidc *p, const struct nx_oidc_client *c, nx_oidc_show_fn show,
                      void *arg, char **id_token, json_t **claims, char *err, size_t errlen);

/* The device authorization grant: show the user code, poll at the server's interval
 * (5 s when it names none; 5 s more after each slow_down) until done, denied or expired. */
int nx_oidc_device_flow(struct nx_oidc *p, const struct nx_oidc_client *c, nx_oidc_show_fn show,
                        void *arg, char **id_token, json_t **claims, char *err, size_t errlen);

#endif
