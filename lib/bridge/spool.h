/* spool.h — the append-only spool that makes nexus-mqtt2kafka at-least-once.
 *
 * A directory of segment files "seg-NNNNNNNNNN.nxs" holding spoolrec.h records. Every MQTT
 * message is appended (one writev(2)) before the MQTT callback returns, i.e. before the
 * PUBACK can leave; each record counts as outstanding in its segment until Kafka confirms
 * it (nx_spool_done). A segment that is no longer written to and has nothing outstanding is
 * unlinked. On open, segments left by an earlier run are listed for nx_spool_replay; a torn
 * last record (the process died inside a write) is skipped and counted, never fatal.
 *
 * Each append gets a ticket (a sequence number). Kafka confirms out of order across
 * partitions, so the spool keeps the low-water mark: the position up to which every record
 * is confirmed. It is written to the file "acked" (at most every 50 ms and on close) and
 * replay starts there, so a restart after a crash resends only what was in flight, not
 * whole segments. A missing or damaged "acked" file only means more duplicates.
 *
 * The directory is locked (flock on "lock") so two bridges cannot share it. Not thread
 * safe: the caller serialises calls. */
#ifndef NEXUS_SPOOL_H
#define NEXUS_SPOOL_H
#include <stddef.h>
#include <stdint.h>

#include "bridge/spoolrec.h"

struct nx_spool;

struct nx_spool_opts {
	const char *dir;
	uint64_t max_bytes;      /* nx_spool_full() once the segments add up to this */
	uint64_t segment_bytes;  /* start a new segment past this size */
	int fsync;               /* fdatasync after every append (power-loss safe, slow) */
};

int nx_spool_open(struct nx_spool **sp, const struct nx_spool_opts *o, char *err, size_t errlen);
void nx_spool_close(struct nx_spool *sp);

struct nx_spool_replay_stats {
	uint64_t records;      /* handed to the callback */
	uint64_t skipped;      /* before the acked mark: already in Kafka */
	uint64_t torn_bytes;   /* skipped at a segment's end (torn or corrupt) */
	unsigned segments;     /* segments read */
};

/* Call fn for each unconfirmed record left by an earlier run, oldest first. Each record is
 * outstanding under `ticket` before fn runs; fn must eventually nx_spool_done(ticket) it. A
 * segment stays on disk at least until its replay is over. fn returning -1 stops the replay
 * with -1 (err left to fn's caller). */
typedef int (*nx_spool_replay_fn)(void *ctx, const struct nx_spool_rec *rec, uint64_t ticket);
int nx_spool_replay(struct nx_spool *sp, nx_spool_replay_fn fn, void *ctx,
                    struct nx_spool_replay_stats *st, char *err, size_t errlen);

/* Append rec to the current segment; *ticket is what to nx_spool_done once delivered. */
int nx_spool_append(struct nx_spool *sp, const struct nx_spool_rec *rec, uint64_t *ticket,
                    char *err, size_t errlen);

/* The record with this ticket is delivered: advance the mark, unlink finished segments. */
void nx_spool_done(struct nx_spool *sp, uint64_t ticket);

int nx_spool_full(const struct nx_spool *sp);
uint64_t nx_spool_bytes(const struct nx_spool *sp);
uint64_t nx_spool_outstanding(const struct nx_spool *sp);
unsigned nx_spool_segments(const struct nx_spool *sp);

#endif
