/* api_session.c — the browser-session endpoints of the API (api.h, session.h). */
#include "bind/api_int.h"
#include "bind/session.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

static void reply(struct nx_api_resp *out, int status, json_t *v)
{
	free(out->body);
	out->body = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(v);
	if (!out->body)
		return nx_api_problem(out, 500, "out of memory");
	out->status = status;
	out->ctype = "application/json";
	out->len = strlen(out->body);
}

void nx_api_session(struct nx_api *api, const char *owner, const char *scope,
                    const char *device, struct nx_api_resp *out)
{
	char err[NX_ERRLEN];
	json_t *res = NULL;
	if (!api->grant_key || !api->session_host)
		return nx_api_problem(out, 501, "this server has no --grant-key and --host for "
		                                "browser sessions");
	struct nx_session_req r = {device, owner, scope, api->session_host, api->grant_key,
	                           NX_SESSION_GRANT_TTL_MAX, NX_SESSION_TTL_DEFAULT};
	int rc = nx_bind_session_new(api->b, &r, &res, err, sizeof err);
	if (rc < 0) {
		snprintf(out->note, sizeof out->note, "%s", err);
		return nx_api_problem(out, 500, "store failure");
	}
	if (rc == 0)
		return nx_api_problemf(out, 404, "no device %s", device);
	nx_api_add_header(out, "Cache-Control: no-store\r\n");
	reply(out, 201, res);
}

void nx_api_session_end(struct nx_api *api, const char *owner, const char *sid,
                        struct nx_api_resp *out)
{
	char err[NX_ERRLEN];
	api->b->only_owner = owner;
	int rc = nx_bind_session_end(api->b, sid, err, sizeof err);
	api->b->only_owner = NULL;
	if (rc < 0) {
		snprintf(out->note, sizeof out->note, "%s", err);
		return nx_api_problem(out, 500, "store failure");
	}
	if (rc == 0)
		return nx_api_problemf(out, 404, "no open session %s", sid);
	reply(out, 200, json_pack("{s:s, s:b}", "session", sid, "ended", 1));
}

void nx_api_revocations(struct nx_api *api, struct nx_api_resp *out)
{
	char err[NX_ERRLEN], *tok = NULL;
	if (!api->grant_key)
		return nx_api_problem(out, 501, "this server has no --grant-key for browser sessions");
	if (nx_session_revocations(api->b, api->grant_key, &tok, err, sizeof err) < 0) {
		snprintf(out->note, sizeof out->note, "%s", err);
		return nx_api_problem(out, 500, "store failure");
	}
	free(out->body);
	out->body = tok;
	out->len = strlen(tok);
	out->status = 200;
	out->ctype = "application/jwt";
	nx_api_add_header(out, "Cache-Control: no-store\r\n");
}
