/* fuzz_store.h — for fuzz targets that need nexus-bind's store: an empty SQLite database
 * with the schema, in a directory of its own under /tmp, removed at exit. */
#ifndef NEXUS_FUZZ_STORE_H
#define NEXUS_FUZZ_STORE_H
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bind/bind.h"
#include "bind/store.h"
#include "core/util.h"

static char fuzz_store_dir[] = "/tmp/fuzz-store-XXXXXX";
static char fuzz_store_path[64];
static struct nx_store *fuzz_store;

static void fuzz_store_cleanup(void)
{
	if (fuzz_store)
		nx_store_close(fuzz_store);
	char f[96];
	static const char *const side[] = {"", "-wal", "-shm", "-journal"};
	for (size_t i = 0; i < sizeof side / sizeof *side; i++) {
		snprintf(f, sizeof f, "%s%s", fuzz_store_path, side[i]);
		unlink(f);
	}
	rmdir(fuzz_store_dir);
}

/* The store (made on the first call); aborts when it cannot be made. */
static struct nx_store *fuzz_store_get(void)
{
	char err[NX_ERRLEN];
	if (fuzz_store)
		return fuzz_store;
	if (!mkdtemp(fuzz_store_dir))
		abort();
	snprintf(fuzz_store_path, sizeof fuzz_store_path, "%s/bind.db", fuzz_store_dir);
	atexit(fuzz_store_cleanup);
	if (nx_store_open(fuzz_store_path, &fuzz_store, err, sizeof err) < 0 ||
	    nx_bind_migrate(fuzz_store, err, sizeof err) < 0) {
		fprintf(stderr, "fuzz store: %s\n", err);
		abort();
	}
	return fuzz_store;
}
#endif
