/* ws.h — WebSocket (RFC 6455): frame parser, message reader, encoder, HTTP upgrade.
 *
 * No I/O here: callers move bytes (usually through tls.h) and hand them in. Everything that
 * parses untrusted bytes takes (buf, len) and returns done / need-more / invalid, and is
 * fuzzed (tests/fuzz/fuzz_ws_frame.c).
 *
 * Roles: the server (hub) expects masked frames and sends unmasked ones; the client
 * (tunnel) the other way round. No extensions, no subprotocols: RSV bits must be 0.
 *
 * Receiving: feed bytes to a struct nx_ws_reader; it returns one event at a time (a
 * complete text/binary message, a ping, a pong, a close) and reassembles fragmented
 * messages (the Go backend sends 4096-byte continuation frames) with the size limit applied
 * to the reassembled message. Control frames between fragments are delivered at once.
 *
 * Sending: nx_ws_frame_encode() writes one whole frame (a message is always sent as one
 * frame); a client passes a fresh random 4-byte mask per frame (from its RNG). */
#ifndef NEXUS_WS_H
#define NEXUS_WS_H
#include <stddef.h>
#include <stdint.h>

enum nx_ws_opcode {
	NX_WS_OP_CONT = 0x0,
	NX_WS_OP_TEXT = 0x1,
	NX_WS_OP_BINARY = 0x2,
	NX_WS_OP_CLOSE = 0x8,
	NX_WS_OP_PING = 0x9,
	NX_WS_OP_PONG = 0xA,
};

enum nx_ws_role {
	NX_WS_SERVER = 0, /* receives masked frames, sends unmasked */
	NX_WS_CLIENT = 1, /* receives unmasked frames, sends masked */
};

/* Close codes used here. */
enum {
	NX_WS_CLOSE_NORMAL = 1000,
	NX_WS_CLOSE_GOING_AWAY = 1001,
	NX_WS_CLOSE_PROTOCOL = 1002,
	NX_WS_CLOSE_UNSUPPORTED = 1003,
	NX_WS_CLOSE_NO_STATUS = 1005, /* never on the wire: "close frame without a code" */
	NX_WS_CLOSE_INVALID_DATA = 1007,
	NX_WS_CLOSE_POLICY = 1008, /* the hub's "authentication failed" */
	NX_WS_CLOSE_TOO_BIG = 1009,
	NX_WS_CLOSE_INTERNAL = 1011,
	NX_WS_CLOSE_TRY_AGAIN = 1013, /* a temporary condition: the hub's session caps */
};

#define NX_WS_MAX_HEADER 14         /* 2 + 8 (64-bit length) + 4 (mask) */
#define NX_WS_MAX_CONTROL 125       /* control frame payload limit */
#define NX_WS_MAX_CLOSE_REASON 123  /* 125 minus the 2-byte code */

/* Results of the pure parsers. */
enum nx_ws_parse {
	NX_WS_INVALID = -1,
	NX_WS_NEED = 0, /* need more bytes */
	NX_WS_DONE = 1,
};

/* ---- frames ---------------------------------------------------------------------------- */

struct nx_ws_frame_header {
	uint8_t fin;
	uint8_t opcode;   /* enum nx_ws_opcode */
	uint8_t masked;
	uint8_t mask[4];  /* valid when masked */
	uint64_t payload_len;
	size_t header_len; /* bytes the header took (2..14) */
	uint16_t close_code; /* on NX_WS_INVALID: the code to close with (1002 or 1009) */
};

/* Parse one frame header from buf. NX_WS_DONE fills h; NX_WS_NEED: not enough bytes yet;
 * NX_WS_INVALID (reason in err, h->close_code set): RSV bits set, unknown opcode, a frame
 * masked/unmasked contrary to role (role = who is receiving), a control frame longer than
 * 125 or not FIN, a non-minimal or >2^63 64-bit length, or payload_len > max_payload. */
int nx_ws_parse_header(const uint8_t *buf, size_t len, enum nx_ws_role role,
                       uint64_t max_payload, struct nx_ws_frame_header *h, char *err,
                       size_t errlen);

