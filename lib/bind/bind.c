/* bind.c — see bind.h. Every statement is written once and runs on both backends; only
 * the DDL differs (an auto-increment key, the migration lock). */
#include "bind/bind.h"
#include "token/denylist.h"
#include "bind/ingest.h"
#include "core/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCHEMA_VERSION 3
#define RATE_WINDOW_MS 60000

static const char schema_v1[] =
    "CREATE TABLE IF NOT EXISTS codes ("
    " hash TEXT PRIMARY KEY, selector TEXT NOT NULL, owner TEXT NOT NULL,"
    " scope TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,"
    " failures INTEGER NOT NULL DEFAULT 0, used_at BIGINT, device TEXT);"
    "CREATE INDEX IF NOT EXISTS codes_selector ON codes(selector);"
    "CREATE TABLE IF NOT EXISTS bindings ("
    " device TEXT PRIMARY KEY, owner TEXT NOT NULL, scope TEXT NOT NULL, pubkey TEXT,"
    " jti TEXT NOT NULL, bound_at BIGINT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS bindings_owner ON bindings(owner);"
    "CREATE TABLE IF NOT EXISTS tokens ("
    " jti TEXT PRIMARY KEY, device TEXT NOT NULL, issued_at BIGINT NOT NULL,"
    " revoked_at BIGINT);"
    "CREATE INDEX IF NOT EXISTS tokens_device ON tokens(device);"
    "CREATE TABLE IF NOT EXISTS device_state ("
    " device TEXT PRIMARY KEY, state TEXT NOT NULL, last_seen BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS rate ("
    " name TEXT PRIMARY KEY, window_start BIGINT NOT NULL, count INTEGER NOT NULL);";

/* v2: API keys of nexus-bind serve. Only a hash of the secret part is kept. */
static const char schema_v2[] =
    "CREATE TABLE IF NOT EXISTS api_keys ("
    " id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL, scope TEXT NOT NULL,"
    " hash TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT, revoked_at BIGINT);"
    "CREATE INDEX IF NOT EXISTS api_keys_owner ON api_keys(owner)";

/* v3: browser sessions (session.h): what the gate is told to honour, and when it ended. */
static const char schema_v3[] =
    "CREATE TABLE IF NOT EXISTS sessions ("
    " id TEXT PRIMARY KEY, device TEXT NOT NULL, owner TEXT NOT NULL, usr TEXT NOT NULL,"
    " host TEXT NOT NULL,"
    " grant_jti TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,"
    " ended_at BIGINT);"
    "CREATE INDEX IF NOT EXISTS sessions_device ON sessions(device)";

static const char audit_sqlite[] =
    "CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " at BIGINT NOT NULL, actor TEXT NOT NULL, origin TEXT NOT NULL, action TEXT NOT NULL,"
    " device TEXT, owner TEXT, detail TEXT)";
static const char audit_pg[] =
    "CREATE TABLE IF NOT EXISTS audit (id BIGSERIAL PRIMARY KEY,"
    " at BIGINT NOT NULL, actor TEXT NOT NULL, origin TEXT NOT NULL, action TEXT NOT NULL,"
    " device TEXT, owner TEXT, detail TEXT)";

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void i64(char buf[24], int64_t v) { snprintf(buf, 24, "%lld", (long long)v); }

static int64_t cell_i64(const struct nx_rows *r, int row, int col)
{
	const char *s = nx_rows_get(r, row, col);
	return s ? strtoll(s, NULL, 10) : 0;
}

/* q(st, rows, err, errlen, sql, n, p1, ..., pn): nx_store_exec with params inline. */
static int q(struct nx_store *st, struct nx_rows *rows, char *err, size_t errlen,
             const char *sql, int n, ...)
{
	const char *p[8];
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < n && i < 8; i++)
		p[i] = va_arg(ap, const char *);
	va_end(ap);
	return nx_store_exec(st, sql, n, p, rows, err, errlen);
}

