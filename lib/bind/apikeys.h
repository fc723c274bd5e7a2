/* apikeys.h — API keys for nexus-bind serve: long-lived credentials an owner makes for a
 * script, each with its own scopes (a subset of the creator's) and rate limit.
 *
 * A key reads "nxk_" + 16 hex digits (its id, public) + "_" + 43 base64url characters (32
 * random bytes, the secret). The database keeps the id and SHA-256 of the secret only, so
 * a leaked database gives no usable key; the whole key is shown once, at creation. */
#ifndef NEXUS_APIKEYS_H
#define NEXUS_APIKEYS_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "bind/bind.h"

#define NX_APIKEY_ID_HEX 16
#define NX_APIKEY_LEN (4 + NX_APIKEY_ID_HEX + 1 + 43)
#define NX_APIKEY_MAX_PER_OWNER 100

/* A new key for `owner`. ttl_ms 0: no expiry. *out: {"id","key","name","scope",
 * "created_at"[,"expires_at"]}; its "key" is the only copy of the secret. 1 made,
 * 0 refused (the owner has NX_APIKEY_MAX_PER_OWNER live keys: err says so), -1 error. */
int nx_apikey_new(struct nx_bind *b, const char *owner, const char *name, const char *scope,
                  uint64_t ttl_ms, json_t **out, char *err, size_t errlen);

/* The owner's keys, without secrets: a JSON array. */
int nx_apikey_list(struct nx_bind *b, const char *owner, json_t **out, char *err,
                   size_t errlen);

/* Revoke key `id` of `owner`. 1 done, 0 no such live key of this owner, -1 error. */
int nx_apikey_revoke(struct nx_bind *b, const char *owner, const char *id, char *err,
                     size_t errlen);

/* Check a presented key. 1 valid (owner and scope filled, id copied), 0 not a valid live
 * key (err says why: unknown, revoked, expired, malformed), -1 error. */
int nx_apikey_check(struct nx_bind *b, const char *key, size_t len,
                    char id[NX_APIKEY_ID_HEX + 1], char *owner, size_t ownerlen, char *scope,
                    size_t scopelen, char *err, size_t errlen);

#endif
