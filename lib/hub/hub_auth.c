/* hub_auth.c — a backend session's authentication (shared/protocol.md §2): the stage
 * deadlines, the challenges, re-auth on the stage-1 token's interval, and each token's
 * checks: signature and algorithm (jws.h), iss/aud/exp/nbf/iat (claims.h), then the route
 * claims (route_claims.h): stage 0 must claim something the hub allows, stage 1 and re-auth
 * must carry the challenge nonce and stage 0's routes and weight. */
#include "hub/hub_int.h"
#include "token/claims.h"
#include "token/jws.h"
#include "core/random.h"
#include "core/util.h"

#include <string.h>

const char *hub_auth_stage_name(int stage)
{
	return stage == 0 ? "stage0" : stage == 1 ? "stage1" : "reauth";
}

/* A verified token's claims for `stage`: times and deny list (iss/aud too unless a remote
 * verifier vouched for them), the route claims, be's grant. -1 with why. */
static int check_claims(struct hub_session *s, int stage, const json_t *claims,
                        const struct nx_backend *be, int remote, char *why, size_t whylen)
{
	struct nx_hub *hub = s->hub;
	struct nx_route_claims c = {0};
	int rc = -1;
	if (nx_route_claims_parse(claims, &c, why, whylen) < 0)
		goto out;
	struct nx_claims_policy pol = {
	    .iss = remote ? NULL : "authorizer",
	    .aud = remote ? NULL : "nexus",
	    .leeway = hub->cfg.leeway_s,
	    .max_age = stage == 0 && c.handshake_max_age_s > 0 ? c.handshake_max_age_s : 0,
	    /* A backend whose clock runs a few seconds ahead must not be refused for its iat
	     * (a Nexus Proxy server accepts it), but an iat far ahead would make a stage 0
	     * token replayable past handshake_max_age_seconds: bound it. */
	    .iat_skew = NX_HUB_IAT_SKEW_S,
	    .deny_list = hub->cfg.deny_list,
	};
	if (nx_claims_check(claims, &pol, why, whylen) < 0)
		goto out;
	if (be && hub_backends_grant(s, stage, be, &c, why, whylen) < 0)
		goto out;
	if (stage == 0) {
		struct nx_route_policy bp = {hub->cfg.allow_tcp_ports, hub->cfg.n_allow_tcp_ports,
		                             hub->cfg.allow_udp_ports, hub->cfg.n_allow_udp_ports};
		if (be) /* its grant's ports replace --allow-tcp-port / --allow-udp-port */
			bp = (struct nx_route_policy){be->tcp, be->n_tcp, be->udp, be->n_udp};
		if (be && hub_backends_assign(s, be, &c, why, whylen) < 0)
			goto out;
		if (nx_route_claims_check_stage0(&c, &bp, why, whylen) < 0)
			goto out;
		nx_route_claims_free(&s->claims);
		s->claims = c;
		s->has_claims = 1;
		memset(&c, 0, sizeof c);
		rc = 0;
		goto out;
	}
	if (nx_route_claims_check_followup(&s->claims, &c, s->nonce, why, whylen) < 0)
		goto out;
	/* The identity is stage 0's; how often to re-authenticate comes from the latest token. */
	s->claims.reauth_interval_s = c.reauth_interval_s;
	s->claims.reauth_grace_s = c.reauth_grace_s;
	if (stage == 1) {
		s->half_close = c.has_half_close;
		s->initial_window = c.has_initial_window;
	}
	rc = 0;
out:
	nx_route_claims_free(&c);
	return rc;
}

int hub_auth_token(struct hub_session *s, int stage, const char *token, size_t len, char *err,
                   size_t errlen)
{
	json_t *claims = NULL;
	char why[NX_ERRLEN];
	int rc = -1;
	while (len && (token[len - 1] == '\n' || token[len - 1] == '\r' || token[len - 1] == ' '))
		len--;
	const struct nx_key *key;
	const struct nx_backend *be; /* --backends: the key the kid names, and its grant */
	if (hub_backends_pick(s, stage, token, len, &key, &be, why, sizeof why) == 0 &&
	    nx_jws_verify(key, token, len, NULL, &claims, why, sizeof why) == 0)
		rc = check_claims(s, stage, claims, be, 0, why, sizeof why);
	if (rc < 0)
		nx_err(err, errlen, "%s token validation failed: %s", hub_auth_stage_name(stage), why);
	json_decref(claims);
	return rc;
}

int hub_auth_claims(struct hub_session *s, int stage, const json_t *claims, char *err,
                    size_t errlen)
{
	char why[NX_ERRLEN];
	if (check_claims(s, stage, claims, NULL, 1, why, sizeof why) == 0)
		return 0;
	return nx_err(err, errlen, "%s token validation failed: %s", hub_auth_stage_name(stage), why);
}

/* ---- the session's auth state machine ----------------------------------------------- */