int nx_bind_migrate(struct nx_store *st, char *err, size_t errlen)
{
	int pg = nx_store_kind(st) == NX_STORE_PG;
	struct nx_rows r;
	if (nx_store_begin(st, err, errlen) < 0)
		return -1;
	/* PostgreSQL: several first runs at once must not interleave their DDL. */
	if (pg && nx_store_script(st, "SELECT pg_advisory_xact_lock(7242914)", err, errlen) < 0)
		goto fail;
	if (nx_store_script(st, "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
	                    err, errlen) < 0)
		goto fail;
	if (q(st, &r, err, errlen, "SELECT v FROM meta WHERE k = 'schema'", 0) < 0)
		goto fail;
	long have = r.nrows ? strtol(nx_rows_get(&r, 0, 0), NULL, 10) : 0;
	nx_rows_free(&r);
	if (have > SCHEMA_VERSION) {
		nx_err(err, errlen, "database schema %ld is newer than this nexus-bind (%d)", have,
		       SCHEMA_VERSION);
		goto fail;
	}
	if (have < 1) {
		if (nx_store_script(st, schema_v1, err, errlen) < 0 ||
		    nx_store_script(st, pg ? audit_pg : audit_sqlite, err, errlen) < 0)
			goto fail;
	}
	if (have < 2) {
		if (nx_store_script(st, schema_v2, err, errlen) < 0 ||
		    q(st, NULL, err, errlen,
		      "INSERT INTO meta(k, v) VALUES('schema', '2') "
		      "ON CONFLICT(k) DO UPDATE SET v = excluded.v", 0) < 0)
			goto fail;
	}
	if (have < 3) {
		if (nx_store_script(st, schema_v3, err, errlen) < 0 ||
		    q(st, NULL, err, errlen,
		      "INSERT INTO meta(k, v) VALUES('schema', '3') "
		      "ON CONFLICT(k) DO UPDATE SET v = excluded.v", 0) < 0)
			goto fail;
	}
	return nx_store_commit(st, err, errlen);
fail:
	nx_store_rollback(st);
	return -1;
}

int nx_bind_key_check(struct nx_bind *b, char *err, size_t errlen)
{
	char check[NX_PAIR_HASH_HEX];
	struct nx_rows r;
	/* "key-check" can never be a canonical code (lower case, a dash). */
	nx_pair_code_hash(b->key, NX_PAIR_KEY_BYTES, "key-check", check);
	if (q(b->st, NULL, err, errlen,
	      "INSERT INTO meta(k, v) VALUES('key_check', $1) ON CONFLICT(k) DO NOTHING", 1,
	      check) < 0)
		return -1;
	if (q(b->st, &r, err, errlen, "SELECT v FROM meta WHERE k = 'key_check'", 0) < 0)
		return -1;
	int same = r.nrows == 1 && strcmp(nx_rows_get(&r, 0, 0), check) == 0;
	nx_rows_free(&r);
	if (!same)
		return nx_err(err, errlen,
		              "the pairing key is not the one this database was set up with "
		              "(every machine sharing it needs the same --key file)");
	return 0;
}

static int audit(struct nx_bind *b, int64_t at, const char *action, const char *device,
                 const char *owner, const char *detail, char *err, size_t errlen)
{
	char t[24];
	i64(t, at);
	return q(b->st, NULL, err, errlen,
	         "INSERT INTO audit(at, actor, origin, action, device, owner, detail) "
	         "VALUES($1, $2, $3, $4, $5, $6, $7)",
	         7, t, b->actor ? b->actor : "?", b->origin ? b->origin : "?", action, device,
	         owner, detail);
}

