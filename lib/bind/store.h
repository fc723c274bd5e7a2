/* store.h — the one small database interface nexus-bind runs on: SQLite (one file, WAL) or
 * PostgreSQL (libpq) behind the same calls, so every query is written once for both.
 *
 * Statements use $1..$n placeholders in both dialects; parameters and results travel as
 * text (NULL for SQL NULL). Where the dialects truly differ (DDL, batch upserts) a caller
 * picks its text with nx_store_kind(). Every write happens between nx_store_begin() and
 * nx_store_commit(): on SQLite the transaction takes the write lock up front (BEGIN
 * IMMEDIATE) so two writers never deadlock upgrading a read lock; on PostgreSQL row locks
 * taken by UPDATE ... WHERE ... RETURNING serialise competing writers the same way. */
#ifndef NEXUS_STORE_H
#define NEXUS_STORE_H
#include <stddef.h>

enum nx_store_kind { NX_STORE_SQLITE = 1, NX_STORE_PG = 2 };

struct nx_store;

/* Rows of text cells, row-major; a cell is NULL for SQL NULL. */
struct nx_rows {
	int nrows, ncols;
	char **cell;
};

/* `where` is a file path (SQLite, created with its directory missing parents) or a
 * postgresql:// / postgres:// URI or a "host=... dbname=..." conninfo string. */
int nx_store_open(const char *where, struct nx_store **out, char *err, size_t errlen);
/* The same, for callers that only read: a SQLite file that does not exist is an error
 * naming it, never a new empty database (which would answer "nothing bound" for a typo). */
int nx_store_open_existing(const char *where, struct nx_store **out, char *err, size_t errlen);
/* Where a file that belongs with the database goes: `name` in a SQLite file's directory.
 * NULL for PostgreSQL (there is no file to be beside). */
const char *nx_store_beside(const char *where, const char *name, char *buf, size_t n);

/* 1 when `s` is a PostgreSQL connection string as libpq reads it (a postgresql:// or
 * postgres:// URI, or key = value pairs, parsed by PQconninfoParse, so "password = x",
 * quoting and ?password= in a URI are all seen); *has_password (may be NULL) is then 1
 * when it carries a non-empty password. 0 for anything else (a SQLite path). A string that
 * starts like a URI but does not parse is a connection string too, with *has_password 1
 * when it mentions a password at all: it cannot be told apart, so it is not trusted. */
int nx_store_is_conninfo(const char *s, int *has_password);
void nx_store_close(struct nx_store *st);
enum nx_store_kind nx_store_kind(const struct nx_store *st);

int nx_store_begin(struct nx_store *st, char *err, size_t errlen);
int nx_store_commit(struct nx_store *st, char *err, size_t errlen);
/* Never fails from the caller's point of view; safe when no transaction is open. */
void nx_store_rollback(struct nx_store *st);

/* Run one statement. `rows` may be NULL when the caller wants no result. Returns the
 * number of rows returned or changed (>= 0), or -1. A unique-key violation is reported as
 * NX_STORE_CONFLICT so callers can tell "someone else got there first" from a failure. */
#define NX_STORE_CONFLICT (-2)
int nx_store_exec(struct nx_store *st, const char *sql, int nparams, const char *const *params,
                  struct nx_rows *rows, char *err, size_t errlen);

/* Several statements separated by ';', no parameters, no result (schema migrations). */
int nx_store_script(struct nx_store *st, const char *sql, char *err, size_t errlen);

const char *nx_rows_get(const struct nx_rows *r, int row, int col);
void nx_rows_free(struct nx_rows *r);

#endif
