/* ws_tls.h — a WebSocket frame written straight into TLS records, no queue in between. */
#ifndef NEXUS_WS_TLS_H
#define NEXUS_WS_TLS_H
#include <stddef.h>

#include "wire/tls.h"
#include "wire/ws.h"

/* Frames with at least this much payload are worth writing straight into the records when
 * nothing is queued ahead of them; small ones are better queued for the loop round's flush,
 * where they share records. */
#define NX_WS_DIRECT_MIN 8192

/* Writes the frame's bytes from *done on into c's records as far as the socket takes
 * them, the last record sealed; *done says how far it got (the caller queues the rest with
 * nx_ws_out_copy). Returns 0, or NX_TLS_ERROR (the caller's next write says why). */
int nx_ws_out_tls(struct nx_tls *c, const struct nx_ws_out *f, size_t *done);

#endif
