/* vault.c — the SQLite store of sealed credentials (vault.h). */
#include "vault/vault.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "vault/cred.h"

struct nx_vault {
	sqlite3 *db;
	char path[1024];
	uint8_t key[NX_VAULT_KEY_BYTES];
	uint32_t version; /* 0: no key in use yet */
};

static const char check_text[] = "nexus-vault key check";

int nx_vault_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > NX_VAULT_NAME_MAX || name[0] == '.' || name[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("._@:+-", c)))
			return 0;
	}
	return 1;
}

static int db_fail(struct nx_vault *v, char *err, size_t errlen)
{
	return nx_err(err, errlen, "%s: %s", v->path, sqlite3_errmsg(v->db));
}

static int exec_sql(struct nx_vault *v, const char *sql, char *err, size_t errlen)
{
	if (sqlite3_exec(v->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(v, err, errlen);
	return 0;
}

static int make_parent(const char *path, char *err, size_t errlen)
{
	char d[1024];
	snprintf(d, sizeof d, "%s", path);
	char *slash = strrchr(d, '/');
	if (!slash || slash == d)
		return 0;
	*slash = '\0';
	for (char *p = d + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(d, 0700) < 0 && errno != EEXIST)
				return nx_err(err, errlen, "cannot create %s: %s", d, strerror(errno));
			if (!c)
				break;
			*p = c;
		}
	}
	return 0;
}

int nx_vault_open(const char *path, struct nx_vault **out, char *err, size_t errlen)
{
	if (strlen(path) >= sizeof ((struct nx_vault *)0)->path)
		return nx_err(err, errlen, "database path too long");
	if (make_parent(path, err, errlen) < 0)
		return -1;
	/* Created here, 0600; SQLite gives the -wal and -shm files the same mode. */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return nx_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
	close(fd);
	struct nx_vault *v = calloc(1, sizeof *v);
	if (!v)
		return nx_err(err, errlen, "out of memory");
	snprintf(v->path, sizeof v->path, "%s", path);
	if (sqlite3_open_v2(path, &v->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		nx_err(err, errlen, "cannot open %s: %s", path,
		       v->db ? sqlite3_errmsg(v->db) : "out of memory");
		nx_vault_close(v);
		return -1;
	}
	sqlite3_busy_timeout(v->db, 30000);
	/* secure_delete: a page freed by rm or rotate is zeroed, so no old ciphertext stays. */
	if (exec_sql(v, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
	                "PRAGMA secure_delete=ON;"
	                "CREATE TABLE IF NOT EXISTS keys(version INTEGER PRIMARY KEY, "
	                "  check_value BLOB NOT NULL, created INTEGER NOT NULL);"
	                "CREATE TABLE IF NOT EXISTS secrets(name TEXT PRIMARY KEY, "
	                "  key_version INTEGER NOT NULL, record BLOB NOT NULL, "
	                "  updated INTEGER NOT NULL);",
	             err, errlen) < 0) {
		nx_vault_close(v);
		return -1;
	}
	*out = v;
	return 0;
}

void nx_vault_close(struct nx_vault *v)
{
	if (!v)
		return;
	sqlite3_close(v->db);
	nx_wipe(v->key, sizeof v->key);
	free(v);
}

uint32_t nx_vault_key_version(const struct nx_vault *v) { return v->version; }

/* 1 if key opens the check value of `version`. */
static int key_opens(const uint8_t *key, uint32_t version, const void *blob, int n)
{
	uint8_t *p;
	size_t pl;
	if (nx_vault_unseal(key, version, "", blob, (size_t)n, &p, &pl, NULL, 0) < 0)
		return 0;
	int ok = pl == sizeof check_text - 1 && memcmp(p, check_text, pl) == 0;
	nx_free_secret(p, pl + 1);
	return ok;
}

/* The version among the stored ones that `key` opens: >0, 0 none; *nversions counted. */
static int find_version(struct nx_vault *v, const uint8_t *key, uint32_t *found,
                        int *nversions, uint32_t *maxver, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(v->db, "SELECT version, check_value FROM keys ORDER BY version", -1,
	                       &st, NULL) != SQLITE_OK)
		return db_fail(v, err, errlen);
	*found = 0, *nversions = 0, *maxver = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint32_t ver = (uint32_t)sqlite3_column_int64(st, 0);
		(*nversions)++;
		if (ver > *maxver)
			*maxver = ver;
		if (!*found && key_opens(key, ver, sqlite3_column_blob(st, 1), sqlite3_column_bytes(st, 1)))
			*found = ver;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_fail(v, err, errlen);
	return 0;
}

