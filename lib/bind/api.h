/* api.h — the gateway's JSON API (nexus-bind serve): one parsed HTTP request in, one
 * response out. Routing, authentication (our user tokens, API keys), a scope check on
 * every endpoint, per-token / per-key rate limits, problem+json errors (RFC 9457). The
 * transport (a connection on stdin/stdout, a listener) is serve.h.
 *
 *   GET    /v1/devices                   devices:read   my devices
 *   GET    /v1/devices/{id}              devices:read   one, with its latest state
 *   POST   /v1/devices/{id}/unbind       devices:write
 *   POST   /v1/devices/{id}/revoke       devices:write  deny-list its token ids, unbind
 *   POST   /v1/devices/{id}/session      sessions       a one-time URL to its web UI (session.h)
 *   POST   /v1/sessions/{id}/end         sessions       end a browser session
 *   POST   /v1/pairing-codes             pairing        {"scope","ttl"} → code + QR (SVG)
 *   POST   /v1/claim                     (the code)     {"code","device","pubkey"}
 *   GET    /v1/api-keys, POST, DELETE /v1/api-keys/{id}  keys
 *   GET    /v1/audit?since=UNIX          audit          records naming me
 *
 * Another owner's device answers 404, exactly like a device that does not exist. */
#ifndef NEXUS_BIND_API_H
#define NEXUS_BIND_API_H
#include <stddef.h>
#include <stdint.h>

#include "bind/bind.h"
#include "core/util.h"
#include "token/keys.h"
#include "wire/http_req.h"

#define NX_API_MAX_BODY_DEFAULT (16 * 1024)

struct nx_api {
	struct nx_bind *b;               /* key loaded (pairing codes, claims) */
	const struct nx_key *verify_key; /* for user tokens; NULL: API keys only */
	const char *iss, *aud;           /* required in user tokens when non-NULL */
	const char *deny_list;           /* revoked token ids: written by revoke, read for
	                                  * user tokens */
	const struct nx_key *grant_key;  /* signs session grants; NULL: sessions answer 501 */
	const char *session_host;        /* the device UI host, "{device}" replaced */
	long rate;                       /* requests per minute per token / key */
	size_t max_body;
	const char *origin;              /* the peer, for the audit trail */
	/* The last user token whose signature verified, and its claims: a keep-alive client
	 * sends the same token again and again, and ES256 costs far more than the rest of a
	 * request. The time claims and the deny-list are still checked on every request. */
	char *last_token;
	json_t *last_claims;
};

/* Free what the API keeps between requests (the verified-token cache). */
void nx_api_reset(struct nx_api *api);

struct nx_api_resp {
	int status;
	const char *ctype;  /* NULL when there is no body */
	char *body;         /* malloc'd */
	size_t len;
	char headers[512];  /* extra header lines, each ending in CRLF */
	char who[200];      /* the credential's owner/key, for the request log ("" if none) */
	char note[NX_ERRLEN]; /* a store failure's reason: for the operator's log only */
};

/* Answer one request; body is blen bytes (the caller has enforced max_body and framing
 * and answers those errors itself with nx_api_problem). Always fills out. */
void nx_api_handle(struct nx_api *api, const struct nx_http_req *req, const char *body,
                   size_t blen, struct nx_api_resp *out);

/* An application/problem+json response: {"type","title","status","detail"}. */
void nx_api_problem(struct nx_api_resp *out, int status, const char *detail);

void nx_api_resp_free(struct nx_api_resp *r);

#endif
