/* ingest.h — telemetry lines into each device's latest state.
 *
 * A line is a JSON object, optionally prefixed by "KEY<TAB>" (kcat -f '%k\t%s\n'). The
 * device id is the value at a dotted path inside the object (default "id"; a string or an
 * integer), or the KEY when the object has no such field. The state stored is the
 * object's text exactly as it arrived, so a device's state equals its last line.
 *
 * nx_ingest_parse_line() is pure (buf, len) → result and is what the fuzzer drives;
 * nx_ingest_run() reads a descriptor and writes batches, one transaction each, so a kill
 * loses at most the batch in flight and never leaves half of one. */
#ifndef NEXUS_INGEST_H
#define NEXUS_INGEST_H
#include <stddef.h>
#include <stdint.h>

#include "bind/store.h"

#define NX_DEVICE_ID_MAX 128
#define NX_INGEST_LINE_MAX (1u << 20)

enum nx_ingest_parse { NX_INGEST_OK = 0, NX_INGEST_INVALID = -1 };

/* On NX_INGEST_OK: id (NUL-terminated, <= NX_DEVICE_ID_MAX bytes) and the object's text
 * as a slice of buf (*json, *jsonlen). On NX_INGEST_INVALID: a one-line reason in err. */
int nx_ingest_parse_line(const char *buf, size_t len, const char *id_path,
                         char id[NX_DEVICE_ID_MAX + 1], const char **json, size_t *jsonlen,
                         char *err, size_t errlen);

/* 1 if s is acceptable as a device id or owner name: 1..NX_DEVICE_ID_MAX bytes, no
 * whitespace or control bytes. */
int nx_ingest_name_ok(const char *s, size_t len);

struct nx_ingest_opts {
	const char *id_path;  /* default "id" */
	unsigned batch;       /* lines per transaction, default 5000 */
	uint64_t flush_ms;    /* commit a partial batch after this much idle input */
	/* Called for each bad line (1-based number, reason); may be NULL. */
	void (*on_bad)(void *arg, uint64_t lineno, const char *reason);
	void *arg;
	volatile int *stop;   /* set from a signal handler: commit what is read and return */
};

struct nx_ingest_stats {
	uint64_t lines, bad, batches, written;
};

/* Read lines from fd until EOF (or *stop), writing batches. Returns 0, or -1 when the
 * store failed (the batch in flight is rolled back; earlier ones stay committed). */
int nx_ingest_run(struct nx_store *st, int fd, const struct nx_ingest_opts *o,
                  struct nx_ingest_stats *stats, char *err, size_t errlen);

#endif
