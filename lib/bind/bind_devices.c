/* bind_devices.c — bindings once made (bind.h): list, show, unbind, revoke, reissue, and
 * the audit trail; the helpers every bind file shares. */
#include "bind/bind.h"
#include "bind/bind_int.h"
#include "bind/ingest.h"
#include "token/denylist.h"
#include "core/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- shared helpers (bind_int.h) ------------------------------------------------------- */

void bind_i64(char buf[24], int64_t v) { snprintf(buf, 24, "%lld", (long long)v); }

int64_t bind_cell_i64(const struct nx_rows *r, int row, int col)
{
	const char *s = nx_rows_get(r, row, col);
	return s ? strtoll(s, NULL, 10) : 0;
}

int bind_q(struct nx_store *st, struct nx_rows *rows, char *err, size_t errlen, const char *sql,
                int n, ...)
{
	const char *p[8];
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < n && i < 8; i++)
		p[i] = va_arg(ap, const char *);
	va_end(ap);
	return nx_store_exec(st, sql, n, p, rows, err, errlen);
}

int bind_audit(struct nx_bind *b, int64_t at, const char *action, const char *device,
                    const char *owner, const char *detail, char *err, size_t errlen)
{
	char t[24];
	bind_i64(t, at);
	return bind_q(b->st, NULL, err, errlen,
	                   "INSERT INTO audit(at, actor, origin, action, device, owner, detail) "
	                   "VALUES($1, $2, $3, $4, $5, $6, $7)",
	                   7, t, b->actor ? b->actor : "?", b->origin ? b->origin : "?", action, device,
	                   owner, detail);
}

json_t *bind_binding_json(const char *device, const char *owner, const char *scope,
                               const char *jti, int64_t bound_ms)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:I}", "sub", device, "owner", owner, "scope",
	                 scope, "jti", jti, "bound_at", (json_int_t)(bound_ms / 1000));
}

/* ---- bindings -------------------------------------------------------------------------- */

int nx_bind_list(struct nx_bind *b, const char *owner, json_t **out, char *err, size_t errlen)
{
	struct nx_rows r;
	int n = bind_q(b->st, &r, err, errlen,
	               "SELECT b.device, b.owner, b.scope, b.bound_at, s.last_seen FROM bindings b "
	               "LEFT JOIN device_state s ON s.device = b.device "
	               "WHERE CAST($1 AS TEXT) IS NULL OR b.owner = CAST($1 AS TEXT) ORDER BY b.device",
	               1, owner);
	if (n < 0)
		return -1;
	json_t *a = json_array();
	for (int i = 0; a && i < r.nrows; i++) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "device", nx_rows_get(&r, i, 0), "owner",
		                      nx_rows_get(&r, i, 1), "scope", nx_rows_get(&r, i, 2),
		                      "bound_at", (json_int_t)(bind_cell_i64(&r, i, 3) / 1000));
		if (o && nx_rows_get(&r, i, 4))
			json_object_set_new(o, "last_seen", json_integer(bind_cell_i64(&r, i, 4) / 1000));
		json_array_append_new(a, o);
	}
	nx_rows_free(&r);
	if (!a)
		return nx_err(err, errlen, "out of memory");
	*out = a;
	return 0;
}

int nx_bind_show(struct nx_bind *b, const char *device, json_t **out, char *err, size_t errlen)
{
	struct nx_rows r;
	json_t *o = json_pack("{s:s}", "device", device);
	if (!o)
		return nx_err(err, errlen, "out of memory");
	int found = 0;
	if (bind_q(b->st, &r, err, errlen,
	           "SELECT owner, scope, jti, bound_at, pubkey FROM bindings WHERE device = $1", 1,
	           device) < 0)
		goto fail;
	json_object_set_new(o, "bound", json_boolean(r.nrows > 0));
	if (r.nrows) {
		found = 1;
		json_object_set_new(o, "owner", json_string(nx_rows_get(&r, 0, 0)));
		json_object_set_new(o, "scope", json_string(nx_rows_get(&r, 0, 1)));
		json_object_set_new(o, "jti", json_string(nx_rows_get(&r, 0, 2)));
		json_object_set_new(o, "bound_at", json_integer(bind_cell_i64(&r, 0, 3) / 1000));
		if (nx_rows_get(&r, 0, 4))
			json_object_set_new(o, "pubkey", json_string(nx_rows_get(&r, 0, 4)));
	}
	nx_rows_free(&r);
	if (bind_q(b->st, &r, err, errlen,
	           "SELECT jti, issued_at, revoked_at FROM tokens WHERE device = $1 ORDER BY issued_at",
	           1, device) < 0)
		goto fail;
	json_t *toks = json_array();
	for (int i = 0; i < r.nrows; i++) {
		found = 1;
		json_t *t = json_pack("{s:s, s:I}", "jti", nx_rows_get(&r, i, 0), "issued_at",
		                      (json_int_t)(bind_cell_i64(&r, i, 1) / 1000));
		if (t && nx_rows_get(&r, i, 2))
			json_object_set_new(t, "revoked_at", json_integer(bind_cell_i64(&r, i, 2) / 1000));
		json_array_append_new(toks, t);
	}
	json_object_set_new(o, "tokens", toks);
	nx_rows_free(&r);
	if (bind_q(b->st, &r, err, errlen, "SELECT state, last_seen FROM device_state WHERE device = $1",
	           1, device) < 0)
		goto fail;
	if (r.nrows) {
		found = 1;
		json_t *state = json_loads(nx_rows_get(&r, 0, 0), 0, NULL);
		json_object_set_new(o, "state", state ? state : json_string(nx_rows_get(&r, 0, 0)));
		json_object_set_new(o, "last_seen", json_integer(bind_cell_i64(&r, 0, 1) / 1000));
	}
	nx_rows_free(&r);
	if (!found) {
		json_decref(o);
		return 0;
	}
	*out = o;
	return 1;
fail:
	json_decref(o);
	return -1;
}

