/* flows.c — the authorization code flow with PKCE and a loopback redirect, and the device
 * authorization grant (see oidc.h). */
#include "core/accept.h"
#include "core/b64url.h"
#include "core/log.h"
#include "core/random.h"
#include "core/sock.h"
#include "core/util.h"
#include "oauth/http.h"
#include "oauth/oidc.h"
#include "oauth/query.h"
#include "wire/http_req.h"

#include <bearssl.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PARAM_MAX 2048

static const char *meta_str(const struct nx_oidc *p, const char *name)
{
	return json_string_value(json_object_get(p->meta, name));
}

static void scope_with_openid(const char *s, char *out, size_t n)
{
	int has = 0;
	for (const char *q = s ? s : ""; *q;) {
		q += strspn(q, " ");
		size_t l = strcspn(q, " ");
		has |= l == 6 && memcmp(q, "openid", 6) == 0;
		q += l;
	}
	snprintf(out, n, "%s%s%s", has ? "" : "openid", !has && s && *s ? " " : "", s ? s : "");
}

/* The token endpoint's answer: an id_token (verified), or the error it names. */
static int token_request(struct nx_oidc *p, const struct nx_oidc_client *c, char *form,
                         const char *nonce, char **id_token, json_t **claims, char *oerr,
                         size_t oerrlen, char *err, size_t errlen)
{
	const char *tep = meta_str(p, "token_endpoint");
	json_t *ans = NULL;
	long st = 0;
	if (!tep)
		return nx_err(err, errlen, "the issuer names no token_endpoint");
	int rc = nx_oauth_post_form(tep, form, c->client_secret ? c->client_id : NULL,
	                            c->client_secret, &ans, &st, err, errlen);
	if (rc < 0)
		return -1;
	const char *e = json_string_value(json_object_get(ans, "error"));
	if (e || st < 200 || st > 299) {
		char clean[200];
		const char *d = json_string_value(json_object_get(ans, "error_description"));
		nx_sanitize(clean, sizeof clean, d ? d : "", d ? strlen(d) : 0);
		if (oerr)
			snprintf(oerr, oerrlen, "%s", e ? e : "");
		nx_err(err, errlen, "token endpoint: %s%s%s", e ? e : "error", d ? ": " : "",
		       d ? clean : "");
		nx_oauth_json_free_secret(ans);
		return -1;
	}
	const char *idt = json_string_value(json_object_get(ans, "id_token"));
	if (!idt) {
		nx_oauth_json_free_secret(ans);
		return nx_err(err, errlen, "token endpoint answered no id_token (is openid in --scope?)");
	}
	rc = nx_oidc_verify_id_token(p, c->client_id, idt, nonce, claims, err, errlen);
	if (rc == 0 && !(*id_token = strdup(idt))) {
		json_decref(*claims);
		rc = nx_err(err, errlen, "out of memory");
	}
	if (rc == 0 && c->tokens) {
		*c->tokens = ans; /* the caller's now, tokens and all */
		return 0;
	}
	nx_oauth_json_free_secret(ans);
	return rc;
}

void nx_oidc_show_say(void *arg, const char *url, const char *user_code,
                      const char *complete_url)
{
	const char *what = arg ? arg : "log in";
	if (user_code) {
		nx_say("to %s, open %s and enter the code %s", what, url, user_code);
		if (complete_url)
			nx_say("or open %s", complete_url);
	} else
		nx_say("to %s, open this URL in a browser:\n%s", what, url);
}

static void reply(int fd, int status, const char *text)
{
	char buf[512];
	int n = snprintf(buf, sizeof buf,
	                 "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
	                 "Content-Length: %zu\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n%s",
	                 status, nx_http_reason(status), strlen(text), text);
	if (n > 0)
		(void)nx_write_all(fd, buf, (size_t)n);
}