int nx_bind_code_new(struct nx_bind *b, const char *owner, const char *scope, uint64_t ttl_ms,
                     char display[NX_PAIR_CODE_CHARS + 2], int64_t *expires_ms, char *err,
                     size_t errlen)
{
	int64_t now = now_ms(), exp = now + (int64_t)ttl_ms;
	char tnow[24], texp[24], told[24], canon[NX_PAIR_CODE_CHARS + 1], hash[NX_PAIR_HASH_HEX];
	i64(tnow, now);
	i64(texp, exp);
	i64(told, now - 7 * 86400000LL);
	if (nx_store_begin(b->st, err, errlen) < 0)
		return -1;
	/* Codes dead for a week are of no further use: nothing refers to them. */
	if (q(b->st, NULL, err, errlen, "DELETE FROM codes WHERE expires_at < $1", 1, told) < 0)
		goto fail;
	for (int attempt = 0;; attempt++) {
		if (attempt == 50) {
			nx_err(err, errlen, "too many live pairing codes; try again later");
			goto fail;
		}
		if (nx_pair_code_new(canon, err, errlen) < 0)
			goto fail;
		char sel[NX_PAIR_SELECTOR_CHARS + 1];
		memcpy(sel, canon, NX_PAIR_SELECTOR_CHARS);
		sel[NX_PAIR_SELECTOR_CHARS] = '\0';
		/* The selector must name one live code, or failures would count against two. */
		int live = q(b->st, NULL, err, errlen,
		             "SELECT 1 FROM codes WHERE selector = $1 AND used_at IS NULL "
		             "AND expires_at > $2",
		             2, sel, tnow);
		if (live < 0)
			goto fail;
		if (live > 0)
			continue;
		nx_pair_code_hash(b->key, NX_PAIR_KEY_BYTES, canon, hash);
		int rc = q(b->st, NULL, err, errlen,
		           "INSERT INTO codes(hash, selector, owner, scope, created_at, expires_at) "
		           "VALUES($1, $2, $3, $4, $5, $6)",
		           6, hash, sel, owner, scope, tnow, texp);
		if (rc == NX_STORE_CONFLICT)
			continue;
		if (rc < 0)
			goto fail;
		break;
	}
	if (audit(b, now, "code", NULL, owner, scope, err, errlen) < 0)
		goto fail;
	if (nx_store_commit(b->st, err, errlen) < 0)
		goto fail;
	nx_pair_code_display(canon, display);
	nx_wipe(canon, sizeof canon);
	*expires_ms = exp;
	return 0;
fail:
	nx_wipe(canon, sizeof canon);
	nx_store_rollback(b->st);
	return -1;
}

static json_t *binding_json(const char *device, const char *owner, const char *scope,
                            const char *jti, int64_t bound_ms)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:I}", "sub", device, "owner", owner, "scope",
	                 scope, "jti", jti, "bound_at", (json_int_t)(bound_ms / 1000));
}

/* A failed claim: count it against the global rate (and, for a wrong code, against the
 * live code its selector names), audit it, commit, and answer "refused". */
static int claim_failed(struct nx_bind *b, int64_t now, const char *sel, const char *device,
                        const char *why, char *err, size_t errlen)
{
	char tnow[24], twin[24];
	i64(tnow, now);
	i64(twin, now - RATE_WINDOW_MS);
	if (sel && q(b->st, NULL, err, errlen,
	             "UPDATE codes SET failures = failures + 1 WHERE selector = $1 "
	             "AND used_at IS NULL AND expires_at > $2 AND failures < 5",
	             2, sel, tnow) < 0)
		goto fail;
	if (q(b->st, NULL, err, errlen,
	      "INSERT INTO rate(name, window_start, count) VALUES('claim-fail', $1, 1) "
	      "ON CONFLICT(name) DO UPDATE SET "
	      "count = CASE WHEN rate.window_start <= $2 THEN 1 ELSE rate.count + 1 END, "
	      "window_start = CASE WHEN rate.window_start <= $2 THEN $1 ELSE rate.window_start END",
	      2, tnow, twin) < 0)
		goto fail;
	if (audit(b, now, "claim-failed", device, NULL, why, err, errlen) < 0)
		goto fail;
	if (nx_store_commit(b->st, err, errlen) < 0)
		goto fail;
	nx_err(err, errlen, "%s", why);
	return NX_CLAIM_REFUSED;
fail:
	nx_store_rollback(b->st);
	return NX_CLAIM_ERROR;
}

