/* credits.h — per-stream flow control of the hub protocol (shared/protocol.md §4), counted
 * in data frames, both directions, as a pure state machine the hub drives.
 *
 *   towards the backend (end user → backend): until the backend's first resume_stream the
 *   hub may send without limit (a Nexus Proxy backend grants 64 right after connect; the old
 *   client never grants); after it, one credit per data frame, and the hub stops reading the
 *   end user at zero. pause_stream (legacy) stops reading too; resume_stream lifts the pause
 *   but never creates credits it did not carry.
 *
 *   from the backend (backend → end user): connect grants the backend 64. As the hub writes
 *   a frame's bytes to the end user it owes one credit back; owed credits go out in batches
 *   of 8, so a stalled end user holds at most the window in the hub.
 *
 * Grants are clamped so at most 2^20 credits are ever outstanding. */
#ifndef NEXUS_CREDITS_H
#define NEXUS_CREDITS_H
#include <stdint.h>

#include "wire/hubproto.h"

#define NX_CREDITS_WINDOW NX_HUB_CREDIT_WINDOW
#define NX_CREDITS_BATCH NX_HUB_CREDIT_BATCH
#define NX_CREDITS_CLAMP ((uint32_t)NX_HUB_CREDIT_CLAMP)

struct nx_credits {
	uint8_t tx_limited; /* the backend has granted at least once */
	uint8_t paused;     /* pause_stream seen, no resume_stream since */
	uint32_t tx_avail;  /* data frames the hub may still send to the backend */
	int64_t rx_window;  /* data frames the backend may still send (< 0: it overran) */
	uint32_t rx_owed;   /* frames delivered to the end user, not yet given back */
};

void nx_credits_init(struct nx_credits *c);

/* May the hub read the end user and send one more data frame to the backend? */
int nx_credits_can_send(const struct nx_credits *c);
/* One data frame went to the backend. */
void nx_credits_sent(struct nx_credits *c);
/* resume_stream{credits:n} from the backend (n ≤ 0 grants nothing but still un-pauses). */
void nx_credits_grant(struct nx_credits *c, int64_t n);
/* pause_stream from the backend. */
void nx_credits_pause(struct nx_credits *c);

/* A data frame from the backend arrived. Returns 0, or -1 when the backend has now sent
 * more than it was granted (an old client that ignores credits; the caller bounds it by
 * bytes). */
int nx_credits_received(struct nx_credits *c);
/* One backend frame has been written out to the end user in full. Returns the number of
 * credits to send back now in a resume_stream (0, or a batch). */
uint32_t nx_credits_delivered(struct nx_credits *c);

#endif
