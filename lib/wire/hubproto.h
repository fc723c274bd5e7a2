/* hubproto.h — the Nexus Proxy backend protocol (shared/protocol.md §2–4) above WebSocket.
 *
 * Binary messages: 0x01 ‖ 16-byte client id ‖ stream bytes (data), or 0x02 ‖ JSON (control).
 * Text messages: JWTs from the backend, and the hub's {"type":"handshake_challenge"|
 * "reauth_challenge","nonce":…} challenges. Pure functions, no I/O; parsers of peer bytes
 * are fuzzed (tests/fuzz/fuzz_control.c) and tested against the captured Go traffic in
 * shared/vectors/ (tests/unit/test_hubproto.c). */
#ifndef NEXUS_HUBPROTO_H
#define NEXUS_HUBPROTO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NX_HUB_PATH "/connect"
#define NX_HUB_MSG_DATA 0x01
#define NX_HUB_MSG_CONTROL 0x02
#define NX_HUB_DATA_HEADER 17              /* type byte + 16-byte id */
#define NX_HUB_MAX_PAYLOAD 32768           /* stream bytes per data message */
#define NX_HUB_MAX_MESSAGE (NX_HUB_DATA_HEADER + NX_HUB_MAX_PAYLOAD) /* 32 785, both ways */
/* Stream bytes per read from a socket: a data frame of this much (masked WebSocket header
 * of 8 bytes at most) fills exactly two 16 KiB TLS records, so bulk data never leaves a
 * small third record (another seal, another send, another wake-up) behind each read. */
#define NX_HUB_READ_PAYLOAD (2 * 16384 - NX_HUB_DATA_HEADER - 8)

/* Flow control (§4), counted in data messages. */
#define NX_HUB_CREDIT_WINDOW 64            /* granted with connect / first resume_stream */
#define NX_HUB_CREDIT_BATCH 8              /* returned k at a time as frames are written */
#define NX_HUB_CREDIT_CLAMP (1 << 20)      /* most credits one side may hold outstanding */

/* Timers (§1, §2), milliseconds. */
#define NX_HUB_AUTH_TIMEOUT_MS 10000       /* each auth stage */
#define NX_HUB_PING_MS 54000               /* hub pings every 54 s ... */
#define NX_HUB_IDLE_MS 60000               /* ... and drops a session silent for 60 s */
#define NX_TUNNEL_PING_MS 5000             /* backend pings every 5 s ... */
#define NX_TUNNEL_IDLE_MS 10000            /* ... and drops a hub silent for 10 s */

/* ---- client ids (UUID) ----------------------------------------------------------------- */

struct nx_uuid {
	uint8_t b[16];
};
#define NX_UUID_TEXT 36 /* 8-4-4-4-12, plus a NUL in buffers */

/* Canonical text → bytes; upper case accepted; exactly 36 chars. 0 or -1. */
int nx_uuid_parse(const char *s, size_t len, struct nx_uuid *u);
/* Lowercase canonical text into out[NX_UUID_TEXT + 1]. Returns out. */
char *nx_uuid_format(const struct nx_uuid *u, char *out);
/* A version-4 UUID from 16 random bytes (the caller's RNG): sets version and variant. */
void nx_uuid_v4(struct nx_uuid *u, const uint8_t random[16]);
int nx_uuid_equal(const struct nx_uuid *a, const struct nx_uuid *b);

/* ---- binary messages ------------------------------------------------------------------- */

struct nx_hub_msg {
	uint8_t type;          /* NX_HUB_MSG_DATA or NX_HUB_MSG_CONTROL */
	struct nx_uuid id;     /* DATA */
	const uint8_t *data;   /* DATA: stream bytes; CONTROL: the JSON text (not NUL-ended) */
	size_t len;
};

/* Split a binary message. NX_WS-style result: 1 = ok, -1 = invalid (empty, unknown type,
 * data message shorter than 17 bytes, message over NX_HUB_MAX_MESSAGE). A data message
 * with no stream bytes is valid (len 0). */
int nx_hub_msg_parse(const uint8_t *msg, size_t len, struct nx_hub_msg *m, char *err,
                     size_t errlen);
/* The same with another limit than NX_HUB_MAX_MESSAGE (a peer known to send more). */
int nx_hub_msg_parse_max(const uint8_t *msg, size_t len, size_t max, struct nx_hub_msg *m,
                         char *err, size_t errlen);

/* The 17-byte header of a data message; the stream bytes follow it. Returns 17. */
size_t nx_hub_data_header(uint8_t out[NX_HUB_DATA_HEADER], const struct nx_uuid *id);

/* ---- control messages ------------------------------------------------------------------ */

enum nx_hub_event {
	NX_HUB_EV_UNKNOWN = 0, /* an event we do not know: ignore the message */
	NX_HUB_EV_CONNECT,
	NX_HUB_EV_DISCONNECT,
	NX_HUB_EV_RESUME_STREAM,
	NX_HUB_EV_PAUSE_STREAM,
	NX_HUB_EV_PING_CLIENT,
	NX_HUB_EV_PONG_CLIENT,
	NX_HUB_EV_OUTBOUND_CONNECT,
	NX_HUB_EV_OUTBOUND_RESULT,
};

/* Disconnect reasons (backend → hub). */
#define NX_HUB_REASON_NORMAL "normal"
#define NX_HUB_REASON_BUFFER_FULL "buffer_full"
#define NX_HUB_REASON_DIAL_FAILED "dial_failed"
#define NX_HUB_REASON_TIMEOUT "timeout"
#define NX_HUB_REASON_LOCAL_ERROR "local_error"
#define NX_HUB_REASON_SHUTDOWN "shutdown"
#define NX_HUB_REASON_SESSION_ENDED "session_ended"
#define NX_HUB_REASON_PAUSE_VIOLATED "pause_violated"
#define NX_HUB_REASON_UNKNOWN "unknown"

