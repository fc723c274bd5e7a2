/* apikeys.c — see apikeys.h. */
#include "bind/apikeys.h"
#include "bind/bind_int.h"
#include "core/b64url.h"
#include "core/random.h"
#include "core/util.h"

#include <bearssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hash_hex(const char *secret, size_t n, char hex[65])
{
	unsigned char h[32];
	br_sha256_context c;
	br_sha256_init(&c);
	br_sha256_update(&c, "nexus-bind api key v1:", 22);
	br_sha256_update(&c, secret, n);
	br_sha256_out(&c, h);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
}

int nx_apikey_new(struct nx_bind *b, const char *owner, const char *name, const char *scope,
                  uint64_t ttl_ms, json_t **out, char *err, size_t errlen)
{
	unsigned char raw[8 + 32];
	char id[NX_APIKEY_ID_HEX + 1], key[NX_APIKEY_LEN + 1], hex[65], tnow[24], texp[24];
	struct nx_rows r;
	if (nx_random_bytes(raw, sizeof raw, err, errlen) < 0)
		return -1;
	for (int i = 0; i < 8; i++)
		snprintf(id + 2 * i, 3, "%02x", raw[i]);
	memcpy(key, "nxk_", 4);
	memcpy(key + 4, id, NX_APIKEY_ID_HEX);
	key[4 + NX_APIKEY_ID_HEX] = '_';
	size_t sl = nx_b64url_encode(key + 5 + NX_APIKEY_ID_HEX, raw + 8, 32);
	key[5 + NX_APIKEY_ID_HEX + sl] = '\0';
	nx_wipe(raw, sizeof raw);
	hash_hex(key + 5 + NX_APIKEY_ID_HEX, sl, hex);
	int64_t now = (int64_t)nx_unix_time() * 1000;
	bind_i64(tnow, now);
	bind_i64(texp, now + (int64_t)ttl_ms);
	if (nx_store_begin(b->st, err, errlen) < 0)
		goto fail_wipe;
	if (nx_store_exec(b->st,
	                  "SELECT count(*) FROM api_keys WHERE owner = $1 AND revoked_at IS NULL "
	                  "AND (expires_at IS NULL OR expires_at > $2)",
	                  2, (const char *[]){owner, tnow}, &r, err, errlen) < 0)
		goto fail;
	long live = strtol(nx_rows_get(&r, 0, 0) ? nx_rows_get(&r, 0, 0) : "0", NULL, 10);
	nx_rows_free(&r);
	if (live >= NX_APIKEY_MAX_PER_OWNER) {
		nx_store_rollback(b->st);
		nx_wipe(key, sizeof key);
		nx_err(err, errlen, "%s already has %d live API keys; revoke one first", owner,
		       NX_APIKEY_MAX_PER_OWNER);
		return 0;
	}
	const char *p[] = {id, owner, name, scope, hex, tnow, ttl_ms ? texp : NULL};
	if (nx_store_exec(b->st,
	                  "INSERT INTO api_keys(id, owner, name, scope, hash, created_at, expires_at)"
	                  " VALUES($1, $2, $3, $4, $5, $6, $7)",
	                  7, p, NULL, err, errlen) < 0 ||
	    nx_bind_audit_add(b, "api-key", NULL, owner, id, err, errlen) < 0 ||
	    nx_store_commit(b->st, err, errlen) < 0)
		goto fail;
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", id, "key", key, "name", name,
	                      "scope", scope, "created_at", (json_int_t)(now / 1000));
	nx_wipe(key, sizeof key);
	if (!o)
		return nx_err(err, errlen, "out of memory");
	if (ttl_ms)
		json_object_set_new(o, "expires_at", json_integer((now + (int64_t)ttl_ms) / 1000));
	*out = o;
	return 1;
fail:
	nx_store_rollback(b->st);
fail_wipe:
	nx_wipe(key, sizeof key);
	return -1;
}

