/* http.c — see http.h. */
#include "oauth/http.h"
#include "oauth/http_int.h"
#include "core/sbuf.h"
#include "core/util.h"

#include <curl/curl.h>
#include <malloc.h>
#include <stddef.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The answer holds tokens: core/sbuf grows it by copying and wipes what it lets go. */
static size_t on_data(char *d, size_t sz, size_t nm, void *arg)
{
	size_t n = sz * nm;
	return nx_sbuf_add(arg, d, n, NX_OAUTH_BODY_MAX) == 0 ? n : 0;
}

int nx_oauth_url_ok(const char *url)
{
	if (strncmp(url, "https://", 8) == 0)
		return 1;
	if (strncmp(url, "http://", 7) != 0)
		return 0;
	const char *h = url + 7;
	static const char *loop[] = {"127.0.0.1", "[::1]", "localhost"};
	for (int i = 0; i < 3; i++) {
		size_t l = strlen(loop[i]);
		if (strncmp(h, loop[i], l) == 0 && (h[l] == ':' || h[l] == '/' || h[l] == '\0'))
			return 1;
	}
	return 0;
}

static int run(CURL *c, const char *url, json_t **out, long *status, char *err, size_t errlen)
{
	struct nx_sbuf s = {0};
	char cerr[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	CURLcode rc = curl_easy_perform(c);
	curl_slist_free_all(h);
	long code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (status)
		*status = code;
	if (rc != CURLE_OK) {
		int over = s.over;
		nx_sbuf_free(&s);
		return nx_err(err, errlen, "%s: %s", url,
		              over ? "answer too large" : cerr[0] ? cerr : curl_easy_strerror(rc));
	}
	json_error_t je;
	json_t *j = s.p ? json_loadb(s.p, s.n, JSON_REJECT_DUPLICATES, &je) : NULL;
	nx_sbuf_free(&s);
	if (!json_is_object(j)) {
		json_decref(j);
		return nx_err(err, errlen, "%s: HTTP %ld without a JSON object", url, code);
	}
	*out = j;
	return 0;
}

int nx_oauth_get_json(const char *url, json_t **out, char *err, size_t errlen)
{
	if (!nx_oauth_url_ok(url))
		return nx_err(err, errlen, "%s: only https:// (or http:// to loopback)", url);
	CURL *c = curl_easy_init();
	if (!c)
		return nx_err(err, errlen, "curl_easy_init failed");
	long st;
	int rc = run(c, url, out, &st, err, errlen);
	curl_easy_cleanup(c);
	if (rc == 0 && (st < 200 || st > 299)) {
		json_decref(*out);
		return nx_err(err, errlen, "%s: HTTP %ld", url, st);
	}
	return rc;
}

int nx_oauth_post_form(const char *url, const char *form, const char *basic_user,
                       const char *basic_pass, json_t **out, long *status, char *err,
                       size_t errlen)
{
	if (!nx_oauth_url_ok(url))
		return nx_err(err, errlen, "%s: only https:// (or http:// to loopback)", url);
	CURL *c = curl_easy_init();
	if (!c)
		return nx_err(err, errlen, "curl_easy_init failed");
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
	if (basic_user && basic_pass) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, basic_user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, basic_pass);
	}
	int rc = run(c, url, out, status, err, errlen);
	curl_easy_cleanup(c);
	return rc;
}

/* One "Name: value" header line into the field the caller wants it in. */
size_t oauth_http_on_header(char *d, size_t sz, size_t nm, void *arg)
{
	struct nx_http_fetch *f = arg;
	size_t n = sz * nm;
	static const struct {
		const char *name;
		size_t off, cap;
	} want[] = {
		{"content-type", offsetof(struct nx_http_fetch, content_type_in), 128},
		{"replay-nonce", offsetof(struct nx_http_fetch, replay_nonce), 256},
		{"location", offsetof(struct nx_http_fetch, location), 1024},
		{"retry-after", offsetof(struct nx_http_fetch, retry_after), 64},
	};
	const char *colon = memchr(d, ':', n);
	if (!colon)
		return n;
	size_t nl = (size_t)(colon - d);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		if (nl != strlen(want[i].name) || strncasecmp(d, want[i].name, nl) != 0)
			continue;
		const char *v = colon + 1, *e = d + n;
		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
			e--;
		char *dst = (char *)f + want[i].off;
		size_t l = (size_t)(e - v) < want[i].cap - 1 ? (size_t)(e - v) : want[i].cap - 1;
		memcpy(dst, v, l);
		dst[l] = 0;
	}
	return n;
}

