/* claims.c — see claims.h. */
#include "token/claims.h"
#include "token/denylist.h"
#include "core/util.h"

#include <string.h>

/* -1: absent, 0: present and a number (in *v), 1: present but not a number. */
static int numeric_date(const json_t *claims, const char *name, double *v)
{
	const json_t *j = json_object_get(claims, name);
	if (!j)
		return -1;
	if (!json_is_number(j))
		return 1;
	*v = json_number_value(j);
	return 0;
}

static int audience_has(const json_t *aud, const char *want)
{
	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	size_t i;
	const json_t *v;
	if (json_is_array(aud))
		json_array_foreach(aud, i, v)
			if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
				return 1;
	return 0;
}

int nx_claims_check(const json_t *claims, const struct nx_claims_policy *p, char *err,
                    size_t errlen)
{
	static const struct nx_claims_policy none;
	if (!p)
		p = &none;
	if (!json_is_object(claims))
		return nx_err(err, errlen, "claims are not a JSON object");
	double now = (double)(p->now ? p->now : nx_unix_time());
	double leeway = (double)(p->leeway > 0 ? p->leeway : 0), v;
	char safe[96];

	int r = numeric_date(claims, "exp", &v);
	if (r == 1)
		return nx_err(err, errlen, "claim 'exp' is not a number");
	if (r == 0 && now >= v + leeway)
		return nx_err(err, errlen, "token expired");
	r = numeric_date(claims, "nbf", &v);
	if (r == 1)
		return nx_err(err, errlen, "claim 'nbf' is not a number");
	if (r == 0 && now < v - leeway)
		return nx_err(err, errlen, "token not yet valid (nbf is in the future)");
	r = numeric_date(claims, "iat", &v);
	if (r == 1)
		return nx_err(err, errlen, "claim 'iat' is not a number");
	double skew = (double)(p->iat_skew > 0 ? p->iat_skew : 0);
	if (r == 0 && v > now + leeway + skew)
		return nx_err(err, errlen, "token issued in the future (iat)");
	if (p->max_age > 0) {
		if (r != 0)
			return nx_err(err, errlen, "token has no 'iat' but a maximum age applies");
		if (now - v > (double)p->max_age + leeway)
			return nx_err(err, errlen, "token too old (issued more than %lld s ago)",
			              (long long)p->max_age);
	}

	if (p->iss) {
		const json_t *iss = json_object_get(claims, "iss");
		if (!iss)
			return nx_err(err, errlen, "token has no issuer (iss), expected '%s'", p->iss);
		const char *s = json_string_value(iss);
		if (!s || strcmp(s, p->iss) != 0)
			return nx_err(err, errlen, "wrong issuer '%s' (expected '%s')",
			              s ? nx_sanitize(safe, sizeof safe, s, strlen(s)) : "(not a string)",
			              p->iss);
	}
	if (p->aud) {
		const json_t *aud = json_object_get(claims, "aud");
		if (!aud)
			return nx_err(err, errlen, "token has no audience (aud), expected '%s'", p->aud);
		if (!audience_has(aud, p->aud))
			return nx_err(err, errlen, "wrong audience (expected '%s')", p->aud);
	}
	for (const char *const *q = p->required; q && *q; q++)
		if (!json_object_get(claims, *q))
			return nx_err(err, errlen, "missing required claim '%s'", *q);

	const json_t *jti = json_object_get(claims, "jti");
	if (jti && !json_is_string(jti))
		return nx_err(err, errlen, "claim 'jti' is not a string");
	if (p->deny_list && jti) {
		char e2[NX_ERRLEN];
		const char *id = json_string_value(jti);
		int listed = nx_denylist_contains(p->deny_list, id, e2, sizeof e2);
		if (listed < 0)
			return nx_err(err, errlen, "deny-list: %s", e2);
		if (listed)
			return nx_err(err, errlen, "token revoked (jti '%s')",
			              nx_sanitize(safe, sizeof safe, id, strlen(id)));
	}
	return 0;
}