static int add_version(struct nx_vault *v, const uint8_t *key, uint32_t ver, char *err,
                       size_t errlen)
{
	uint8_t *blob;
	size_t bl;
	if (nx_vault_seal(key, ver, "", check_text, sizeof check_text - 1, &blob, &bl, err,
	                  errlen) < 0)
		return -1;
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(v->db, "INSERT INTO keys VALUES(?, ?, strftime('%s','now'))",
	                            -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, ver);
		sqlite3_bind_blob(st, 2, blob, (int)bl, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_finalize(st);
	}
	free(blob);
	return rc == SQLITE_OK ? 0 : db_fail(v, err, errlen);
}

int nx_vault_use_key(struct nx_vault *v, const uint8_t key[NX_VAULT_KEY_BYTES], int create,
                     char *err, size_t errlen)
{
	uint32_t found, maxver;
	int n;
	if (find_version(v, key, &found, &n, &maxver, err, errlen) < 0)
		return -1;
	if (!found && n == 0 && create) {
		/* Two first writers at once: the second sees the first one's version. */
		if (exec_sql(v, "BEGIN IMMEDIATE", err, errlen) < 0)
			return -1;
		if (find_version(v, key, &found, &n, &maxver, err, errlen) < 0 ||
		    (n == 0 && add_version(v, key, found = 1, err, errlen) < 0) ||
		    exec_sql(v, "COMMIT", err, errlen) < 0) {
			sqlite3_exec(v->db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
	}
	if (!found && n > 0)
		return nx_err(err, errlen, "wrong master key: it opens none of the %d key version%s "
		                           "in %s", n, n == 1 ? "" : "s", v->path);
	memcpy(v->key, key, NX_VAULT_KEY_BYTES);
	v->version = found;
	return 0;
}

int nx_vault_begin(struct nx_vault *v, char *err, size_t errlen)
{
	return exec_sql(v, "BEGIN IMMEDIATE", err, errlen);
}
int nx_vault_commit(struct nx_vault *v, char *err, size_t errlen)
{
	return exec_sql(v, "COMMIT", err, errlen);
}
void nx_vault_rollback(struct nx_vault *v)
{
	if (!sqlite3_get_autocommit(v->db))
		sqlite3_exec(v->db, "ROLLBACK", NULL, NULL, NULL);
}

static int seal_cred(struct nx_vault *v, uint32_t ver, const uint8_t *key, const char *name,
                     const json_t *cred, uint8_t **blob, size_t *bl, char *err, size_t errlen)
{
	char *plain = json_dumps(cred, JSON_COMPACT | JSON_SORT_KEYS);
	if (!plain)
		return nx_err(err, errlen, "out of memory");
	int rc = nx_vault_seal(key, ver, name, plain, strlen(plain), blob, bl, err, errlen);
	nx_free_secret(plain, strlen(plain));
	return rc;
}

static int store_record(struct nx_vault *v, const char *name, uint32_t ver,
                        const uint8_t *blob, size_t bl, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(v->db, "INSERT OR REPLACE INTO secrets VALUES(?, ?, ?, "
	                              "strftime('%s','now'))", -1, &st, NULL) != SQLITE_OK)
		return db_fail(v, err, errlen);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, ver);
	sqlite3_bind_blob(st, 3, blob, (int)bl, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_fail(v, err, errlen);
}

int nx_vault_put(struct nx_vault *v, const char *name, const json_t *cred, char *err,
                 size_t errlen)
{
	if (!v->version)
		return nx_err(err, errlen, "no master key in use");
	uint8_t *blob;
	size_t bl;
	if (seal_cred(v, v->version, v->key, name, cred, &blob, &bl, err, errlen) < 0)
		return -1;
	int rc = store_record(v, name, v->version, blob, bl, err, errlen);
	free(blob);
	return rc;
}

/* Unseal one row's record with key/ver and parse it. */
static int open_row(const char *name, uint32_t rowver, const void *rec, int reclen,
                    const uint8_t *key, uint32_t ver, json_t **cred, char *err, size_t errlen)
{
	if (rowver != ver)
		return nx_err(err, errlen, "credential '%s' is under key version %u, not the "
		                           "version of the key given (%u): refused", name, rowver, ver);
	uint8_t *p;
	size_t pl;
	char why[NX_ERRLEN];
	if (nx_vault_unseal(key, ver, name, rec, (size_t)(reclen < 0 ? 0 : reclen), &p, &pl, why,
	                    sizeof why) < 0)
		return nx_err(err, errlen, "credential '%s' refused: %s", name, why);
	int rc = nx_cred_parse((const char *)p, pl, cred, why, sizeof why);
	nx_free_secret(p, pl + 1);
	if (rc < 0)
		return nx_err(err, errlen, "credential '%s' refused: %s", name, why);
	return 0;
}

int nx_vault_get(struct nx_vault *v, const char *name, json_t **cred, char *err,
                 size_t errlen)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(v->db, "SELECT key_version, record FROM secrets WHERE name = ?", -1,
	                       &st, NULL) != SQLITE_OK)
		return db_fail(v, err, errlen);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = open_row(name, (uint32_t)sqlite3_column_int64(st, 0), sqlite3_column_blob(st, 1),
		              sqlite3_column_bytes(st, 1), v->key, v->version, cred, err, errlen);
	else if (rc == SQLITE_DONE)
		rc = (nx_err(err, errlen, "no credential named '%s'", name), NX_VAULT_NOT_FOUND);
	else
		rc = db_fail(v, err, errlen);
	sqlite3_finalize(st);
	return rc;
}