void hub_auth_deadline(struct nx_loop *loop, void *arg)
{
	struct hub_session *s = arg;
	if (s->state != SESS_CLOSING)
		hub_hs_failed(s, HS_TIMEOUT);
	switch (s->state) {
	case SESS_TLS:
	case SESS_UPGRADE:
		hub_session_kill(s, "no upgrade in time");
		break;
	case SESS_AUTH0:
		hub_session_fail(s, NX_WS_CLOSE_POLICY, s->verify ? "stage0 token not verified in time"
		                                                  : "stage0 token not received in time");
		break;
	case SESS_AUTH1:
		hub_session_fail(s, NX_WS_CLOSE_POLICY, s->verify ? "stage1 token not verified in time"
		                                                  : "stage1 token not received in time");
		break;
	case SESS_LIVE:
		if (s->reauth_pending)
			hub_session_fail(s, NX_WS_CLOSE_POLICY, s->verify ? "reauth token not verified in time"
			                                                  : "reauth token not received in time");
		break;
	case SESS_CLOSING:
		hub_session_kill(s, NULL);
		break;
	}
}

static int send_challenge(struct hub_session *s, enum nx_hub_challenge_type type)
{
	char err[NX_ERRLEN], text[512];
	if (nx_random_nonce(s->nonce, err, sizeof err) < 0) {
		hub_session_fail(s, NX_WS_CLOSE_INTERNAL, "no randomness for a nonce");
		return -1;
	}
	/* §6: offered, never assumed; a Nexus Proxy backend ignores the field. */
	static const char *const ext[] = {NX_HUB_EXT_HALF_CLOSE, NX_HUB_EXT_INITIAL_WINDOW, NULL};
	int n = nx_hub_challenge_encode(type, s->nonce, type == NX_HUB_CHALLENGE_HANDSHAKE ? ext : NULL,
	                                text, sizeof text);
	if (type == NX_HUB_CHALLENGE_HANDSHAKE)
		n = hub_backends_challenge(s, text, sizeof text, n); /* a quick start's name */
	if (n < 0)
		return -1;
	return hub_session_send(s, NX_WS_OP_TEXT, text, (size_t)n, NULL, 0);
}

static void reauth_tick(struct nx_loop *loop, void *arg)
{
	struct hub_session *s = arg;
	if (s->dead || s->state != SESS_LIVE)
		return;
	if (send_challenge(s, NX_HUB_CHALLENGE_REAUTH) < 0)
		return;
	s->reauth_pending = 1;
	nx_timer_start(loop, &s->auth_timer, (uint64_t)s->claims.reauth_grace_s * 1000, hub_auth_deadline, s);
	hub_session_flush(s);
}

static void schedule_reauth(struct hub_session *s)
{
	if (s->claims.reauth_interval_s <= 0)
		return;
	uint64_t ms = (uint64_t)s->claims.reauth_interval_s * 1000;
	unsigned char r = 0;
	nx_random_bytes(&r, 1, NULL, 0);
	ms += ms / 5 * r / 255; /* + 0–20 % jitter so backends do not re-auth in lockstep */
	nx_timer_start(s->hub->loop, &s->reauth_timer, ms, reauth_tick, s);
}

/* ---- authentication -------------------------------------------------------------------- */

void hub_auth_live(struct hub_session *s)
{
	struct nx_hub *hub = s->hub;
	char why[NX_ERRLEN];
	hub_session_unpend(s);
	nx_timer_stop(hub->loop, &s->auth_timer);
	if (hub_register_routes(hub, s, why, sizeof why) < 0) {
		hub_session_fail(s, NX_WS_CLOSE_POLICY, why);
		return;
	}
	s->state = SESS_LIVE;
	hub->n_live++;
	hub_session_start_keepalive(s);
	schedule_reauth(s);
}

void hub_auth_verdict(struct hub_session *s, int stage, int rc, const char *err)
{
	if (rc < 0) {
		hub_session_fail(s, NX_WS_CLOSE_POLICY, err);
		return;
	}
	switch (stage) {
	case 0:
		if (send_challenge(s, NX_HUB_CHALLENGE_HANDSHAKE) < 0)
			return;
		s->state = SESS_AUTH1;
		nx_timer_start(s->hub->loop, &s->auth_timer, s->hub->cfg.auth_timeout_ms, hub_auth_deadline, s);
		return;
	case 1: /* live here, or on a worker once the main loop has handed it over */
		if (hub_sessions_admit(s) < 0)
			return; /* refused: too many sessions (in all, or of its name) */
		if (!hub_worker_move(s))
			hub_auth_live(s);
		return;
	default:
		s->reauth_pending = 0;
		nx_timer_stop(s->hub->loop, &s->auth_timer);
		schedule_reauth(s);
		return;
	}
}

void hub_auth_on_text(struct hub_session *s, const uint8_t *data, size_t len)
{
	char err[NX_ERRLEN];
	int stage = s->state == SESS_AUTH0                      ? 0
	            : s->state == SESS_AUTH1                    ? 1
	            : s->state == SESS_LIVE && s->reauth_pending ? 2
	                                                        : -1;
	if (stage < 0 || s->verify)
		return; /* text nobody asked for (or while the verifier decides) is ignored */
	int r = hub_verify_start(s, stage, (const char *)data, len, err, sizeof err);
	if (r > 0)
		return; /* the verdict comes from the verifier */
	if (r == 0)
		r = hub_auth_token(s, stage, (const char *)data, len, err, sizeof err);
	hub_auth_verdict(s, stage, r, err);
}
