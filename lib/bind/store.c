/* store.c — see store.h. Picks the backend from the shape of `where`. */
#include "bind/store.h"
#include "bind/store_int.h"
#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct nx_store {
	enum nx_store_kind kind;
	void *be;
	const struct nx_store_ops *ops;
};

static int is_pg(const char *where)
{
	return nx_store_is_conninfo(where, NULL);
}

int nx_store_open(const char *where, struct nx_store **out, char *err, size_t errlen)
{
	if (!where || !*where)
		return nx_err(err, errlen, "no database given");
	struct nx_store *st = calloc(1, sizeof *st);
	if (!st)
		return nx_err(err, errlen, "out of memory");
	int rc;
	if (is_pg(where)) {
		st->kind = NX_STORE_PG;
		rc = nx_store_pg_open(where, &st->be, &st->ops, err, errlen);
	} else {
		st->kind = NX_STORE_SQLITE;
		rc = nx_store_sqlite_open(where, &st->be, &st->ops, err, errlen);
	}
	if (rc < 0) {
		free(st);
		return -1;
	}
	*out = st;
	return 0;
}

int nx_store_open_existing(const char *where, struct nx_store **out, char *err, size_t errlen)
{
	struct stat sb;
	if (where && *where && !is_pg(where) && stat(where, &sb) < 0 && errno == ENOENT)
		return nx_err(err, errlen,
		              "%s: no such database (a code, claim or ingest creates it; --db or "
		              "NEXUS_DB names another)", where);
	return nx_store_open(where, out, err, errlen);
}

const char *nx_store_beside(const char *where, const char *name, char *buf, size_t n)
{
	if (!where || !*where || is_pg(where))
		return NULL;
	const char *slash = strrchr(where, '/');
	if (!slash)
		snprintf(buf, n, "%s", name);
	else
		snprintf(buf, n, "%.*s/%s", (int)(slash - where), where, name);
	return buf;
}

void nx_store_close(struct nx_store *st)
{
	if (!st)
		return;
	st->ops->close(st->be);
	free(st);
}

enum nx_store_kind nx_store_kind(const struct nx_store *st) { return st->kind; }

int nx_store_begin(struct nx_store *st, char *err, size_t errlen)
{
	return st->ops->begin(st->be, err, errlen);
}

int nx_store_commit(struct nx_store *st, char *err, size_t errlen)
{
	return st->ops->commit(st->be, err, errlen);
}

void nx_store_rollback(struct nx_store *st) { st->ops->rollback(st->be); }

int nx_store_exec(struct nx_store *st, const char *sql, int nparams, const char *const *params,
                  struct nx_rows *rows, char *err, size_t errlen)
{
	if (rows)
		memset(rows, 0, sizeof *rows);
	int rc = st->ops->exec(st->be, sql, nparams, params, rows, err, errlen);
	if (rc < 0 && rows)
		nx_rows_free(rows);
	return rc;
}

int nx_store_script(struct nx_store *st, const char *sql, char *err, size_t errlen)
{
	return st->ops->script(st->be, sql, err, errlen);
}

const char *nx_rows_get(const struct nx_rows *r, int row, int col)
{
	if (!r || row < 0 || row >= r->nrows || col < 0 || col >= r->ncols)
		return NULL;
	return r->cell[(size_t)row * (size_t)r->ncols + (size_t)col];
}

void nx_rows_free(struct nx_rows *r)
{
	if (!r)
		return;
	size_t n = (size_t)r->nrows * (size_t)r->ncols;
	for (size_t i = 0; i < n; i++)
		free(r->cell[i]);
	free(r->cell);
	memset(r, 0, sizeof *r);
}

int nx_rows_append(struct nx_rows *r, int ncols, const char *const *cells)
{
	size_t base = (size_t)r->nrows * (size_t)ncols;
	char **nc = realloc(r->cell, (base + (size_t)ncols) * sizeof *nc);
	if (!nc)
		return -1;
	r->cell = nc;
	r->ncols = ncols;
	for (int i = 0; i < ncols; i++) {
		nc[base + (size_t)i] = NULL;
		if (cells[i] && !(nc[base + (size_t)i] = strdup(cells[i]))) {
			for (int j = 0; j < i; j++)
				free(nc[base + (size_t)j]);
			return -1;
		}
	}
	r->nrows++;
	return 0;
}