/* One control object. Zero / empty fields are "absent": the encoder omits them (except
 * event and client_id), the parser leaves absent fields zero. Strings are NUL-terminated;
 * the parser rejects a field longer than its buffer rather than truncating it. */
struct nx_hub_control {
	enum nx_hub_event event;
	char event_name[32];  /* as received (also set for unknown events, cut to fit) */
	struct nx_uuid client_id;
	bool has_client_id;   /* parser: a valid client_id was present */
	uint32_t conn_port;   /* 0..65535 */
	char client_ip[64];   /* "ip:port" / "[v6]:port" */
	char transport[8];    /* "tcp" / "udp" */
	char hostname[256];
	bool is_tls;
	char reason[32];
	char target_addr[262];
	bool success;
	int64_t credits;      /* as sent; clamp with nx_hub_credit_add() before use */
};

/* Parse the JSON of a control message (the bytes after 0x02). 0 = ok (check c->event;
 * NX_HUB_EV_UNKNOWN — also a missing event — means ignore the message), -1 = not a JSON
 * object, event not a string, client_id present but not a UUID, a known field with the
 * wrong type or too long (JSON null counts as absent). Unknown fields are ignored. */
int nx_hub_control_parse(const uint8_t *json, size_t len, struct nx_hub_control *c, char *err,
                         size_t errlen);

/* Encode a whole control message (0x02 ‖ JSON) into out. Field order as the Go peers
 * write it: event, client_id, conn_port, client_ip, transport, hostname, is_tls, reason,
 * target_addr, success, credits. c->event must be a known event. Returns the length or -1
 * (cap too small, bad event). */
int nx_hub_control_encode(const struct nx_hub_control *c, uint8_t *out, size_t cap);

/* Shortcuts for the common ones (reason may be NULL: no reason field). */
int nx_hub_encode_disconnect(uint8_t *out, size_t cap, const struct nx_uuid *id,
                             const char *reason);
int nx_hub_encode_resume(uint8_t *out, size_t cap, const struct nx_uuid *id, int64_t credits);

/* §6 half-close extension: {"event":"shutdown_write","client_id":…} — "this side of the
 * stream has finished sending". Only between peers that negotiated "half_close"; the
 * parser reports it as NX_HUB_EV_UNKNOWN with event_name "shutdown_write" (so a peer that
 * did not negotiate it ignores it, as §3 says). */
#define NX_HUB_EXT_HALF_CLOSE "half_close"
/* §6 initial-window extension: the hub treats `connect` as the backend's first grant of a
 * window (64 frames), instead of sending without limit until the first resume_stream. A
 * backend that has not granted yet (it is still dialling its local side, or it is slow) then
 * never holds more than the window plus its own first grant — without it, a fast end user can
 * push any number of frames before that grant arrives. */
#define NX_HUB_EXT_INITIAL_WINDOW "initial_window"
/* ours, in a stage-0 token of a backend that claims nothing (quick start): assign a random
 * name under the grant's wildcard instead of the one derived from the key. A hub that does
 * not know it ignores it (an unknown extension) and assigns the derived one, or refuses. */
#define NX_HUB_EXT_RANDOM_NAME "random_name"
#define NX_HUB_EVENT_SHUTDOWN_WRITE "shutdown_write"
int nx_hub_encode_shutdown_write(uint8_t *out, size_t cap, const struct nx_uuid *id);

const char *nx_hub_event_name(enum nx_hub_event ev);

/* Add a peer's grant to *outstanding, clamped to NX_HUB_CREDIT_CLAMP; grants ≤ 0 are
 * ignored. Returns the new value. */
int64_t nx_hub_credit_add(int64_t *outstanding, int64_t grant);

/* ---- text messages (auth, §2) ---------------------------------------------------------- */

enum nx_hub_challenge_type {
	NX_HUB_CHALLENGE_NONE = 0, /* some other text: ignore it */
	NX_HUB_CHALLENGE_HANDSHAKE,
	NX_HUB_CHALLENGE_REAUTH,
};

#define NX_HUB_NONCE_MAX 128
#define NX_HUB_MAX_EXTENSIONS 8

struct nx_hub_challenge {
	enum nx_hub_challenge_type type;
	char nonce[NX_HUB_NONCE_MAX + 1];
	/* §6: extensions the hub offers (absent in Nexus Proxy) */
	char extensions[NX_HUB_MAX_EXTENSIONS][32];
	int n_extensions;
	/* ours: the name a hub assigned a backend that claimed nothing (quick start), normalised;
	 * "" when absent or not a usable hostname */
	char assigned[254];
};

/* Parse a text message from the hub. 0 = a challenge (type set), or NX_HUB_CHALLENGE_NONE
 * for JSON of another type / not JSON at all (unasked text is ignored); -1 = a challenge
 * without a usable nonce (missing, empty, longer than NX_HUB_NONCE_MAX, not base64url). */
int nx_hub_challenge_parse(const char *text, size_t len, struct nx_hub_challenge *c, char *err,
                           size_t errlen);

/* {"type":"handshake_challenge","nonce":"…"} (plus "extensions":[…] when extensions is a
 * non-empty NULL-terminated list). Returns the length (NUL-terminated) or -1. */
int nx_hub_challenge_encode(enum nx_hub_challenge_type type, const char *nonce,
                            const char *const *extensions, char *out, size_t cap);

#endif
