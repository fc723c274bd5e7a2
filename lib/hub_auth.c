/* hub_auth.c — a backend token for one auth stage (shared/protocol.md §2): signature and
 * algorithm (jws.h), iss/aud/exp/nbf/iat (claims.h), then the route claims
 * (route_claims.h): stage 0 must claim something the hub allows, stage 1 and re-auth must
 * carry the challenge nonce and stage 0's routes and weight. */
#include "hub_int.h"
#include "claims.h"
#include "jws.h"
#include "util.h"

#include <string.h>

static const char *stage_name(int stage)
{
	return stage == 0 ? "stage0" : stage == 1 ? "stage1" : "reauth";
}

int hub_auth_token(struct hub_session *s, int stage, const char *token, size_t len, char *err,
                   size_t errlen)
{
	struct nx_hub *hub = s->hub;
	json_t *claims = NULL;
	struct nx_route_claims c = {0};
	char why[NX_ERRLEN];
	int rc = -1;
	while (len && (token[len - 1] == '\n' || token[len - 1] == '\r' || token[len - 1] == ' '))
		len--;
	if (nx_jws_verify(hub->key, token, len, NULL, &claims, why, sizeof why) < 0)
		goto out;
	if (nx_route_claims_parse(claims, &c, why, sizeof why) < 0)
		goto out;
	struct nx_claims_policy pol = {
	    .iss = "authorizer",
	    .aud = "nexus",
	    .leeway = hub->cfg.leeway_s,
	    .max_age = stage == 0 && c.handshake_max_age_s > 0 ? c.handshake_max_age_s : 0,
	};
	if (nx_claims_check(claims, &pol, why, sizeof why) < 0)
		goto out;
	if (stage == 0) {
		struct nx_route_policy bp = {hub->cfg.allow_tcp_ports, hub->cfg.n_allow_tcp_ports};
		if (nx_route_claims_check_stage0(&c, &bp, why, sizeof why) < 0)
			goto out;
		nx_route_claims_free(&s->claims);
		s->claims = c;
		s->has_claims = 1;
		memset(&c, 0, sizeof c);
		rc = 0;
		goto out;
	}
	if (nx_route_claims_check_followup(&s->claims, &c, s->nonce, why, sizeof why) < 0)
		goto out;
	/* The identity is stage 0's; how often to re-authenticate comes from the latest token. */
	s->claims.reauth_interval_s = c.reauth_interval_s;
	s->claims.reauth_grace_s = c.reauth_grace_s;
	if (stage == 1)
		s->half_close = c.has_half_close;
	rc = 0;
out:
	if (rc < 0)
		nx_err(err, errlen, "%s token validation failed: %s", stage_name(stage), why);
	nx_route_claims_free(&c);
	json_decref(claims);
	return rc;
}
