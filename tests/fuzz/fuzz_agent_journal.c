/* libFuzzer target: nexus-agent's journal reader walks bytes a crash may have torn or a disk
 * corrupted, exactly as nx_journal_open does. Every record it accepts must be well formed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/journal.h"

static void check(void *arg, struct nx_jrec *r)
{
	size_t *n = arg;
	size_t il = strnlen(r->id, sizeof r->id);
	if (il == 0 || il > NX_CMD_ID_MAX || strnlen(r->rt, sizeof r->rt) > NX_JOURNAL_RT_MAX ||
	    r->cdlen > NX_JOURNAL_CD_MAX)
		abort();
	if ((r->st == NX_J_DONE) != (r->ack != NULL) || (r->st != NX_J_DONE && r->st != NX_J_RUN))
		abort();
	free(r->ack);
	(*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = 0, bad = 0, torn = 0;
	nx_journal_scan((const char *)data, size, check, &n, &bad, &torn);
	if (torn > size)
		abort();
	return 0;
}