int nx_bind_claim(struct nx_bind *b, const char *typed, const char *device, const char *pubkey,
                  json_t **binding, char *err, size_t errlen)
{
	int64_t now = now_ms();
	char tnow[24], twin[24], canon[NX_PAIR_CODE_CHARS + 1], hash[NX_PAIR_HASH_HEX], why[NX_ERRLEN];
	char sel[NX_PAIR_SELECTOR_CHARS + 1] = "";
	struct nx_rows r = {0};
	i64(tnow, now);
	i64(twin, now - RATE_WINDOW_MS);
	int parsed = nx_pair_code_parse(typed, strlen(typed), canon, why, sizeof why) == 0;
	if (parsed) {
		memcpy(sel, canon, NX_PAIR_SELECTOR_CHARS);
		nx_pair_code_hash(b->key, NX_PAIR_KEY_BYTES, canon, hash);
		nx_wipe(canon, sizeof canon);
	}
	if (nx_store_begin(b->st, err, errlen) < 0)
		return NX_CLAIM_ERROR;
	/* Throttle first: while the rate is exceeded even a right code waits, so guessing
	 * cannot go faster than fail_rate per minute across all codes. */
	if (q(b->st, &r, err, errlen,
	      "SELECT count FROM rate WHERE name = 'claim-fail' AND window_start > $1", 1, twin) < 0)
		goto fail;
	long fails = r.nrows ? (long)cell_i64(&r, 0, 0) : 0;
	nx_rows_free(&r);
	if (fails >= b->fail_rate) {
		nx_store_rollback(b->st);
		return nx_err(err, errlen, "too many failed claims in the last minute; try again later"),
		       NX_CLAIM_REFUSED;
	}
	if (!parsed)
		return claim_failed(b, now, NULL, device, why, err, errlen);

	/* The single-use step: one UPDATE that only a live, unlocked, unused code passes.
	 * A second claimer of the same code waits on the row lock (PostgreSQL) or on the
	 * write lock (SQLite) and then finds used_at set: exactly one wins. */
	int got = q(b->st, &r, err, errlen,
	            "UPDATE codes SET used_at = $2, device = $3 WHERE hash = $1 "
	            "AND used_at IS NULL AND expires_at > $2 AND failures < 5 "
	            "RETURNING owner, scope",
	            3, hash, tnow, device);
	if (got < 0)
		goto fail;
	if (got == 0) {
		if (q(b->st, &r, err, errlen,
		      "SELECT used_at, expires_at, failures FROM codes WHERE hash = $1", 1, hash) < 0)
			goto fail;
		const char *reason = "wrong pairing code";
		int wrong = r.nrows == 0;
		if (!wrong) {
			if (nx_rows_get(&r, 0, 0))
				reason = "pairing code already used";
			else if (cell_i64(&r, 0, 2) >= NX_BIND_MAX_FAILURES)
				reason = "pairing code locked after too many wrong attempts";
			else
				reason = "pairing code expired";
		}
		nx_rows_free(&r);
		return claim_failed(b, now, wrong ? sel : NULL, device, reason, err, errlen);
	}
	char *owner = strdup(nx_rows_get(&r, 0, 0)), *scope = strdup(nx_rows_get(&r, 0, 1));
	nx_rows_free(&r);
	char jti[NX_PAIR_JTI_LEN + 1];
	if (!owner || !scope) {
		nx_err(err, errlen, "out of memory");
		goto fail_free;
	}
	if (nx_pair_jti_new(jti, err, errlen) < 0)
		goto fail_free;
	/* Bound to the same owner: a re-pairing (new token id). To another owner: refused,
	 * and the rollback leaves the code unused for after the operator's unbind. */
	got = q(b->st, NULL, err, errlen,
	        "INSERT INTO bindings(device, owner, scope, pubkey, jti, bound_at) "
	        "VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT(device) DO UPDATE SET "
	        "scope = excluded.scope, pubkey = excluded.pubkey, jti = excluded.jti, "
	        "bound_at = excluded.bound_at WHERE bindings.owner = excluded.owner",
	        6, device, owner, scope, pubkey, jti, tnow);
	if (got < 0)
		goto fail_free;
	if (got == 0) {
		nx_store_rollback(b->st);
		free(owner);
		free(scope);
		if (nx_store_begin(b->st, err, errlen) < 0)
			return NX_CLAIM_ERROR;
		if (audit(b, now, "claim-refused", device, NULL, "bound to another owner", err,
		          errlen) < 0 ||
		    nx_store_commit(b->st, err, errlen) < 0) {
			nx_store_rollback(b->st);
			return NX_CLAIM_ERROR;
		}
		return nx_err(err, errlen,
		              "device %s is bound to another owner; an operator must unbind it first",
		              device),
		       NX_CLAIM_REFUSED;
	}
	if (q(b->st, NULL, err, errlen,
	      "INSERT INTO tokens(jti, device, issued_at) VALUES($1, $2, $3)", 3, jti, device,
	      tnow) < 0 ||
	    audit(b, now, "claim", device, owner, scope, err, errlen) < 0 ||
	    nx_store_commit(b->st, err, errlen) < 0)
		goto fail_free;
	*binding = binding_json(device, owner, scope, jti, now);
	free(owner);
	free(scope);
	return *binding ? NX_CLAIM_OK : (nx_err(err, errlen, "out of memory"), NX_CLAIM_ERROR);
fail_free:
	free(owner);
	free(scope);
fail:
	nx_rows_free(&r);
	nx_store_rollback(b->st);
	return NX_CLAIM_ERROR;
}

