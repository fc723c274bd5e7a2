/* bind.c — see bind.h: the schema and its migrations, and the pairing itself (codes,
 * claims). Bindings once made are in bind_devices.c. Every statement is written once and
 * runs on both backends; only the DDL differs (an auto-increment key, the migration lock). */
#include "bind/bind.h"
#include "bind/bind_int.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	if (bind_q(st, &r, err, errlen, "SELECT v FROM meta WHERE k = 'schema'", 0) < 0)
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
		    bind_q(st, NULL, err, errlen,
		           "INSERT INTO meta(k, v) VALUES('schema', '2') "
		           "ON CONFLICT(k) DO UPDATE SET v = excluded.v", 0) < 0)
			goto fail;
	}
	if (have < 3) {
		if (nx_store_script(st, schema_v3, err, errlen) < 0 ||
		    bind_q(st, NULL, err, errlen,
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
	if (bind_q(b->st, NULL, err, errlen,
	           "INSERT INTO meta(k, v) VALUES('key_check', $1) ON CONFLICT(k) DO NOTHING", 1,
	           check) < 0)
		return -1;
	if (bind_q(b->st, &r, err, errlen, "SELECT v FROM meta WHERE k = 'key_check'", 0) < 0)
		return -1;
	int same = r.nrows == 1 && strcmp(nx_rows_get(&r, 0, 0), check) == 0;
	nx_rows_free(&r);
	if (!same)
		return nx_err(err, errlen,
		              "the pairing key is not the one this database was set up with "
		              "(every machine sharing it needs the same --key file)");
	return 0;
}

int nx_bind_code_new(struct nx_bind *b, const char *owner, const char *scope, uint64_t ttl_ms,
                     char display[NX_PAIR_CODE_CHARS + 2], int64_t *expires_ms, char *err,
                     size_t errlen)
{
	int64_t now = nx_unix_ms(), exp = now + (int64_t)ttl_ms;
	char tnow[24], texp[24], told[24], canon[NX_PAIR_CODE_CHARS + 1], hash[NX_PAIR_HASH_HEX];
	bind_i64(tnow, now);
	bind_i64(texp, exp);
	bind_i64(told, now - 7 * 86400000LL);
	if (nx_store_begin(b->st, err, errlen) < 0)
		return -1;
	/* Codes dead for a week are of no further use: nothing refers to them. */
	if (bind_q(b->st, NULL, err, errlen, "DELETE FROM codes WHERE expires_at < $1", 1, told) < 0)
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
		int live = bind_q(b->st, NULL, err, errlen,
		                  "SELECT 1 FROM codes WHERE selector = $1 AND used_at IS NULL "
		                  "AND expires_at > $2",
		                  2, sel, tnow);
		if (live < 0)
			goto fail;
		if (live > 0)
			continue;
		nx_pair_code_hash(b->key, NX_PAIR_KEY_BYTES, canon, hash);
		int rc = bind_q(b->st, NULL, err, errlen,
		                "INSERT INTO codes(hash, selector, owner, scope, created_at, expires_at) "
		                "VALUES($1, $2, $3, $4, $5, $6)",
		                6, hash, sel, owner, scope, tnow, texp);
		if (rc == NX_STORE_CONFLICT)
			continue;
		if (rc < 0)
			goto fail;
		break;
	}
	if (bind_audit(b, now, "code", NULL, owner, scope, err, errlen) < 0)
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

/* A failed claim: count it against the global rate (and, for a wrong code, against the
 * live code its selector names), audit it, commit, and answer "refused". */
static int claim_failed(struct nx_bind *b, int64_t now, const char *sel, const char *device,
                        const char *why, char *err, size_t errlen)
{
	char tnow[24], twin[24];
	bind_i64(tnow, now);
	bind_i64(twin, now - RATE_WINDOW_MS);
	if (sel && bind_q(b->st, NULL, err, errlen,
	                  "UPDATE codes SET failures = failures + 1 WHERE selector = $1 "
	                  "AND used_at IS NULL AND expires_at > $2 AND failures < 5",
	                  2, sel, tnow) < 0)
		goto fail;
	if (bind_q(b->st, NULL, err, errlen,
	           "INSERT INTO rate(name, window_start, count) VALUES('claim-fail', $1, 1) "
	           "ON CONFLICT(name) DO UPDATE SET "
	           "count = CASE WHEN rate.window_start <= $2 THEN 1 ELSE rate.count + 1 END, "
	           "window_start = CASE WHEN rate.window_start <= $2 THEN $1 ELSE rate.window_start END",
	           2, tnow, twin) < 0)
		goto fail;
	if (bind_audit(b, now, "claim-failed", device, NULL, why, err, errlen) < 0)
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
	int64_t now = nx_unix_ms();
	char tnow[24], twin[24], canon[NX_PAIR_CODE_CHARS + 1], hash[NX_PAIR_HASH_HEX], why[NX_ERRLEN];
	char sel[NX_PAIR_SELECTOR_CHARS + 1] = "";
	struct nx_rows r = {0};
	bind_i64(tnow, now);
	bind_i64(twin, now - RATE_WINDOW_MS);
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
	if (bind_q(b->st, &r, err, errlen,
	           "SELECT count FROM rate WHERE name = 'claim-fail' AND window_start > $1", 1, twin) < 0)
		goto fail;
	long fails = r.nrows ? (long)bind_cell_i64(&r, 0, 0) : 0;
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
	int got = bind_q(b->st, &r, err, errlen,
	                 "UPDATE codes SET used_at = $2, device = $3 WHERE hash = $1 "
	                 "AND used_at IS NULL AND expires_at > $2 AND failures < 5 "
	                 "RETURNING owner, scope",
	                 3, hash, tnow, device);
	if (got < 0)
		goto fail;
	if (got == 0) {
		if (bind_q(b->st, &r, err, errlen,
		           "SELECT used_at, expires_at, failures FROM codes WHERE hash = $1", 1, hash) < 0)
			goto fail;
		const char *reason = "wrong pairing code";
		int wrong = r.nrows == 0;
		if (!wrong) {
			if (nx_rows_get(&r, 0, 0))
				reason = "pairing code already used";
			else if (bind_cell_i64(&r, 0, 2) >= NX_BIND_MAX_FAILURES)
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
	got = bind_q(b->st, NULL, err, errlen,
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
		if (bind_audit(b, now, "claim-refused", device, NULL, "bound to another owner", err,
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
	if (bind_q(b->st, NULL, err, errlen,
	           "INSERT INTO tokens(jti, device, issued_at) VALUES($1, $2, $3)", 3, jti, device,
	           tnow) < 0 ||
	    bind_audit(b, now, "claim", device, owner, scope, err, errlen) < 0 ||
	    nx_store_commit(b->st, err, errlen) < 0)
		goto fail_free;
	*binding = bind_binding_json(device, owner, scope, jti, now);
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
