/* jws.c — see jws.h. */
#include "token/jws.h"
#include "core/b64url.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

struct parts {
	const char *seg[3];
	size_t len[3];
};

static int split(const char *t, size_t len, struct parts *p, char *err, size_t errlen)
{
	if (len == 0)
		return nx_err(err, errlen, "empty token");
	if (len > NX_JWS_MAX)
		return nx_err(err, errlen, "token larger than %d bytes", NX_JWS_MAX);
	size_t dots = 0, start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && t[i] != '.')
			continue;
		if (dots < 3) {
			p->seg[dots] = t + start;
			p->len[dots] = i - start;
		}
		dots++;
		start = i + 1;
	}
	if (dots != 3)
		return nx_err(err, errlen, "wrong segment count: %zu (a compact JWS has 3)", dots);
	return 0;
}

/* A segment that must hold a JSON object. */
static json_t *segment_json(const char *what, const char *s, size_t n, char *err,
                            size_t errlen)
{
	unsigned char *raw = malloc(NX_B64URL_DECLEN(n) + 1);
	size_t rl;
	char e2[NX_ERRLEN];
	if (!raw) {
		nx_err(err, errlen, "out of memory");
		return NULL;
	}
	if (nx_b64url_decode(s, n, raw, NX_B64URL_DECLEN(n), &rl, e2, sizeof e2) < 0) {
		free(raw);
		nx_err(err, errlen, "%s: %s", what, e2);
		return NULL;
	}
	json_error_t je;
	json_t *j = json_loadb((const char *)raw, rl, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	free(raw);
	if (!j) {
		char safe[96];
		nx_err(err, errlen, "%s: bad JSON: %s", what,
		       nx_sanitize(safe, sizeof safe, je.text, strlen(je.text)));
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		nx_err(err, errlen, "%s: not a JSON object", what);
		return NULL;
	}
	return j;
}

static enum nx_alg header_alg(const json_t *hdr)
{
	return nx_alg_from_name(json_string_value(json_object_get(hdr, "alg")));
}

int nx_jws_decode(const char *token, size_t len, json_t **header, json_t **claims,
                  enum nx_alg *alg, char *err, size_t errlen)
{
	struct parts p;
	if (header)
		*header = NULL;
	if (claims)
		*claims = NULL;
	if (alg)
		*alg = NX_ALG_NONE;
	if (split(token, len, &p, err, errlen) < 0)
		return -1;
	json_t *h = segment_json("header", p.seg[0], p.len[0], err, errlen);
	if (!h)
		return -1;
	json_t *c = segment_json("payload", p.seg[1], p.len[1], err, errlen);
	if (!c) {
		json_decref(h);
		return -1;
	}
	unsigned char sig[NX_SIG_MAX];
	size_t sl;
	char e2[NX_ERRLEN];
	if (nx_b64url_decode(p.seg[2], p.len[2], sig, sizeof sig, &sl, e2, sizeof e2) < 0) {
		json_decref(h), json_decref(c);
		return nx_err(err, errlen, "signature: %s", e2);
	}
	if (alg)
		*alg = header_alg(h);
	if (header)
		*header = h;
	else
		json_decref(h);
	if (claims)
		*claims = c;
	else
		json_decref(c);
	return 0;
}

int nx_jws_verify(const struct nx_key *key, const char *token, size_t len, json_t **header,
                  json_t **claims, char *err, size_t errlen)
{
	struct parts p;
	if (header)
		*header = NULL;
	if (claims)
		*claims = NULL;
	if (split(token, len, &p, err, errlen) < 0)
		return -1;
	json_t *h = segment_json("header", p.seg[0], p.len[0], err, errlen);
	if (!h)
		return -1;
	const json_t *a = json_object_get(h, "alg");
	const char *an = json_string_value(a);
	enum nx_alg alg = header_alg(h);
	char safe[64], e2[NX_ERRLEN];
	int rc = -1;
	json_t *c = NULL;
	if (!an) {
		nx_err(err, errlen, "header has no \"alg\" string");
	} else if (strcmp(an, "none") == 0) {
		nx_err(err, errlen, "algorithm 'none' is not accepted");
	} else if (alg == NX_ALG_NONE) {
		nx_err(err, errlen, "unsupported algorithm '%s'", nx_sanitize(safe, sizeof safe, an, strlen(an)));
	} else if (json_object_get(h, "crit")) {
		nx_err(err, errlen, "header has \"crit\" extensions, none of which we understand");
	} else if (!(key = nx_key_select(key, json_string_value(json_object_get(h, "kid")), alg,
	                                 err, errlen))) {
		/* err says why */
	} else if (!nx_key_allows_alg(key, alg)) {
		nx_key_verify(key, alg, "", 0, NULL, 0, err, errlen); /* says why */
	} else {
		unsigned char sig[NX_SIG_MAX];
		size_t sl;
		if (nx_b64url_decode(p.seg[2], p.len[2], sig, sizeof sig, &sl, e2, sizeof e2) < 0)
			nx_err(err, errlen, "signature: %s", e2);
		else if (nx_key_verify(key, alg, token, p.len[0] + 1 + p.len[1], sig, sl, err,
		                       errlen) == 0 &&
		         (c = segment_json("payload", p.seg[1], p.len[1], err, errlen)) != NULL)
			rc = 0;
	}
	if (rc == 0 && header)
		*header = h;
	else
		json_decref(h);
	if (rc == 0 && claims)
		*claims = c;
	else
		json_decref(c);
	return rc;
}

int nx_jws_sign_raw(const struct nx_key *key, const char *header_json, const void *payload,
                    size_t payload_len, char **token, char *err, size_t errlen)
{
	*token = NULL;
	json_error_t je;
	json_t *h = json_loads(header_json, JSON_REJECT_DUPLICATES, &je);
	if (!h || !json_is_object(h)) {
		json_decref(h);
		return nx_err(err, errlen, "header is not a JSON object");
	}
	enum nx_alg alg = header_alg(h);
	json_decref(h);
	size_t hl = strlen(header_json);
	size_t need = NX_B64URL_ENCLEN(hl) + 1 + NX_B64URL_ENCLEN(payload_len) + 1 +
	              NX_B64URL_ENCLEN(NX_SIG_MAX) + 1;
	if (need > NX_JWS_MAX + NX_B64URL_ENCLEN(NX_SIG_MAX))
		return nx_err(err, errlen, "token would be larger than %d bytes", NX_JWS_MAX);
	char *t = malloc(need);
	if (!t)
		return nx_err(err, errlen, "out of memory");
	size_t o = nx_b64url_encode(t, header_json, hl);
	t[o++] = '.';
	o += nx_b64url_encode(t + o, payload, payload_len);
	unsigned char sig[NX_SIG_MAX];
	size_t sl;
	if (nx_key_sign(key, alg, t, o, sig, &sl, err, errlen) < 0) {
		free(t);
		return -1;
	}
	t[o++] = '.';
	o += nx_b64url_encode(t + o, sig, sl);
	if (o > NX_JWS_MAX) {
		free(t);
		return nx_err(err, errlen, "token would be larger than %d bytes", NX_JWS_MAX);
	}
	*token = t;
	return 0;
}

int nx_jws_sign(const struct nx_key *key, enum nx_alg alg, const json_t *header_extra,
                const json_t *claims, char **token, char *err, size_t errlen)
{
	*token = NULL;
	if (!json_is_object(claims))
		return nx_err(err, errlen, "claims must be a JSON object");
	if (alg == NX_ALG_NONE)
		alg = nx_key_default_alg(key);
	if (!nx_key_allows_alg(key, alg))
		return nx_key_sign(key, alg, "", 0, NULL, NULL, err, errlen); /* says why */
	json_t *h = json_pack("{s:s, s:s}", "alg", nx_alg_name(alg), "typ", "JWT");
	const char *k;
	json_t *v;
	if (h && header_extra)
		json_object_foreach((json_t *)header_extra, k, v)
			if (strcmp(k, "alg") != 0)
				json_object_set(h, k, v);
	char *hs = h ? json_dumps(h, JSON_COMPACT) : NULL;
	char *cs = json_dumps(claims, JSON_COMPACT);
	json_decref(h);
	int rc;
	if (!hs || !cs)
		rc = nx_err(err, errlen, "out of memory");
	else
		rc = nx_jws_sign_raw(key, hs, cs, strlen(cs), token, err, errlen);
	free(hs);
	free(cs);
	return rc;
}