/* XOR p[0..n) with the mask, as if p started at payload offset `offset` (streaming). */
void nx_ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], uint64_t offset);
/* dst[i] = src[i] ^ mask, in one pass (dst == src: in place). */
void nx_ws_mask_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t mask[4],
                     uint64_t offset);

/* Size of a frame with this payload length (masked or not). */
size_t nx_ws_frame_size(uint64_t payload_len, int masked);

/* Write a frame header into out (NX_WS_MAX_HEADER bytes room); mask NULL = unmasked.
 * Returns its length. */
size_t nx_ws_header_encode(uint8_t *out, int fin, enum nx_ws_opcode op, uint64_t payload_len,
                           const uint8_t *mask);

/* Write a whole FIN frame (header + payload, masked with mask unless NULL) into out.
 * Returns its length, or 0 if cap is too small or a control payload exceeds 125 bytes.
 * payload may be NULL when len is 0. out and payload must not overlap. */
size_t nx_ws_frame_encode(uint8_t *out, size_t cap, enum nx_ws_opcode op, const void *payload,
                          size_t len, const uint8_t *mask);

/* An outgoing frame in pieces: the header, then the payload in two parts (a, then b),
 * masked unless mask is NULL. nx_ws_out_copy writes the frame's bytes [from, from + n)
 * into dst, so one frame can be spread over buffers and TLS records. a and b must stay
 * put while the frame is being copied. */
struct nx_ws_out {
	uint8_t hdr[NX_WS_MAX_HEADER];
	uint8_t mask[4];
	int masked;
	size_t hl, total;
	const uint8_t *a, *b;
	size_t alen, blen;
};
void nx_ws_out_init(struct nx_ws_out *f, enum nx_ws_opcode op, const void *a, size_t alen,
                    const void *b, size_t blen, const uint8_t *mask);
void nx_ws_out_copy(uint8_t *dst, const struct nx_ws_out *f, size_t from, size_t n);

/* A close frame with code and reason (reason cut to NX_WS_MAX_CLOSE_REASON bytes, at a
 * UTF-8 boundary). code 0 = an empty close frame. Returns its length or 0. */
size_t nx_ws_close_encode(uint8_t *out, size_t cap, uint16_t code, const char *reason,
                          const uint8_t *mask);

/* ---- message reader -------------------------------------------------------------------- */

enum nx_ws_event {
	NX_WS_EV_ERROR = -1, /* protocol violation: close with msg.close_code, reason in err */
	NX_WS_EV_NEED = 0,   /* all input consumed, nothing complete yet */
	NX_WS_EV_TEXT = 1,   /* a complete text message (UTF-8 is not checked) */
	NX_WS_EV_BINARY = 2,
	NX_WS_EV_PING = 3,
	NX_WS_EV_PONG = 4,
	NX_WS_EV_CLOSE = 5,  /* msg.close_code (NX_WS_CLOSE_NO_STATUS if none) and reason */
};

struct nx_ws_msg {
	const uint8_t *data; /* payload; valid until the next nx_ws_reader_feed/free */
	size_t len;
	uint16_t close_code; /* EV_CLOSE: peer's code; EV_ERROR: code to close with */
	const char *reason;  /* EV_CLOSE: NUL-terminated reason ("" if none) */
};

struct nx_ws_reader {
	enum nx_ws_role role;
	size_t max_message;
	/* current frame */
	uint8_t hdr[NX_WS_MAX_HEADER];
	size_t hdr_have;
	struct nx_ws_frame_header fh;
	int in_frame;        /* header parsed, payload being read */
	uint64_t frame_have; /* payload bytes of the current frame read so far */
	/* data message being assembled (possibly over several frames) */
	uint8_t *msg;
	size_t msg_len, msg_cap;
	uint8_t msg_opcode; /* 0 = none in progress */
	/* control frame payload (+1 for the NUL after a close reason) */
	uint8_t ctl[NX_WS_MAX_CONTROL + 1];
	int failed;
};

/* role: who receives (NX_WS_SERVER for the hub). max_message: limit on a reassembled
 * text/binary message (NX_HUB_MAX_MESSAGE for the hub protocol). No allocation until the
 * first data frame; the message buffer grows to the largest message seen. */
