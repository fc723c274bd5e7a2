/* bind.h — devices and their owners on top of store.h: schema, pairing codes, claims,
 * bindings, token ids, the audit trail. Results come back as jansson values for the
 * command to print; nothing here prints.
 *
 * Times in the database are Unix milliseconds; times in JSON output are Unix seconds
 * (JWT NumericDate), so a claim's output can go straight into a token. */
#ifndef NEXUS_BIND_H
#define NEXUS_BIND_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "bind/pairing.h"
#include "bind/store.h"

#define NX_BIND_MAX_FAILURES 5

struct nx_bind {
	struct nx_store *st;
	const uint8_t *key;    /* pairing key, NX_PAIR_KEY_BYTES; only code and claim need it */
	const char *actor;     /* who runs this (user name) */
	const char *origin;    /* from where (address or "local:host") */
	long fail_rate;        /* wrong claims allowed per minute, all codes together */
	const char *only_owner; /* non-NULL: unbind and revoke touch only this owner's devices
	                         * (the API acting for a user); NULL: an operator's CLI */
};

/* Create or upgrade the schema (idempotent, safe when several processes race). */
int nx_bind_migrate(struct nx_store *st, char *err, size_t errlen);

/* The pairing key must be the one this database was first used with. */
int nx_bind_key_check(struct nx_bind *b, char *err, size_t errlen);

/* A new single-use code for `owner` with space-separated `scope` ("" for none), valid for
 * ttl_ms. display gets "XXXX-XXXX"; *expires_ms the expiry time. */
int nx_bind_code_new(struct nx_bind *b, const char *owner, const char *scope, uint64_t ttl_ms,
                     char display[NX_PAIR_CODE_CHARS + 2], int64_t *expires_ms, char *err,
                     size_t errlen);

enum nx_claim_result { NX_CLAIM_OK = 0, NX_CLAIM_ERROR = -1, NX_CLAIM_REFUSED = 1 };

/* The device `device` presents `typed` (as a person typed it). On success *binding is
 * {"sub","owner","scope","jti","bound_at"}. NX_CLAIM_REFUSED: err says why (wrong,
 * expired, used, locked code; throttled; device bound to another owner). */
int nx_bind_claim(struct nx_bind *b, const char *typed, const char *device, const char *pubkey,
                  json_t **binding, char *err, size_t errlen);

/* Bindings (optionally of one owner), each with its last-seen time: a JSON array. */
int nx_bind_list(struct nx_bind *b, const char *owner, json_t **out, char *err, size_t errlen);

/* Everything known about a device. 1 found, 0 unknown, -1 error. */
int nx_bind_show(struct nx_bind *b, const char *device, json_t **out, char *err, size_t errlen);

/* Remove the binding (tokens stay valid until they expire). 1 done, 0 not bound, -1. */
int nx_bind_unbind(struct nx_bind *b, const char *device, char *err, size_t errlen);

/* Write every token id of the device to the deny-list, then remove its binding.
 * *jtis gets the ids written. 1 done, 0 unknown device, -1. */
int nx_bind_revoke(struct nx_bind *b, const char *device, const char *denylist, json_t **jtis,
                   char *err, size_t errlen);

/* Record a further token id for a bound device (jti NULL: a fresh one) and return the
 * binding JSON carrying it. 1 done, 0 not bound, -1. */
int nx_bind_reissue(struct nx_bind *b, const char *device, const char *jti, json_t **binding,
                    char *err, size_t errlen);

/* session.c: every open browser session of device ends at now_ms (unbind, revoke; inside
 * the caller's transaction). */
int nx_bind_sessions_end_all(struct nx_bind *b, const char *device, int64_t now_ms, char *err,
                             size_t errlen);

/* Audit records at or after since_ms, oldest first: a JSON array. */
int nx_bind_audit(struct nx_bind *b, int64_t since_ms, json_t **out, char *err, size_t errlen);

/* The same, only the records naming `owner`, at most `limit` of them (the newest). */
int nx_bind_audit_of(struct nx_bind *b, const char *owner, int64_t since_ms, int limit,
                     json_t **out, char *err, size_t errlen);

/* Append one audit record now, with b's actor and origin (inside the caller's transaction
 * when one is open). */
int nx_bind_audit_add(struct nx_bind *b, const char *action, const char *device,
                      const char *owner, const char *detail, char *err, size_t errlen);

#endif
