/* libFuzzer: nexus-bind ingest's read loop (bind/ingest.h nx_ingest_run) on untrusted
 * telemetry bytes: lines split across reads, over-long lines skipped, CR/LF and NUL bytes,
 * duplicate ids folded within a batch, batches written to an empty SQLite database. The
 * first byte picks the batch size (small batches exercise the commit path). Invariants:
 * no sanitizer report; every line is counted as written or bad; no more rows than lines. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bind/ingest.h"
#include "fuzz_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[NX_ERRLEN];
	struct nx_store *st = fuzz_store_get();
	if (!size || size > 60000) /* what one pipe holds without a reader */
		return 0;
	int p[2];
	if (pipe(p) < 0)
		abort();
	if (size > 1 && write(p[1], data + 1, size - 1) != (ssize_t)(size - 1))
		abort();
	close(p[1]);
	struct nx_ingest_opts o = {.batch = 1 + data[0] % 8, .flush_ms = 1000};
	struct nx_ingest_stats s = {0};
	int rc = nx_ingest_run(st, p[0], &o, &s, err, sizeof err);
	close(p[0]);
	if (rc == 0 && s.bad > s.lines)
		abort();
	if (rc == 0 && s.written > s.lines)
		abort();
	return 0;
}
