/* store_int.h — what store.c needs from each backend (store_sqlite.c, store_pg.c).
 * Internal to the store module: callers use store.h. */
#ifndef NEXUS_STORE_INT_H
#define NEXUS_STORE_INT_H
#include "bind/store.h"

struct nx_store_ops {
	int (*exec)(void *be, const char *sql, int n, const char *const *params,
	            struct nx_rows *rows, char *err, size_t errlen);
	int (*script)(void *be, const char *sql, char *err, size_t errlen);
	int (*begin)(void *be, char *err, size_t errlen);
	int (*commit)(void *be, char *err, size_t errlen);
	void (*rollback)(void *be);
	void (*close)(void *be);
};

int nx_store_sqlite_open(const char *path, void **be, const struct nx_store_ops **ops,
                         char *err, size_t errlen);
int nx_store_pg_open(const char *conninfo, void **be, const struct nx_store_ops **ops,
                     char *err, size_t errlen);

/* Append one row of `ncols` cells (copied; NULL stays NULL) to r. */
int nx_rows_append(struct nx_rows *r, int ncols, const char *const *cells);

#endif
