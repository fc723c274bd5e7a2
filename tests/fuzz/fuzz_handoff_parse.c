/* libFuzzer target: the pure handoff parser (nx_handoff_parse), both message kinds — a
 * client connection ("NXH1") and a relay's UDP listener ("NXU1"). Whatever the bytes, it
 * refuses them or returns a message whose parts lie inside the input and agree with it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/handoff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nx_handoff h;
	char err[256];
	if (nx_handoff_parse(data, size, &h, err, sizeof err) != 1)
		return 0;
	size_t kl = strlen(h.route_key), al = strlen(h.client_addr);
	if (kl == 0 || kl > 255 || al > 63 || h.prelude_len > NX_HANDOFF_PRELUDE_MAX)
		abort();
	if (NX_HANDOFF_HDR + kl + al + h.prelude_len != size)
		abort();
	if (h.prelude_len && (h.prelude < data || h.prelude + h.prelude_len > data + size))
		abort();
	if (h.kind == NX_HANDOFF_UDP) {
		char want[16];
		snprintf(want, sizeof want, "udp:%u", h.conn_port);
		if (h.is_tls || h.prelude_len || strcmp(h.route_key, want) != 0)
			abort();
	}
	return 0;
}
