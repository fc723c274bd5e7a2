/* gate_session.c — grants (one-time, from nexus-bind session) and session cookies. */
#include "gate/gate_int.h"
#include "core/util.h"
#include "token/claims.h"
#include "token/jws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A claim that goes into headers and logs: printable ASCII, no spaces, bounded. */
static int copy_name(const json_t *claims, const char *name, char *out, size_t n)
{
	const char *v = json_string_value(json_object_get(claims, name));
	if (!v || !*v || strlen(v) >= n)
		return -1;
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '"' || *p == '\\')
			return -1;
	snprintf(out, n, "%s", v);
	return 0;
}

static int session_of(const json_t *claims, struct gate_session *s)
{
	json_t *exp = json_object_get(claims, "exp");
	if (copy_name(claims, "sub", s->user, sizeof s->user) < 0 ||
	    copy_name(claims, "dev", s->device, sizeof s->device) < 0 ||
	    copy_name(claims, "sid", s->sid, sizeof s->sid) < 0 || !json_is_integer(exp))
		return -1;
	s->exp = json_integer_value(exp);
	return 0;
}

/* Remember jti until exp; 1 when it was already there, -1 when the cache is full. */
static int replay_add(struct nx_gate *g, const char *jti, int64_t exp, int64_t now)
{
	int rc = 0;
	pthread_mutex_lock(&g->mu);
	size_t w = 0;
	for (size_t i = 0; i < g->n_replay; i++) {
		if (g->replay[i].exp < now)
			continue; /* expired: a replay would fail on exp anyway */
		if (strcmp(g->replay[i].jti, jti) == 0)
			rc = 1;
		g->replay[w++] = g->replay[i];
	}
	g->n_replay = w;
	if (rc == 0) {
		if (g->n_replay >= NX_GATE_REPLAY_MAX) {
			rc = -1;
		} else {
			snprintf(g->replay[g->n_replay].jti, sizeof g->replay[0].jti, "%s", jti);
			g->replay[g->n_replay++].exp = exp;
		}
	}
	pthread_mutex_unlock(&g->mu);
	return rc;
}

int gate_grant_take(struct nx_gate *g, const char *host, const char *code, size_t n,
                    struct gate_session *s, char *err, size_t errlen)
{
	static const char *const required[] = {"typ", "sub", "dev", "sid", "jti", "iat", "exp",
	                                       "sexp", NULL};
	json_t *claims = NULL;
	char e[NX_ERRLEN], jti[64];
	int64_t now = nx_unix_time();
	struct nx_claims_policy pol = {.aud = host, .iss = "nexus-bind", .leeway = 5,
	                               .required = required, .now = now};
	if (nx_jws_verify(g->grant_key, code, n, NULL, &claims, e, sizeof e) < 0 ||
	    nx_claims_check(claims, &pol, e, sizeof e) < 0) {
		json_decref(claims);
		return nx_err(err, errlen, "grant refused: %s", e);
	}
	int rc = -1;
	json_t *iat = json_object_get(claims, "iat"), *exp = json_object_get(claims, "exp");
	json_t *sexp = json_object_get(claims, "sexp");
	if (!json_is_string(json_object_get(claims, "typ")) ||
	    strcmp(json_string_value(json_object_get(claims, "typ")), "nx-grant") != 0)
		nx_err(err, errlen, "grant refused: not a grant");
	else if (session_of(claims, s) < 0 || copy_name(claims, "jti", jti, sizeof jti) < 0 ||
	         !json_is_integer(iat) || !json_is_integer(sexp))
		nx_err(err, errlen, "grant refused: malformed claims");
	else if (json_integer_value(exp) - json_integer_value(iat) > NX_GATE_GRANT_LIFE_MAX)
		nx_err(err, errlen, "grant refused: it lives longer than %d s", NX_GATE_GRANT_LIFE_MAX);
	else if (json_integer_value(sexp) <= now)
		nx_err(err, errlen, "grant refused: the session has ended");
	else {
		int r = replay_add(g, jti, json_integer_value(exp) + pol.leeway, now);
		if (r == 1)
			nx_err(err, errlen, "grant refused: already used (jti %s)", jti);
		else if (r < 0)
			nx_err(err, errlen, "grant refused: too many grants in flight");
		else {
			s->exp = json_integer_value(sexp);
			if (g->cfg.session_max_s > 0 && s->exp > now + g->cfg.session_max_s)
				s->exp = now + g->cfg.session_max_s;
			rc = 0;
		}
	}
	json_decref(claims);
	return rc;
}

char *gate_cookie_make(struct nx_gate *g, const char *host, const struct gate_session *s,
                       char *err, size_t errlen)
{
	char *tok = NULL;
	json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "typ", "nx-session", "aud",
	                      host, "sub", s->user, "dev", s->device, "sid", s->sid, "iat",
	                      (json_int_t)nx_unix_time(), "exp", (json_int_t)s->exp);
	if (!c || nx_jws_sign(g->session_key, NX_ALG_HS256, NULL, c, &tok, err, errlen) < 0)
		tok = NULL;
	json_decref(c);
	return tok;
}

int gate_cookie_check(struct nx_gate *g, const char *host, const char *v, size_t n,
                      struct gate_session *s, char *err, size_t errlen)
{
	static const char *const required[] = {"typ", "sub", "dev", "sid", "exp", NULL};
	json_t *claims = NULL;
	char e[NX_ERRLEN];
	struct nx_claims_policy pol = {.aud = host, .required = required};
	if (nx_jws_verify(g->session_key, v, n, NULL, &claims, e, sizeof e) < 0 ||
	    nx_claims_check(claims, &pol, e, sizeof e) < 0) {
		json_decref(claims);
		return nx_err(err, errlen, "session refused: %s", e);
	}
	int rc = 0;
	const char *typ = json_string_value(json_object_get(claims, "typ"));
	if (!typ || strcmp(typ, "nx-session") != 0 || session_of(claims, s) < 0)
		rc = nx_err(err, errlen, "session refused: malformed claims");
	json_decref(claims);
	return rc;
}