int nx_vault_rm(struct nx_vault *v, const char *name, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(v->db, "DELETE FROM secrets WHERE name = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return db_fail(v, err, errlen);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_fail(v, err, errlen);
	if (sqlite3_changes(v->db) == 0)
		return nx_err(err, errlen, "no credential named '%s'", name), NX_VAULT_NOT_FOUND;
	return 0;
}

int nx_vault_list(struct nx_vault *v, nx_vault_list_fn fn, void *arg, char *err,
                  size_t errlen)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(v->db, "SELECT name, key_version, record FROM secrets ORDER BY name",
	                       -1, &st, NULL) != SQLITE_OK)
		return db_fail(v, err, errlen);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		json_t *cred = NULL;
		char why[NX_ERRLEN];
		if (open_row(name, (uint32_t)sqlite3_column_int64(st, 1), sqlite3_column_blob(st, 2),
		             sqlite3_column_bytes(st, 2), v->key, v->version, &cred, why,
		             sizeof why) < 0)
			fn(arg, name, NULL, why);
		else
			fn(arg, name, cred, NULL);
		json_decref(cred);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_fail(v, err, errlen);
}

/* All names, for a loop that rewrites rows (no statement open across the updates). */
static char **all_names(struct nx_vault *v, size_t *n, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(v->db, "SELECT name FROM secrets ORDER BY name", -1, &st, NULL) !=
	    SQLITE_OK)
		return db_fail(v, err, errlen), NULL;
	size_t cap = 64, k = 0;
	int rc = SQLITE_ERROR;
	char **names = malloc(cap * sizeof *names);
	while (names && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (k + 1 >= cap) {
			char **more = realloc(names, (cap *= 2) * sizeof *names);
			if (!more)
				break;
			names = more;
		}
		if (!(names[k] = strdup((const char *)sqlite3_column_text(st, 0))))
			break;
		k++;
	}
	sqlite3_finalize(st);
	if (!names || rc != SQLITE_DONE) {
		for (size_t i = 0; names && i < k; i++)
			free(names[i]);
		free(names);
		return nx_err(err, errlen, "cannot list %s: out of memory or %s", v->path,
		              sqlite3_errmsg(v->db)), NULL;
	}
	*n = k;
	return names;
}

char **nx_vault_names(struct nx_vault *v, size_t *n, char *err, size_t errlen)
{
	return all_names(v, n, err, errlen);
}

void nx_vault_names_free(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

int nx_vault_rotate(struct nx_vault *v, const uint8_t newkey[NX_VAULT_KEY_BYTES],
                    uint32_t *newver, size_t *count, char *err, size_t errlen)
{
	if (!v->version)
		return nx_err(err, errlen, "%s holds no key version yet: nothing to rotate", v->path);
	uint32_t found, maxver;
	int nv;
	if (nx_vault_begin(v, err, errlen) < 0)
		return -1;
	size_t n = 0;
	char **names = NULL;
	int rc = find_version(v, newkey, &found, &nv, &maxver, err, errlen);
	if (rc == 0 && found)
		rc = nx_err(err, errlen, "the new key is already key version %u", found);
	if (rc == 0 && !(names = all_names(v, &n, err, errlen)))
		rc = -1;
	uint32_t ver = maxver + 1;
	if (rc == 0)
		rc = add_version(v, newkey, ver, err, errlen);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		json_t *cred;
		uint8_t *blob;
		size_t bl;
		if (nx_vault_get(v, names[i], &cred, err, errlen) < 0) {
			rc = -1;
			break;
		}
		rc = seal_cred(v, ver, newkey, names[i], cred, &blob, &bl, err, errlen);
		json_decref(cred);
		if (rc == 0) {
			rc = store_record(v, names[i], ver, blob, bl, err, errlen);
			free(blob);
		}
	}
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	if (rc == 0) {
		char sql[96];
		snprintf(sql, sizeof sql, "DELETE FROM keys WHERE version <> %u", ver);
		rc = exec_sql(v, sql, err, errlen);
	}
	if (rc == 0)
		rc = nx_vault_commit(v, err, errlen);
	if (rc < 0) {
		nx_vault_rollback(v);
		return -1;
	}
	memcpy(v->key, newkey, NX_VAULT_KEY_BYTES);
	v->version = ver;
	*newver = ver;
	*count = n;
	/* The old ciphertexts are still in the WAL until a checkpoint moves the new pages over
	 * them; a reader holding an old snapshot may delay it, which is harmless. */
	sqlite3_wal_checkpoint_v2(v->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	return 0;
}
