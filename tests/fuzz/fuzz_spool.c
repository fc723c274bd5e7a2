/* libFuzzer target: the spool record reader walks bytes from disk that a crash may have torn
 * or the disk corrupted, exactly as replay does. Every record it accepts must lie inside the
 * input and re-encode to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/spoolrec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	while (off < size) {
		struct nx_spool_rec r;
		size_t used = 0;
		if (nx_spool_rec_parse(data + off, size - off, &r, &used) != NX_SPOOL_DONE)
			break;
		if (used == 0 || used > size - off)
			abort();
		const uint8_t *lo = data + off, *hi = data + off + used;
		if ((const uint8_t *)r.topic < lo || (const uint8_t *)r.topic + r.topic_len > hi ||
		    (const uint8_t *)r.payload < lo || (const uint8_t *)r.payload + r.payload_len > hi)
			abort();
		uint8_t head[NX_SPOOL_HDR + NX_SPOOL_FIXED];
		if (nx_spool_rec_head(head, &r) != used || memcmp(head, lo, sizeof head) != 0)
			abort();
		off += used;
	}
	return 0;
}