/* Wait on lfd for the redirect to /callback; fill code. 0 ok, -1 refused/failed. */
static int await_callback(struct nx_oidc *p, int lfd, const char *state, int timeout_s,
                          char *code, size_t codecap, char *err, size_t errlen)
{
	time_t deadline = time(NULL) + timeout_s;
	static char buf[NX_HTTP_HEAD_MAX];
	static struct nx_http_req req;
	for (;;) {
		int left = (int)(deadline - time(NULL));
		if (left <= 0)
			return nx_err(err, errlen, "no answer from the browser in %d s", timeout_s);
		struct pollfd pf = {lfd, POLLIN, 0};
		if (poll(&pf, 1, left * 1000) <= 0)
			continue;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (nx_accept_shortage(errno)) /* the browser waits in the backlog: no spin */
				usleep(NX_ACCEPT_RETRY_MS * 1000);
			continue;
		}
		/* One connection at a time, so each gets 10 s in all (a local process trickling
		 * bytes must not hold the login until its deadline). */
		uint64_t conn_end = nx_now_ms() + 10000;
		size_t have = 0;
		int pr = NX_HTTP_MORE;
		while (pr == NX_HTTP_MORE) {
			uint64_t now = nx_now_ms();
			struct pollfd q = {fd, POLLIN, 0};
			if (now >= conn_end || poll(&q, 1, (int)(conn_end - now)) <= 0)
				break;
			ssize_t n = read(fd, buf + have, sizeof buf - have);
			if (n <= 0)
				break;
			have += (size_t)n;
			pr = nx_http_req_parse(buf, have, &req);
		}
		if (pr != NX_HTTP_DONE || !nx_http_slice_is(req.method, "GET") ||
		    !nx_http_slice_is(req.path, "/callback")) {
			/* not the redirect (a favicon, a probe): ignore it and keep waiting */
			reply(fd, pr == NX_HTTP_DONE ? 404 : 400, "not here\n");
			close(fd);
			continue;
		}
		const char *q = req.query.p;
		size_t ql = req.query.n;
		char v[PARAM_MAX], clean[200];
		int rc = 0;
		if (nx_oauth_query_get(q, ql, "error", v, sizeof v) == 1) {
			char d[PARAM_MAX] = "";
			nx_oauth_query_get(q, ql, "error_description", d, sizeof d);
			nx_sanitize(clean, sizeof clean, v, strlen(v));
			char cd[200];
			nx_sanitize(cd, sizeof cd, d, strlen(d));
			rc = nx_err(err, errlen, "the issuer refused: %s%s%s", clean, *d ? ": " : "", cd);
		} else if (nx_oauth_query_get(q, ql, "state", v, sizeof v) != 1 || strcmp(v, state)) {
			rc = nx_err(err, errlen, "redirect with a wrong state (not the login we started)");
		} else {
			int has_iss = nx_oauth_query_get(q, ql, "iss", v, sizeof v);
			json_t *sup = json_object_get(p->meta, "authorization_response_iss_parameter_supported");
			if (has_iss < 0 || (has_iss == 1 && strcmp(v, p->issuer) != 0) ||
			    (has_iss == 0 && json_is_true(sup)))
				rc = nx_err(err, errlen, "redirect with a missing or wrong iss (RFC 9207: a "
				            "mix-up with another issuer?)");
			else if (nx_oauth_query_get(q, ql, "code", code, codecap) != 1 || !*code)
				rc = nx_err(err, errlen, "redirect without a code");
		}
		reply(fd, rc ? 400 : 200,
		      rc ? "Login refused; see the terminal.\n" : "Logged in; you may close this window.\n");
		close(fd);
		nx_wipe(buf, sizeof buf);
		return rc;
	}
}

int nx_oidc_code_flow(struct nx_oidc *p, const struct nx_oidc_client *c, nx_oidc_show_fn show,
                      void *arg, char **id_token, json_t **claims, char *err, size_t errlen)
{
	const char *aep = meta_str(p, "authorization_endpoint");
	if (!aep || !nx_oauth_url_ok(aep))
		return nx_err(err, errlen, "the issuer names no usable authorization_endpoint");
	char state[NX_NONCE_LEN + 1], nonce[NX_NONCE_LEN + 1], verifier[NX_NONCE_LEN + 1];
	char challenge[NX_B64URL_ENCLEN(32) + 1], scope[1024], redirect[64];
	char code[PARAM_MAX];
	unsigned char h[32];
	if (nx_random_nonce(state, err, errlen) < 0 || nx_random_nonce(nonce, err, errlen) < 0 ||
	    nx_random_nonce(verifier, err, errlen) < 0)
		return -1;
	br_sha256_context sc;
	br_sha256_init(&sc);
	br_sha256_update(&sc, verifier, strlen(verifier));
	br_sha256_out(&sc, h);
	nx_b64url_encode(challenge, h, 32);
	int lfd = nx_listen_tcp("127.0.0.1:0", 8, err, errlen);
	if (lfd < 0)
		return -1;
	snprintf(redirect, sizeof redirect, "http://127.0.0.1:%u/callback", nx_local_port(lfd));
	scope_with_openid(c->scope, scope, sizeof scope);
	char *q = NULL;
	int rc = -1;
	if (nx_oauth_form_add(&q, "response_type", "code") < 0 ||
	    nx_oauth_form_add(&q, "client_id", c->client_id) < 0 ||
	    nx_oauth_form_add(&q, "redirect_uri", redirect) < 0 ||
	    nx_oauth_form_add(&q, "scope", scope) < 0 || nx_oauth_form_add(&q, "state", state) < 0 ||
	    nx_oauth_form_add(&q, "nonce", nonce) < 0 ||
	    nx_oauth_form_add(&q, "code_challenge", challenge) < 0 ||
	    nx_oauth_form_add(&q, "code_challenge_method", "S256") < 0 ||
	    (c->prompt && nx_oauth_form_add(&q, "prompt", c->prompt) < 0)) {
		nx_err(err, errlen, "out of memory");
		goto out;
	}
	size_t ul = strlen(aep) + strlen(q) + 2;
	char *url = malloc(ul);
	if (!url) {
		nx_err(err, errlen, "out of memory");
		goto out;
	}
	snprintf(url, ul, "%s%c%s", aep, strchr(aep, '?') ? '&' : '?', q);
	show(arg, url, NULL, NULL);
	free(url);
	if (await_callback(p, lfd, state, c->timeout_s > 0 ? c->timeout_s : 300, code, sizeof code,
	                   err, errlen) < 0)
		goto out;
	free(q);
	q = NULL;
	if (nx_oauth_form_add(&q, "grant_type", "authorization_code") < 0 ||
	    nx_oauth_form_add(&q, "code", code) < 0 ||
	    nx_oauth_form_add(&q, "redirect_uri", redirect) < 0 ||
	    nx_oauth_form_add(&q, "code_verifier", verifier) < 0 ||
	    nx_oauth_form_add(&q, "client_id", c->client_id) < 0) {
		nx_err(err, errlen, "out of memory");
		goto out;
	}
	rc = token_request(p, c, q, nonce, id_token, claims, NULL, 0, err, errlen);
out:
	if (q)
		nx_free_secret(q, strlen(q));
	nx_wipe(code, sizeof code);
	nx_wipe(verifier, sizeof verifier);
	close(lfd);
	return rc;
}