int nx_oauth_fetch(struct nx_http_fetch *f, char *err, size_t errlen)
{
	f->status = 0;
	f->resp = NULL;
	f->resp_len = f->resp_cap = 0;
	f->content_type_in[0] = f->replay_nonce[0] = f->location[0] = f->retry_after[0] = 0;
	if (!nx_oauth_url_ok(f->url))
		return nx_err(err, errlen, "%s: only https:// (or http:// to loopback)", f->url);
	CURL *c = curl_easy_init();
	if (!c)
		return nx_err(err, errlen, "curl_easy_init failed");
	struct nx_sbuf s = {0};
	char cerr[CURL_ERROR_SIZE] = "", hbuf[300];
	struct curl_slist *h = NULL;
	curl_easy_setopt(c, CURLOPT_URL, f->url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, oauth_http_on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, f);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, f->timeout_s ? f->timeout_s : 30L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "nexus");
	if (f->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, f->ca_file);
	if (strcmp(f->method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(f->method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, f->body ? f->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(f->body ? f->body_len : 0));
	}
	if (f->content_type) {
		snprintf(hbuf, sizeof hbuf, "Content-Type: %s", f->content_type);
		h = curl_slist_append(h, hbuf);
	}
	if (f->accept) {
		snprintf(hbuf, sizeof hbuf, "Accept: %s", f->accept);
		h = curl_slist_append(h, hbuf);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	CURLcode rc = curl_easy_perform(c);
	curl_slist_free_all(h);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &f->status);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		int over = s.over;
		nx_sbuf_free(&s);
		return nx_err(err, errlen, "%s: %s", f->url,
		              over ? "answer too large" : cerr[0] ? cerr : curl_easy_strerror(rc));
	}
	f->resp = s.p;
	f->resp_len = s.n;
	f->resp_cap = s.cap;
	return 0;
}

void nx_oauth_fetch_done(struct nx_http_fetch *f)
{
	if (f->resp)
		nx_free_secret(f->resp, f->resp_cap);
	f->resp = NULL;
	f->resp_len = 0;
}

int nx_oauth_form_add(char **form, const char *name, const char *value)
{
	char *v = curl_easy_escape(NULL, value, 0);
	if (!v)
		return -1;
	size_t old = *form ? strlen(*form) : 0;
	size_t n = old + strlen(name) + strlen(v) + 3;
	/* forms carry codes, verifiers and refresh tokens: copy, and wipe what is let go */
	char *f = malloc(n);
	if (!f) {
		nx_free_secret(v, strlen(v));
		return -1;
	}
	if (*form)
		memcpy(f, *form, old);
	snprintf(f + old, n - old, "%s%s=%s", old ? "&" : "", name, v);
	nx_wipe(v, strlen(v));
	curl_free(v);
	if (*form)
		nx_free_secret(*form, old);
	*form = f;
	return 0;
}

void nx_oauth_json_free_secret(json_t *o)
{
	const char *k;
	json_t *v;
	/* only what no one else holds: the last reference to the object and to the string */
	if (o && o->refcount == 1 && json_is_object(o))
		json_object_foreach(o, k, v)
			if (json_is_string(v) && v->refcount == 1)
				nx_wipe((char *)json_string_value(v), json_string_length(v));
	json_decref(o);
}

/* jansson's free: wipe the whole block first. jansson never reallocs (its string buffers
 * grow by malloc, copy, free), so every copy of a token it made passes through here. */
static void wiping_free(void *p)
{
	if (p) {
		nx_wipe(p, malloc_usable_size(p));
		free(p);
	}
}

void nx_oauth_json_wipe_frees(void)
{
	json_set_alloc_funcs(malloc, wiping_free);
}
