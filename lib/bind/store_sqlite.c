/* store_sqlite.c — the SQLite backend of store.h: one file in WAL mode, prepared
 * statements cached by their text so hot loops (ingest) never re-parse SQL. */
#include "bind/store_int.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STMT_CACHE 32

struct sq {
	sqlite3 *db;
	struct {
		char *sql;
		sqlite3_stmt *stmt;
	} cache[STMT_CACHE];
	int ncache;
};

/* mkdir -p for the directory that will hold the database file. */
static int make_parent(const char *path, char *err, size_t errlen)
{
	char *copy = strdup(path);
	if (!copy)
		return nx_err(err, errlen, "out of memory");
	char *dir = dirname(copy);
	int rc = 0;
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			rc = nx_err(err, errlen, "%s: %s", dir, strerror(errno));
		*p = '/';
		if (rc < 0)
			break;
	}
	if (rc == 0 && mkdir(dir, 0700) < 0 && errno != EEXIST)
		rc = nx_err(err, errlen, "%s: %s", dir, strerror(errno));
	free(copy);
	return rc;
}

static int sq_simple(struct sq *s, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		nx_err(err, errlen, "sqlite: %s", msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static sqlite3_stmt *sq_prepare(struct sq *s, const char *sql, char *err, size_t errlen)
{
	for (int i = 0; i < s->ncache; i++)
		if (strcmp(s->cache[i].sql, sql) == 0)
			return s->cache[i].stmt;
	sqlite3_stmt *stmt;
	if (sqlite3_prepare_v2(s->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		nx_err(err, errlen, "sqlite: %s", sqlite3_errmsg(s->db));
		return NULL;
	}
	/* Full cache: the last slot is recycled, so the statements prepared first (the
	 * hot ones, in practice) stay. */
	int slot = s->ncache < STMT_CACHE ? s->ncache : STMT_CACHE - 1;
	char *copy = strdup(sql);
	if (!copy) {
		sqlite3_finalize(stmt);
		nx_err(err, errlen, "out of memory");
		return NULL;
	}
	if (slot < s->ncache) {
		sqlite3_finalize(s->cache[slot].stmt);
		free(s->cache[slot].sql);
	} else {
		s->ncache++;
	}
	s->cache[slot].sql = copy;
	s->cache[slot].stmt = stmt;
	return stmt;
}

static int sq_exec(void *be, const char *sql, int n, const char *const *params,
                   struct nx_rows *rows, char *err, size_t errlen)
{
	struct sq *s = be;
	sqlite3_stmt *stmt = sq_prepare(s, sql, err, errlen);
	if (!stmt)
		return -1;
	for (int i = 0; i < n; i++) {
		char name[16];
		snprintf(name, sizeof name, "$%d", i + 1);
		int idx = sqlite3_bind_parameter_index(stmt, name);
		if (idx == 0)
			continue;
		int rc = params[i] ? sqlite3_bind_text(stmt, idx, params[i], -1, SQLITE_STATIC)
		                   : sqlite3_bind_null(stmt, idx);
		if (rc != SQLITE_OK) {
			sqlite3_reset(stmt);
			return nx_err(err, errlen, "sqlite: %s", sqlite3_errmsg(s->db));
		}
	}
	int ncols = sqlite3_column_count(stmt), nrows = 0, rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		nrows++;
		if (!rows)
			continue;
		const char *cells[64];
		int nc = ncols < 64 ? ncols : 64;
		for (int c = 0; c < nc; c++)
			cells[c] = (const char *)sqlite3_column_text(stmt, c);
		if (nx_rows_append(rows, nc, cells) < 0) {
			sqlite3_reset(stmt);
			sqlite3_clear_bindings(stmt);
			return nx_err(err, errlen, "out of memory");
		}
	}
	int ext = sqlite3_extended_errcode(s->db);
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if (rc != SQLITE_DONE) {
		if (ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE) {
			nx_err(err, errlen, "sqlite: %s", sqlite3_errmsg(s->db));
			return NX_STORE_CONFLICT;
		}
		return nx_err(err, errlen, "sqlite: %s", sqlite3_errmsg(s->db));
	}
	return ncols > 0 ? nrows : sqlite3_changes(s->db);
}

static int sq_script(void *be, const char *sql, char *err, size_t errlen)
{
	return sq_simple(be, sql, err, errlen);
}

static int sq_begin(void *be, char *err, size_t errlen)
{
	/* IMMEDIATE: take the write lock now; a deferred transaction that reads first and
	 * writes later can fail with SQLITE_BUSY instead of waiting its turn. */
	return sq_simple(be, "BEGIN IMMEDIATE", err, errlen);
}

static int sq_commit(void *be, char *err, size_t errlen)
{
	return sq_simple(be, "COMMIT", err, errlen);
}

static void sq_rollback(void *be)
{
	struct sq *s = be;
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static void sq_close(void *be)
{
	struct sq *s = be;
	for (int i = 0; i < s->ncache; i++) {
		sqlite3_finalize(s->cache[i].stmt);
		free(s->cache[i].sql);
	}
	sqlite3_close(s->db);
	free(s);
}

static const struct nx_store_ops sqlite_ops = {
    sq_exec, sq_script, sq_begin, sq_commit, sq_rollback, sq_close,
};

int nx_store_sqlite_open(const char *path, void **be, const struct nx_store_ops **ops,
                         char *err, size_t errlen)
{
	if (make_parent(path, err, errlen) < 0)
		return -1;
	/* Create the file ourselves, 0600: it holds who owns what and the code hashes, and
	 * SQLite gives its -wal and -shm files the database file's mode. */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return nx_err(err, errlen, "%s: %s", path, strerror(errno));
	close(fd);
	struct sq *s = calloc(1, sizeof *s);
	if (!s)
		return nx_err(err, errlen, "out of memory");
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		nx_err(err, errlen, "%s: %s", path, s->db ? sqlite3_errmsg(s->db) : "cannot open");
		sqlite3_close(s->db);
		free(s);
		return -1;
	}
	sqlite3_busy_timeout(s->db, 15000);
	sqlite3_extended_result_codes(s->db, 1);
	/* WAL: readers never block the writer; synchronous=NORMAL keeps every committed
	 * transaction across a process crash (only a power cut may lose the last ones).
	 * Turning a new file to WAL takes its exclusive lock without calling the busy
	 * handler, so when several processes use a new database at once the losers get
	 * "database is locked" straight away: they wait their turn here instead, within
	 * the same 15 s as every other lock. */
	int rc = -1;
	for (int tries = 0; tries < 15000 / 5; tries++) {
		rc = sq_simple(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", err, errlen);
		if (rc == 0 || (sqlite3_errcode(s->db) & 0xff) != SQLITE_BUSY)
			break;
		usleep(5000);
	}
	if (rc < 0) {
		char e2[NX_ERRLEN];
		snprintf(e2, sizeof e2, "%s: %s", path, err);
		nx_err(err, errlen, "%s", e2);
		sq_close(s);
		return -1;
	}
	*be = s;
	*ops = &sqlite_ops;
	return 0;
}
