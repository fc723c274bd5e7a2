/* journal.h — nexus-agent's at-most-once record of command ids.
 *
 * An append-only file of JSON lines, each synced (fdatasync) before the caller goes on:
 *   {"id":"ID","st":"run"[,"rt":"RESPONSE-TOPIC","cd":"CORRELATION-DATA-BASE64URL"]}
 *       written before the handler starts;
 *   {"id":"ID","st":"done","ack":"ACK-JSON"}
 *       written when the reply is known, before it is sent.
 * At open, an id whose last record is "run" was interrupted (the agent died while its handler
 * ran); the caller answers it "interrupted" and finishes it. A redelivered id that is known is
 * never run again: "done" re-sends the stored ack. A torn last line (a crash inside write)
 * and lines that do not parse are skipped. The file is rewritten (temp + fsync + rename) at
 * open and whenever it holds more than a few times the ids kept; the oldest finished ids are
 * forgotten past max_ids. */
#ifndef NEXUS_AGENT_JOURNAL_H
#define NEXUS_AGENT_JOURNAL_H
#include <stddef.h>

#include "agent/command.h"

#define NX_JOURNAL_RT_MAX 256        /* response topic bytes */
#define NX_JOURNAL_CD_MAX 256        /* correlation data bytes */
#define NX_JOURNAL_LINE_MAX (4u << 20)

enum nx_jstate { NX_J_RUN = 1, NX_J_DONE = 2 };

struct nx_jrec {
	char id[NX_CMD_ID_MAX + 1];
	enum nx_jstate st;
	char rt[NX_JOURNAL_RT_MAX + 1];  /* "" none */
	unsigned char cd[NX_JOURNAL_CD_MAX];
	size_t cdlen;
	char *ack;                       /* malloc'd, NX_J_DONE only */
};

/* Parse one line (without its '\n'). 0 and *r filled (free r->ack), or -1 when the line is
 * not a journal record. Pure. */
int nx_journal_line_parse(const char *buf, size_t len, struct nx_jrec *r);

/* Walk every complete line of buf[0..len) in order, calling cb for each record; bytes after
 * the last '\n' are a torn write and are not used. *bad (may be NULL) counts skipped lines,
 * *torn the bytes after the last newline. cb takes ownership of r->ack. Pure. */
void nx_journal_scan(const char *buf, size_t len, void (*cb)(void *arg, struct nx_jrec *r),
                     void *arg, size_t *bad, size_t *torn);

struct nx_journal;

/* Open (create) the journal at path, keeping at most max_ids finished ids. */
int nx_journal_open(struct nx_journal **j, const char *path, int max_ids, char *err,
                    size_t errlen);
void nx_journal_close(struct nx_journal *j);

/* Lines skipped at open (torn or unreadable): for a log line. */
size_t nx_journal_skipped(const struct nx_journal *j);

/* The newest record of id, or NULL when the id is unknown. Valid until the next call. */
const struct nx_jrec *nx_journal_find(struct nx_journal *j, const char *id);

/* Calls cb for every id whose last record is "run". */
void nx_journal_each_running(struct nx_journal *j, void (*cb)(void *arg, const struct nx_jrec *r),
                             void *arg);

/* Append a "run" record (rt may be NULL, cd may be NULL) and sync it. */
int nx_journal_begin(struct nx_journal *j, const char *id, const char *rt, const void *cd,
                     size_t cdlen, char *err, size_t errlen);

/* Append the "done" record with its ack and sync it. */
int nx_journal_finish(struct nx_journal *j, const char *id, const char *ack, char *err,
                      size_t errlen);

#endif
