/* vault.h — nexus-vault's store: named credentials (cred.h) sealed under a master key
 * (seal.h) in a SQLite file (mode 0600, WAL, secure_delete).
 *
 * Tables: keys(version, check), one row per key version, whose check value is sealed by
 * that version's key, so a key is recognised (or refused) without trying records;
 * secrets(name, key_version, record, updated). Every record is under the version of the
 * key it was written with; rotate re-seals all of them under a new version in one
 * transaction and deletes the old versions' rows, so a crash at any point leaves either the
 * old key or the new one opening every record. */
#ifndef NEXUS_VAULT_H
#define NEXUS_VAULT_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "vault/seal.h"

#define NX_VAULT_NAME_MAX 128
#define NX_VAULT_NOT_FOUND (-2)

struct nx_vault;

/* 1 if `name` is 1 to 128 of [A-Za-z0-9._@:+-] not starting with '.' or '-'. */
int nx_vault_name_ok(const char *name);

/* Open (and create) the database. */
int nx_vault_open(const char *path, struct nx_vault **v, char *err, size_t errlen);
void nx_vault_close(struct nx_vault *v);

/* Take `key` as the master key: find the key version it opens. An empty vault gets it as
 * version 1 when `create` is set (else the vault stays empty and reads find nothing).
 * -1 "wrong master key" when versions exist and it opens none. The key is copied and wiped
 * at close. */
int nx_vault_use_key(struct nx_vault *v, const uint8_t key[NX_VAULT_KEY_BYTES], int create,
                     char *err, size_t errlen);
uint32_t nx_vault_key_version(const struct nx_vault *v);

/* Store (insert or replace) a checked credential under `name`. */
int nx_vault_put(struct nx_vault *v, const char *name, const json_t *cred, char *err,
                 size_t errlen);

/* The credential stored under `name` (json_decref it); NX_VAULT_NOT_FOUND when there is
 * none; -1 when it is refused (another key version, it does not authenticate). */
int nx_vault_get(struct nx_vault *v, const char *name, json_t **cred, char *err,
                 size_t errlen);

/* 0 removed, NX_VAULT_NOT_FOUND, or -1. */
int nx_vault_rm(struct nx_vault *v, const char *name, char *err, size_t errlen);

/* Every record by name: fn(arg, name, cred, problem) with cred NULL and a reason in
 * `problem` for a record that is refused. The callback must not keep cred. */
typedef void (*nx_vault_list_fn)(void *arg, const char *name, const json_t *cred,
                                 const char *problem);
int nx_vault_list(struct nx_vault *v, nx_vault_list_fn fn, void *arg, char *err,
                  size_t errlen);

/* Re-seal every record under `newkey` as a new key version, in one transaction; then the
 * old versions are deleted and the WAL checkpointed (old ciphertexts leave the files).
 * *count: records re-sealed. Refused when a record does not open with the key in use. */
int nx_vault_rotate(struct nx_vault *v, const uint8_t newkey[NX_VAULT_KEY_BYTES],
                    uint32_t *newver, size_t *count, char *err, size_t errlen);

/* Every record name (sorted), malloc'd; free with nx_vault_names_free. NULL on failure. */
char **nx_vault_names(struct nx_vault *v, size_t *n, char *err, size_t errlen);
void nx_vault_names_free(char **names, size_t n);

/* Transactions for a read-modify-write of one record (refresh): BEGIN IMMEDIATE takes the
 * write lock up front, so two writers never both read the old value. */
int nx_vault_begin(struct nx_vault *v, char *err, size_t errlen);
int nx_vault_commit(struct nx_vault *v, char *err, size_t errlen);
void nx_vault_rollback(struct nx_vault *v);

#endif
