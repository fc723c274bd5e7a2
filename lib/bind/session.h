/* session.h — browser sessions to a device's own web UI (the gate in nexus-tunnel,
 * lib/gate). nexus-bind checks that the user owns the device (or holds the scope
 * "sessions:any"), records the session, and signs a one-time grant: an ES256 JWT
 *
 *   {"typ":"nx-grant","iss":"nexus-bind","sub":USER,"dev":DEVICE,"sid":SESSION,
 *    "aud":HOST,"jti":…,"iat":…,"exp":iat+≤60,"sexp":end of the session}
 *
 * carried in https://HOST/?nx=GRANT. The gate verifies it with the public half, consumes
 * the jti once and trades it for a session cookie that ends at sexp at the latest. */
#ifndef NEXUS_BIND_SESSION_H
#define NEXUS_BIND_SESSION_H
#include <jansson.h>
#include <stdint.h>

#include "bind/bind.h"
#include "token/keys.h"

#define NX_SESSION_GRANT_TTL_MAX 60         /* seconds a grant may live */
#define NX_SESSION_TTL_DEFAULT (15 * 60)    /* seconds a session lives */
#define NX_SESSION_SCOPE_ANY "sessions:any" /* any device, not only the user's own */

struct nx_session_req {
	const char *device;
	const char *user;          /* the verified user token's sub */
	const char *scope;         /* its scope ("" for none) */
	const char *host_tmpl;     /* the device's UI host; "{device}" is replaced */
	const struct nx_key *grant_key; /* ES256 private key */
	int64_t grant_ttl_s;       /* 1..NX_SESSION_GRANT_TTL_MAX */
	int64_t session_ttl_s;     /* > 0 */
};

/* The exact host for device: host_tmpl with "{device}" replaced, lower-cased, checked to
 * be a host name. -1 with err when it is not. */
int nx_session_host(const char *host_tmpl, const char *device, char *out, size_t n, char *err,
                    size_t errlen);

/* Record a session and sign its grant. 1 done: *out is {"url","session","device","user",
 * "host","grant_expires_at","expires_at"}; 0 no such device for this user (err says so);
 * -1 error. */
int nx_bind_session_new(struct nx_bind *b, const struct nx_session_req *r, json_t **out,
                        char *err, size_t errlen);

/* End a session early (the user's own, unless only_owner is NULL). 1 ended, 0 unknown. */
int nx_bind_session_end(struct nx_bind *b, const char *sid, char *err, size_t errlen);

/* The signed revocation list the gates fetch (GET /v1/revocations): an ES256 JWT with
 * the grant key, {"typ":"nx-revocations","iss":"nexus-bind","iat","exp":iat+120,
 * "revoked":[session ids]}: every session not yet expired that was ended, or whose device
 * was unbound or revoked. *token is malloc'd. 0 or -1 with err. */
#define NX_SESSION_REVOCATIONS_TTL 120
int nx_session_revocations(struct nx_bind *b, const struct nx_key *grant_key, char **token,
                           char *err, size_t errlen);

/* Verify a user token as nexus-bind serve does (signature, time claims, iss/aud when
 * given, deny-list; "sub" required) and copy its sub and scope. 0 or -1 with err. */
int nx_session_user_token(const struct nx_key *vk, const char *iss, const char *aud,
                          const char *deny_list, const char *tok, size_t len, char *user,
                          size_t ulen, char *scope, size_t slen, char *err, size_t errlen);

#endif
