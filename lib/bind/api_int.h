/* api_int.h — what api.c (routing, bodies, handlers) and api_auth.c (credentials,
 * scopes, rate) share. Internal to lib/bind. */
#ifndef NEXUS_BIND_API_INT_H
#define NEXUS_BIND_API_INT_H
#include "bind/api.h"
#include "bind/ingest.h"

#define SCOPE_MAX 1024
#define RATE_WINDOW_S 60

struct principal {
	char owner[NX_DEVICE_ID_MAX + 1];
	char scope[SCOPE_MAX];
	char rate_key[200];  /* "tok:<jti or sub>" or "key:<id>" */
	char actor[200];     /* for the audit trail */
};

void nx_api_problemf(struct nx_api_resp *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void nx_api_add_header(struct nx_api_resp *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* 1 if the space-separated list holds want. */
int nx_api_has_scope(const char *list, const char *want);
/* 1 authenticated (who filled), 0 answered in out (401 / 500). */
int nx_api_authenticate(struct nx_api *api, const struct nx_http_req *req, struct principal *who,
                        struct nx_api_resp *out);
/* Count this request against the principal's window: 1 go on (RateLimit-* headers added),
 * 0 answered (429 / 500). */
int nx_api_rate_check(struct nx_api *api, const struct principal *who, struct nx_api_resp *out);

/* api_session.c: POST /v1/devices/{id}/session and /v1/sessions/{id}/end. */
void nx_api_session(struct nx_api *api, const char *owner, const char *scope,
                    const char *device, struct nx_api_resp *out);
/* GET /v1/revocations: no credential (it is signed and names only session ids). */
void nx_api_revocations(struct nx_api *api, struct nx_api_resp *out);
void nx_api_session_end(struct nx_api *api, const char *owner, const char *sid,
                        struct nx_api_resp *out);

#endif