int nx_bind_unbind(struct nx_bind *b, const char *device, char *err, size_t errlen)
{
	struct nx_rows r;
	if (nx_store_begin(b->st, err, errlen) < 0)
		return -1;
	int n = bind_q(b->st, &r, err, errlen,
	               "DELETE FROM bindings WHERE device = $1 "
	               "AND (CAST($2 AS TEXT) IS NULL OR owner = CAST($2 AS TEXT)) RETURNING owner",
	               2, device, b->only_owner);
	if (n < 0)
		goto fail;
	if (n == 0) {
		nx_store_rollback(b->st);
		return 0;
	}
	int rc = nx_bind_sessions_end_all(b, device, nx_unix_ms(), err, errlen) < 0
	             ? -1
	             : bind_audit(b, nx_unix_ms(), "unbind", device, nx_rows_get(&r, 0, 0), NULL, err, errlen);
	nx_rows_free(&r);
	if (rc < 0 || nx_store_commit(b->st, err, errlen) < 0)
		goto fail;
	return 1;
fail:
	nx_store_rollback(b->st);
	return -1;
}

int nx_bind_revoke(struct nx_bind *b, const char *device, const char *denylist, json_t **jtis,
                   char *err, size_t errlen)
{
	struct nx_rows r = {0}, ro = {0};
	int64_t now = nx_unix_ms();
	char tnow[24];
	bind_i64(tnow, now);
	if (nx_store_begin(b->st, err, errlen) < 0)
		return -1;
	if (bind_q(b->st, &r, err, errlen,
	           "SELECT jti FROM tokens WHERE device = $1 AND revoked_at IS NULL", 1, device) < 0 ||
	    bind_q(b->st, &ro, err, errlen, "SELECT owner FROM bindings WHERE device = $1", 1, device) < 0)
		goto fail;
	/* Acting for an owner: a device that is not bound to them is not theirs to revoke. */
	if ((r.nrows == 0 && ro.nrows == 0) ||
	    (b->only_owner && (ro.nrows == 0 || strcmp(nx_rows_get(&ro, 0, 0), b->only_owner) != 0))) {
		nx_rows_free(&r);
		nx_rows_free(&ro);
		nx_store_rollback(b->st);
		return 0;
	}
	json_t *a = json_array();
	/* Deny-list first, database second: killed in between, the tokens are already
	 * refused and a second revoke finishes the job. */
	for (int i = 0; i < r.nrows; i++) {
		char note[NX_DEVICE_ID_MAX + 32];
		snprintf(note, sizeof note, "device=%s", device);
		if (nx_denylist_add(denylist, nx_rows_get(&r, i, 0), note, err, errlen) < 0) {
			json_decref(a);
			goto fail;
		}
		json_array_append_new(a, json_string(nx_rows_get(&r, i, 0)));
	}
	if (bind_q(b->st, NULL, err, errlen,
	           "UPDATE tokens SET revoked_at = $2 WHERE device = $1 AND revoked_at IS NULL", 2,
	           device, tnow) < 0 ||
	    bind_q(b->st, NULL, err, errlen, "DELETE FROM bindings WHERE device = $1", 1, device) < 0 ||
	    nx_bind_sessions_end_all(b, device, now, err, errlen) < 0 ||
	    bind_audit(b, now, "revoke", device, nx_rows_get(&ro, 0, 0), NULL, err, errlen) < 0 ||
	    nx_store_commit(b->st, err, errlen) < 0) {
		json_decref(a);
		goto fail;
	}
	nx_rows_free(&r);
	nx_rows_free(&ro);
	*jtis = a;
	return 1;
fail:
	nx_rows_free(&r);
	nx_rows_free(&ro);
	nx_store_rollback(b->st);
	return -1;
}

