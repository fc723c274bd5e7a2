/* libFuzzer: WebSocket frame parser, message reader and upgrade heads on arbitrary bytes.
 * Byte 0 picks the role and the chunk size the reader is fed with; the rest is the stream. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wire/hubproto.h"
#include "wire/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	enum nx_ws_role role = data[0] & 1 ? NX_WS_SERVER : NX_WS_CLIENT;
	size_t chunk = (data[0] >> 1) + 1;
	data++;
	size--;
	char err[256];
	struct nx_ws_frame_header h;
	nx_ws_parse_header(data, size, role, NX_HUB_MAX_MESSAGE, &h, err, sizeof err);

	struct nx_ws_reader r;
	nx_ws_reader_init(&r, role, NX_HUB_MAX_MESSAGE);
	size_t off = 0;
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk, used;
		struct nx_ws_msg m;
		int ev = nx_ws_reader_feed(&r, data + off, n, &used, &m, err, sizeof err);
		if (ev == NX_WS_EV_ERROR)
			break;
		if (used > n)
			__builtin_trap();
		if (ev != NX_WS_EV_NEED && m.len) {
			volatile uint8_t sink = m.data[0] ^ m.data[m.len - 1];
			(void)sink;
		}
		if (ev == NX_WS_EV_CLOSE)
			(void)strlen(m.reason);
		off += used;
		if (used == 0 && ev == NX_WS_EV_NEED)
			break;
	}
	nx_ws_reader_free(&r);

	/* the same bytes as an upgrade request and as a response */
	struct nx_ws_request req;
	if (nx_ws_server_parse_request((const char *)data, size, "/connect", &req, err, sizeof err) ==
	    NX_WS_DONE) {
		char out[600];
		if (req.head_len > size || nx_ws_server_response(out, sizeof out, &req) < 0)
			__builtin_trap();
	}
	size_t hl;
	int st;
	nx_ws_client_parse_response((const char *)data, size, "dGhlIHNhbXBsZSBub25jZQ==", &hl, &st,
	                            err, sizeof err);
	return 0;
}