int nx_apikey_list(struct nx_bind *b, const char *owner, json_t **out, char *err,
                   size_t errlen)
{
	struct nx_rows r;
	if (nx_store_exec(b->st,
	                  "SELECT id, name, scope, created_at, expires_at, revoked_at FROM api_keys "
	                  "WHERE owner = $1 ORDER BY created_at, id",
	                  1, (const char *[]){owner}, &r, err, errlen) < 0)
		return -1;
	json_t *a = json_array();
	static const char *t[] = {"created_at", "expires_at", "revoked_at"};
	for (int i = 0; a && i < r.nrows; i++) {
		json_t *o = json_pack("{s:s, s:s, s:s}", "id", nx_rows_get(&r, i, 0), "name",
		                      nx_rows_get(&r, i, 1), "scope", nx_rows_get(&r, i, 2));
		for (int c = 0; o && c < 3; c++)
			if (nx_rows_get(&r, i, 3 + c))
				json_object_set_new(o, t[c],
				                    json_integer(strtoll(nx_rows_get(&r, i, 3 + c), NULL, 10) /
				                                 1000));
		json_array_append_new(a, o);
	}
	nx_rows_free(&r);
	if (!a)
		return nx_err(err, errlen, "out of memory");
	*out = a;
	return 0;
}

int nx_apikey_revoke(struct nx_bind *b, const char *owner, const char *id, char *err,
                     size_t errlen)
{
	char tnow[24];
	bind_i64(tnow, (int64_t)nx_unix_time() * 1000);
	if (nx_store_begin(b->st, err, errlen) < 0)
		return -1;
	int n = nx_store_exec(b->st,
	                      "UPDATE api_keys SET revoked_at = $3 WHERE id = $1 AND owner = $2 "
	                      "AND revoked_at IS NULL",
	                      3, (const char *[]){id, owner, tnow}, NULL, err, errlen);
	if (n < 0)
		goto fail;
	if (n == 0) {
		nx_store_rollback(b->st);
		return 0;
	}
	if (nx_bind_audit_add(b, "api-key-revoke", NULL, owner, id, err, errlen) < 0 ||
	    nx_store_commit(b->st, err, errlen) < 0)
		goto fail;
	return 1;
fail:
	nx_store_rollback(b->st);
	return -1;
}

static int hexdigit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

int nx_apikey_check(struct nx_bind *b, const char *key, size_t len,
                    char id[NX_APIKEY_ID_HEX + 1], char *owner, size_t ownerlen, char *scope,
                    size_t scopelen, char *err, size_t errlen)
{
	if (len != NX_APIKEY_LEN || memcmp(key, "nxk_", 4) != 0 || key[4 + NX_APIKEY_ID_HEX] != '_')
		return nx_err(err, errlen, "malformed API key"), 0;
	for (int i = 0; i < NX_APIKEY_ID_HEX; i++)
		if (!hexdigit(key[4 + i]))
			return nx_err(err, errlen, "malformed API key"), 0;
	memcpy(id, key + 4, NX_APIKEY_ID_HEX);
	id[NX_APIKEY_ID_HEX] = '\0';
	char hex[65];
	hash_hex(key + 5 + NX_APIKEY_ID_HEX, len - 5 - NX_APIKEY_ID_HEX, hex);
	struct nx_rows r;
	if (nx_store_exec(b->st,
	                  "SELECT owner, scope, hash, expires_at, revoked_at FROM api_keys "
	                  "WHERE id = $1",
	                  1, (const char *[]){id}, &r, err, errlen) < 0)
		return -1;
	int rc = 0;
	const char *h = nx_rows_get(&r, 0, 2);
	unsigned diff = 1;
	if (h && strlen(h) == 64) {
		diff = 0;
		for (int i = 0; i < 64; i++)
			diff |= (unsigned char)(h[i] ^ hex[i]); /* no early exit: constant time */
	}
	if (r.nrows == 0 || diff)
		nx_err(err, errlen, "unknown API key");
	else if (nx_rows_get(&r, 0, 4))
		nx_err(err, errlen, "API key revoked");
	else if (nx_rows_get(&r, 0, 3) &&
	         strtoll(nx_rows_get(&r, 0, 3), NULL, 10) <= (int64_t)nx_unix_time() * 1000)
		nx_err(err, errlen, "API key expired");
	else {
		snprintf(owner, ownerlen, "%s", nx_rows_get(&r, 0, 0));
		snprintf(scope, scopelen, "%s", nx_rows_get(&r, 0, 1));
		rc = 1;
	}
	nx_rows_free(&r);
	return rc;
}
