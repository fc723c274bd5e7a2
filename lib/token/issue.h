/* issue.h — the claims of a token to issue, built from what a user asked for: a base
 * object (--claims FILE), route claims, registered claims with their defaults, extra
 * NAME=JSON claims. nexus-token issue is a thin shell over this; other issuers (login,
 * bind) can build the same way. */
#ifndef NEXUS_ISSUE_H
#define NEXUS_ISSUE_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define NX_ISSUE_MAX_LIST 64

struct nx_issue_req {
	const char *sub, *iss, *kid;
	const char *jti;         /* "auto" (a UUIDv4), "none", an id; NULL: auto unless the base
	                            object has one */
	const char *claims_file; /* base object: a JSON file or "-" (stdin); NULL: {} */
	const char *aud[NX_ISSUE_MAX_LIST], *scope[NX_ISSUE_MAX_LIST], *claim[NX_ISSUE_MAX_LIST];
	int naud, nscope, nclaim;
	uint64_t ttl_ms, nbf_ms;
	int ttl_set, nbf_set;
	int backend;    /* a Nexus Proxy backend token: its defaults and NEXUS_* environment */
	json_t *routes; /* hostnames, tcp_ports, udp_routes, weight from flags (owned by caller) */
};

/* Append to one of the request's lists; -1 with "too many ..." when full. */
int nx_issue_push(const char **list, int *n, const char *v, const char *what, char *err,
                  size_t errlen);
/* Check a --claim NAME=JSON before it is pushed: a name, an '=', a JSON value. */
int nx_issue_claim_ok(const char *spec, char *err, size_t errlen);
/* Fill in what the caller left unset: iss "authorizer", aud ["nexus"], a 30 s lifetime for
 * a backend token; a 1 h lifetime otherwise. */
void nx_issue_defaults(struct nx_issue_req *r);
/* The claims object, iat = now; NULL with the reason in err. getenv_fn reads the backend
 * environment (getenv, or a stand-in for tests). */
json_t *nx_issue_claims(const struct nx_issue_req *r, int64_t now,
                        char *(*getenv_fn)(const char *), char *err, size_t errlen);

#endif