int nx_oidc_device_flow(struct nx_oidc *p, const struct nx_oidc_client *c, nx_oidc_show_fn show,
                        void *arg, char **id_token, json_t **claims, char *err, size_t errlen)
{
	const char *dep = meta_str(p, "device_authorization_endpoint");
	if (!dep)
		return nx_err(err, errlen, "the issuer offers no device authorization endpoint");
	char scope[1024], *f = NULL;
	json_t *ans = NULL;
	long st;
	scope_with_openid(c->scope, scope, sizeof scope);
	if (nx_oauth_form_add(&f, "client_id", c->client_id) < 0 ||
	    nx_oauth_form_add(&f, "scope", scope) < 0) {
		free(f);
		return nx_err(err, errlen, "out of memory");
	}
	int rc = nx_oauth_post_form(dep, f, c->client_secret ? c->client_id : NULL, c->client_secret,
	                            &ans, &st, err, errlen);
	free(f);
	if (rc < 0)
		return -1;
	const char *dc = json_string_value(json_object_get(ans, "device_code"));
	const char *uc = json_string_value(json_object_get(ans, "user_code"));
	const char *vu = json_string_value(json_object_get(ans, "verification_uri"));
	const char *vc = json_string_value(json_object_get(ans, "verification_uri_complete"));
	json_int_t interval = json_integer_value(json_object_get(ans, "interval"));
	json_int_t expires = json_integer_value(json_object_get(ans, "expires_in"));
	if (st < 200 || st > 299 || !dc || !uc || !vu) {
		json_decref(ans);
		return nx_err(err, errlen, "device authorization refused (HTTP %ld)", st);
	}
	if (interval <= 0)
		interval = 5;
	if (expires <= 0 || expires > 3600)
		expires = 600;
	show(arg, vu, uc, vc);
	char *dcode = strdup(dc);
	json_decref(ans);
	if (!dcode)
		return nx_err(err, errlen, "out of memory");
	time_t deadline = time(NULL) + expires;
	if (c->timeout_s > 0 && time(NULL) + c->timeout_s < deadline)
		deadline = time(NULL) + c->timeout_s;
	rc = -1;
	for (;;) {
		struct timespec ts = {(time_t)interval, 0};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		if (time(NULL) >= deadline) {
			nx_err(err, errlen, "the user code expired before the login was approved");
			break;
		}
		f = NULL;
		if (nx_oauth_form_add(&f, "grant_type", "urn:ietf:params:oauth:grant-type:device_code") < 0 ||
		    nx_oauth_form_add(&f, "device_code", dcode) < 0 ||
		    nx_oauth_form_add(&f, "client_id", c->client_id) < 0) {
			free(f);
			nx_err(err, errlen, "out of memory");
			break;
		}
		char oerr[64] = "";
		rc = token_request(p, c, f, NULL, id_token, claims, oerr, sizeof oerr, err, errlen);
		nx_free_secret(f, strlen(f));
		if (rc == 0 || (strcmp(oerr, "authorization_pending") && strcmp(oerr, "slow_down")))
			break;
		if (strcmp(oerr, "slow_down") == 0)
			interval += 5;
	}
	nx_free_secret(dcode, strlen(dcode));
	return rc;
}
