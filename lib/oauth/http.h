/* http.h — the HTTP client side of OAuth (libcurl): JSON from a GET, JSON from a form POST.
 * Answers are bounded (NX_OAUTH_BODY_MAX); http:// is allowed only to loopback hosts. */
#ifndef NEXUS_OAUTH_HTTP_H
#define NEXUS_OAUTH_HTTP_H
#include <jansson.h>
#include <stddef.h>

#define NX_OAUTH_BODY_MAX (1u << 20)

/* 1 if url is https://, or http:// to 127.0.0.1, [::1] or localhost. */
int nx_oauth_url_ok(const char *url);

/* GET url, expect a JSON object (any 2xx). */
int nx_oauth_get_json(const char *url, json_t **out, char *err, size_t errlen);

/* POST form (already encoded) to url; basic_user/pass (both or neither) as HTTP Basic
 * client authentication. *out: the JSON object answered (2xx or 4xx), *status the code. */
int nx_oauth_post_form(const char *url, const char *form, const char *basic_user,
                       const char *basic_pass, json_t **out, long *status, char *err,
                       size_t errlen);

/* Wipe every string member of a JSON object (tokens in an answer), then json_decref it.
 * NULL is fine. */
void nx_oauth_json_free_secret(json_t *o);

/* From now on every block jansson frees is wiped first: the copies of tokens that
 * json_loads, json_dumps, json_deep_copy and json_decref leave behind included. For a
 * process that holds credentials in JSON (nexus-vault, nexus-token login); call it before
 * any JSON is made. */
void nx_oauth_json_wipe_frees(void);

/* Append "&name=value" (the first without '&') to a malloc'd form string, value escaped.
 * *form may be NULL to start. -1 on no memory. */
int nx_oauth_form_add(char **form, const char *name, const char *value);

/* Any request, for clients that need more than JSON in and out (ACME, lib/acme): a method,
 * a body with its type, an Accept, a CA bundle to trust instead of the system's, and the
 * response headers below. The body answered (any status) is kept as bytes, bounded by
 * NX_OAUTH_BODY_MAX; header values are cut to their buffers. No redirects followed. */
struct nx_http_fetch {
	const char *method;       /* "GET", "HEAD" or "POST" */
	const char *url;
	const char *body;         /* POST: body_len bytes */
	size_t body_len;
	const char *content_type; /* of the body; NULL: none */
	const char *accept;       /* NULL: any */
	const char *ca_file;      /* PEM bundle to trust; NULL: the system's */
	long timeout_s;           /* 0: 30 */
	/* answer */
	long status;
	char *resp;               /* malloc'd, NUL-terminated, resp_len bytes; NULL if empty */
	size_t resp_len;
	size_t resp_cap;          /* its allocation, wiped by nx_oauth_fetch_done */
	char content_type_in[128];
	char replay_nonce[256];
	char location[1024];
	char retry_after[64];
};
int nx_oauth_fetch(struct nx_http_fetch *f, char *err, size_t errlen);
/* Wipe and free the answer (the request fields are the caller's). */
void nx_oauth_fetch_done(struct nx_http_fetch *f);

#endif