int nx_bind_list(struct nx_bind *b, const char *owner, json_t **out, char *err, size_t errlen)
{
	struct nx_rows r;
	int n = q(b->st, &r, err, errlen,
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
		                      "bound_at", (json_int_t)(cell_i64(&r, i, 3) / 1000));
		if (o && nx_rows_get(&r, i, 4))
			json_object_set_new(o, "last_seen", json_integer(cell_i64(&r, i, 4) / 1000));
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
	if (q(b->st, &r, err, errlen,
	      "SELECT owner, scope, jti, bound_at, pubkey FROM bindings WHERE device = $1", 1,
	      device) < 0)
		goto fail;
	json_object_set_new(o, "bound", json_boolean(r.nrows > 0));
	if (r.nrows) {
		found = 1;
		json_object_set_new(o, "owner", json_string(nx_rows_get(&r, 0, 0)));
		json_object_set_new(o, "scope", json_string(nx_rows_get(&r, 0, 1)));
		json_object_set_new(o, "jti", json_string(nx_rows_get(&r, 0, 2)));
		json_object_set_new(o, "bound_at", json_integer(cell_i64(&r, 0, 3) / 1000));
		if (nx_rows_get(&r, 0, 4))
			json_object_set_new(o, "pubkey", json_string(nx_rows_get(&r, 0, 4)));
	}
	nx_rows_free(&r);
	if (q(b->st, &r, err, errlen,
	      "SELECT jti, issued_at, revoked_at FROM tokens WHERE device = $1 ORDER BY issued_at",
	      1, device) < 0)
		goto fail;
	json_t *toks = json_array();
	for (int i = 0; i < r.nrows; i++) {
		found = 1;
		json_t *t = json_pack("{s:s, s:I}", "jti", nx_rows_get(&r, i, 0), "issued_at",
		                      (json_int_t)(cell_i64(&r, i, 1) / 1000));
		if (t && nx_rows_get(&r, i, 2))
			json_object_set_new(t, "revoked_at", json_integer(cell_i64(&r, i, 2) / 1000));
		json_array_append_new(toks, t);
	}
	json_object_set_new(o, "tokens", toks);
	nx_rows_free(&r);
	if (q(b->st, &r, err, errlen, "SELECT state, last_seen FROM device_state WHERE device = $1",
	      1, device) < 0)
		goto fail;
	if (r.nrows) {
		found = 1;
		json_t *state = json_loads(nx_rows_get(&r, 0, 0), 0, NULL);
		json_object_set_new(o, "state", state ? state : json_string(nx_rows_get(&r, 0, 0)));
		json_object_set_new(o, "last_seen", json_integer(cell_i64(&r, 0, 1) / 1000));
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
	int n = q(b->st, &r, err, errlen,
	          "DELETE FROM bindings WHERE device = $1 "
	          "AND (CAST($2 AS TEXT) IS NULL OR owner = CAST($2 AS TEXT)) RETURNING owner",
	          2, device, b->only_owner);
	if (n < 0)
		goto fail;
	if (n == 0) {
		nx_store_rollback(b->st);
		return 0;
	}
	int rc = nx_bind_sessions_end_all(b, device, now_ms(), err, errlen) < 0
	             ? -1
	             : audit(b, now_ms(), "unbind", device, nx_rows_get(&r, 0, 0), NULL, err, errlen);
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
	int64_t now = now_ms();
	char tnow[24];
	i64(tnow, now);
	if (nx_store_begin(b->st, err, errlen) < 0)
		return -1;
	if (q(b->st, &r, err, errlen,
	      "SELECT jti FROM tokens WHERE device = $1 AND revoked_at IS NULL", 1, device) < 0 ||
	    q(b->st, &ro, err, errlen, "SELECT owner FROM bindings WHERE device = $1", 1, device) < 0)
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
	if (q(b->st, NULL, err, errlen,
	      "UPDATE tokens SET revoked_at = $2 WHERE device = $1 AND revoked_at IS NULL", 2,
	      device, tnow) < 0 ||
	    q(b->st, NULL, err, errlen, "DELETE FROM bindings WHERE device = $1", 1, device) < 0 ||
	    nx_bind_sessions_end_all(b, device, now, err, errlen) < 0 ||
	    audit(b, now, "revoke", device, nx_rows_get(&ro, 0, 0), NULL, err, errlen) < 0 ||
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
	int64_t now = now_ms();
	char tnow[24], fresh[NX_PAIR_JTI_LEN + 1];
	i64(tnow, now);
	if (!jti) {
		if (nx_pair_jti_new(fresh, err, errlen) < 0)
			return -1;
		jti = fresh;
	}
	if (nx_store_begin(b->st, err, errlen) < 0)
		return -1;
	int n = q(b->st, &r, err, errlen,
	          "UPDATE bindings SET jti = $2 WHERE device = $1 RETURNING owner, scope", 2, device,
	          jti);
	if (n < 0)
		goto fail;
	if (n == 0) {
		nx_store_rollback(b->st);
		return 0;
	}
	int rc = q(b->st, NULL, err, errlen,
	           "INSERT INTO tokens(jti, device, issued_at) VALUES($1, $2, $3)", 3, jti, device,
	           tnow);
	if (rc == NX_STORE_CONFLICT)
		nx_err(err, errlen, "token id %s is already recorded", jti);
	if (rc < 0 || audit(b, now, "reissue", device, nx_rows_get(&r, 0, 0), jti, err, errlen) < 0 ||
	    nx_store_commit(b->st, err, errlen) < 0) {
		nx_rows_free(&r);
		goto fail;
	}
	*binding = binding_json(device, nx_rows_get(&r, 0, 0), nx_rows_get(&r, 0, 1), jti, now);
	nx_rows_free(&r);
	return 1;
fail:
	nx_store_rollback(b->st);
	return -1;
}

int nx_bind_audit(struct nx_bind *b, int64_t since_ms, json_t **out, char *err, size_t errlen)
{
	struct nx_rows r;
	char since[24];
	i64(since, since_ms);
	if (q(b->st, &r, err, errlen,
	      "SELECT at, actor, origin, action, device, owner, detail FROM audit "
	      "WHERE at >= $1 ORDER BY id",
	      1, since) < 0)
		return -1;
	json_t *a = json_array();
	static const char *names[] = {NULL, "actor", "origin", "action", "device", "owner", "detail"};
	for (int i = 0; i < r.nrows; i++) {
		json_t *o = json_pack("{s:f}", "at", (double)cell_i64(&r, i, 0) / 1000.0);
		for (int c = 1; o && c < 7; c++)
			if (nx_rows_get(&r, i, c))
				json_object_set_new(o, names[c], json_string(nx_rows_get(&r, i, c)));
		json_array_append_new(a, o);
	}
	nx_rows_free(&r);
	*out = a;
	return 0;
}

int nx_bind_audit_add(struct nx_bind *b, const char *action, const char *device,
                      const char *owner, const char *detail, char *err, size_t errlen)
{
	return audit(b, now_ms(), action, device, owner, detail, err, errlen);
}

int nx_bind_audit_of(struct nx_bind *b, const char *owner, int64_t since_ms, int limit,
                     json_t **out, char *err, size_t errlen)
{
	struct nx_rows r;
	char since[24], lim[24];
	i64(since, since_ms);
	i64(lim, limit);
	if (q(b->st, &r, err, errlen,
	      "SELECT at, actor, origin, action, device, owner, detail FROM ("
	      "SELECT id, at, actor, origin, action, device, owner, detail FROM audit "
	      "WHERE owner = $1 AND at >= $2 ORDER BY id DESC LIMIT CAST($3 AS INTEGER)) t ORDER BY id",
	      3, owner, since, lim) < 0)
		return -1;
	json_t *a = json_array();
	static const char *names[] = {NULL, "actor", "origin", "action", "device", "owner", "detail"};
	for (int i = 0; a && i < r.nrows; i++) {
		json_t *o = json_pack("{s:f}", "at", (double)cell_i64(&r, i, 0) / 1000.0);
		for (int c = 1; o && c < 7; c++)
			if (nx_rows_get(&r, i, c))
				json_object_set_new(o, names[c], json_string(nx_rows_get(&r, i, c)));
		json_array_append_new(a, o);
	}
	nx_rows_free(&r);
	if (!a)
		return nx_err(err, errlen, "out of memory");
	*out = a;
	return 0;
}