int nx_bind_reissue(struct nx_bind *b, const char *device, const char *jti, json_t **binding,
                    char *err, size_t errlen)
{
	struct nx_rows r;
	int64_t now = nx_unix_ms();
	char tnow[24], fresh[NX_PAIR_JTI_LEN + 1];
	bind_i64(tnow, now);
	if (!jti) {
		if (nx_pair_jti_new(fresh, err, errlen) < 0)
			return -1;
		jti = fresh;
	}
	if (nx_store_begin(b->st, err, errlen) < 0)
		return -1;
	int n = bind_q(b->st, &r, err, errlen,
	               "UPDATE bindings SET jti = $2 WHERE device = $1 RETURNING owner, scope", 2, device,
	               jti);
	if (n < 0)
		goto fail;
	if (n == 0) {
		nx_store_rollback(b->st);
		return 0;
	}
	int rc = bind_q(b->st, NULL, err, errlen,
	                "INSERT INTO tokens(jti, device, issued_at) VALUES($1, $2, $3)", 3, jti, device,
	                tnow);
	if (rc == NX_STORE_CONFLICT)
		nx_err(err, errlen, "token id %s is already recorded", jti);
	if (rc < 0 || bind_audit(b, now, "reissue", device, nx_rows_get(&r, 0, 0), jti, err, errlen) < 0 ||
	    nx_store_commit(b->st, err, errlen) < 0) {
		nx_rows_free(&r);
		goto fail;
	}
	*binding = bind_binding_json(device, nx_rows_get(&r, 0, 0), nx_rows_get(&r, 0, 1), jti, now);
	nx_rows_free(&r);
	return 1;
fail:
	nx_store_rollback(b->st);
	return -1;
}

/* Rows of (at, actor, origin, action, device, owner, detail) as a JSON array; frees r. */
static int audit_rows(struct nx_rows *r, json_t **out, char *err, size_t errlen)
{
	static const char *const names[] = {NULL,     "actor", "origin", "action",
	                                    "device", "owner", "detail"};
	json_t *a = json_array();
	for (int i = 0; a && i < r->nrows; i++) {
		json_t *o = json_pack("{s:f}", "at", (double)bind_cell_i64(r, i, 0) / 1000.0);
		for (int c = 1; o && c < 7; c++)
			if (nx_rows_get(r, i, c))
				json_object_set_new(o, names[c], json_string(nx_rows_get(r, i, c)));
		json_array_append_new(a, o);
	}
	nx_rows_free(r);
	if (!a)
		return nx_err(err, errlen, "out of memory");
	*out = a;
	return 0;
}

int nx_bind_audit(struct nx_bind *b, int64_t since_ms, json_t **out, char *err, size_t errlen)
{
	struct nx_rows r;
	char since[24];
	bind_i64(since, since_ms);
	if (bind_q(b->st, &r, err, errlen,
	           "SELECT at, actor, origin, action, device, owner, detail FROM audit "
	           "WHERE at >= $1 ORDER BY id",
	           1, since) < 0)
		return -1;
	return audit_rows(&r, out, err, errlen);
}

int nx_bind_audit_add(struct nx_bind *b, const char *action, const char *device,
                      const char *owner, const char *detail, char *err, size_t errlen)
{
	return bind_audit(b, nx_unix_ms(), action, device, owner, detail, err, errlen);
}

int nx_bind_audit_of(struct nx_bind *b, const char *owner, int64_t since_ms, int limit,
                     json_t **out, char *err, size_t errlen)
{
	struct nx_rows r;
	char since[24], lim[24];
	bind_i64(since, since_ms);
	bind_i64(lim, limit);
	if (bind_q(b->st, &r, err, errlen,
	           "SELECT at, actor, origin, action, device, owner, detail FROM ("
	           "SELECT id, at, actor, origin, action, device, owner, detail FROM audit "
	           "WHERE owner = $1 AND at >= $2 ORDER BY id DESC LIMIT CAST($3 AS INTEGER)) t ORDER BY id",
	           3, owner, since, lim) < 0)
		return -1;
	return audit_rows(&r, out, err, errlen);
}