void nx_ws_reader_init(struct nx_ws_reader *r, enum nx_ws_role role, size_t max_message);
void nx_ws_reader_free(struct nx_ws_reader *r);

/* Consume bytes from buf until one event is complete or buf is used up; *used tells how
 * many bytes were taken (callers loop: feed the rest until NX_WS_EV_NEED). Returns the
 * event and fills msg. After NX_WS_EV_ERROR the reader stays failed.
 * buf is read only; unmasking happens in the reader's own buffers. */
int nx_ws_reader_feed(struct nx_ws_reader *r, const uint8_t *buf, size_t len, size_t *used,
                      struct nx_ws_msg *msg, char *err, size_t errlen);

/* Bytes of heap the reader holds now. */
size_t nx_ws_reader_heap(const struct nx_ws_reader *r);

/* ---- HTTP upgrade ---------------------------------------------------------------------- */

#define NX_WS_KEY_LEN 24    /* base64 of 16 random bytes */
#define NX_WS_ACCEPT_LEN 28 /* base64 of a SHA-1 */
#define NX_WS_MAX_HEAD 8192 /* a longer upgrade head is invalid */

/* Sec-WebSocket-Key from 16 random bytes (standard base64, NUL-terminated). */
void nx_ws_make_key(const uint8_t nonce[16], char key[NX_WS_KEY_LEN + 1]);
/* Sec-WebSocket-Accept for a key: base64(SHA-1(key ‖ GUID)). */
void nx_ws_accept_for(const char *key, size_t keylen, char accept[NX_WS_ACCEPT_LEN + 1]);

/* The client's upgrade request, exactly as the Go client sends it:
 *   GET <path> HTTP/1.1, Host, User-Agent, Connection: Upgrade, Sec-WebSocket-Key,
 *   Sec-WebSocket-Version: 13, Upgrade: websocket.
 * host is the Host header value ("hub.example.com:8443"; a default port is left out by the
 * caller). user_agent NULL = "Go-http-client/1.1" (what Nexus Proxy backends send).
 * Returns the length written (NUL-terminated) or -1 if cap is too small. */
int nx_ws_client_request(char *out, size_t cap, const char *host, const char *path,
                         const char *key, const char *user_agent);

/* Parse the server's answer to our request. NX_WS_DONE: *head_len bytes were the head
 * (bytes after it are already WebSocket frames), *status the HTTP status; it is 101 only
 * if Upgrade/Connection are right and Sec-WebSocket-Accept matches key, else
 * NX_WS_INVALID with the reason ("hub answered 404 Not Found", "bad Sec-WebSocket-Accept").
 * NX_WS_NEED until the blank line (invalid beyond NX_WS_MAX_HEAD). */
int nx_ws_client_parse_response(const char *buf, size_t len, const char *key, size_t *head_len,
                                int *status, char *err, size_t errlen);

struct nx_ws_request {
	int status;   /* what to answer: 101, 400 (malformed / not a WebSocket upgrade),
	                 404 (other path), 405 (not GET), 426 (Sec-WebSocket-Version != 13) */
	char path[256];
	char host[256];
	char user_agent[128];
	char key[NX_WS_KEY_LEN + 1];
	size_t head_len;  /* bytes of the request head (frames may follow) */
};

/* Parse a client's upgrade request (server side). want_path: the one path served
 * ("/connect"); others get status 404. Any Origin, subprotocols and extensions are not
 * negotiated (ignored). NX_WS_DONE: req filled, req->status says what to answer (a
 * well-formed request for another path is DONE with 404, not INVALID); NX_WS_NEED;
 * NX_WS_INVALID: not HTTP at all or head over NX_WS_MAX_HEAD (answer 400 and close). */
int nx_ws_server_parse_request(const char *buf, size_t len, const char *want_path,
                               struct nx_ws_request *req, char *err, size_t errlen);

/* The server's answer for req->status: the 101 (Upgrade, Connection, Sec-WebSocket-Accept,
 * like the Go server) or a short error response with Connection: close.
 * Returns the length (NUL-terminated) or -1 if cap is too small (512 is always enough). */
int nx_ws_server_response(char *out, size_t cap, const struct nx_ws_request *req);

#endif
