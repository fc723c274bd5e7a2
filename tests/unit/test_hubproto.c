/* Hub protocol against real captured Go traffic (tests/vectors/ (*.jsonl, see README there)):
 * every frame header parses to what the capture says, the reader reassembles every message
 * from the wire bytes, every control message parses and re-encodes to the same text,
 * challenges round-trip, and the upgrade request/response are byte-identical to ours. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/hubproto.h"
#include "core/util.h"
#include "wire/ws.h"

static const char *const FILES[] = {
	"handshake-and-http.jsonl", "tls-sni-2mb.jsonl", "http-upload-1m.jsonl",
	"reject-bad-token.jsonl",   "reject-missing-aud.jsonl", "old-client.jsonl",
};

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = strlen(h) / 2;
	assert_true(n <= cap);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

static FILE *open_vector(const char *name)
{
	const char *src = getenv("NEXUS_SRC");
	char path[1024];
	snprintf(path, sizeof path, "%s/tests/vectors/%s", src ? src : ".", name);
	FILE *f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s", path);
	return f;
}

/* Per connection and direction: a reader fed the reconstructed wire bytes. */
struct side {
	struct nx_ws_reader rd;
	int events;           /* completed messages seen */
	uint8_t last[NX_HUB_MAX_MESSAGE];
	size_t last_len;
	int last_ev;
	int truncated;        /* some frame of the pending message was truncated */
};

#define MAXCONN 8
static struct side sides[MAXCONN][2];
static uint8_t wire[70000];

static const char *jstr(json_t *r, const char *k)
{
	json_t *v = json_object_get(r, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static long long jint(json_t *r, const char *k) { return json_integer_value(json_object_get(r, k)); }

static void check_frame(json_t *r, struct side *s, int dir_c2s, int *nframes)
{
	struct nx_ws_frame_header h;
	char err[NX_ERRLEN];
	size_t hl = unhex(jstr(r, "header_hex"), wire, sizeof wire);
	enum nx_ws_role role = dir_c2s ? NX_WS_SERVER : NX_WS_CLIENT;
	assert_int_equal(nx_ws_parse_header(wire, hl, role, NX_HUB_MAX_MESSAGE, &h, err, sizeof err),
	                 NX_WS_DONE);
	assert_int_equal(h.header_len, hl);
	assert_int_equal(h.fin, json_is_true(json_object_get(r, "fin")));
	assert_int_equal(h.opcode, jint(r, "opcode"));
	assert_int_equal(h.payload_len, jint(r, "payload_len"));
	assert_int_equal(h.masked, dir_c2s);
	/* one byte short is "need more" */
	struct nx_ws_frame_header h2;
	assert_int_equal(nx_ws_parse_header(wire, hl - 1, role, NX_HUB_MAX_MESSAGE, &h2, err,
	                                     sizeof err), NX_WS_NEED);
	/* our encoder writes the same header */
	uint8_t enc[NX_WS_MAX_HEADER];
	size_t el = nx_ws_header_encode(enc, h.fin, h.opcode, h.payload_len, h.masked ? h.mask : NULL);
	assert_int_equal(el, hl);
	assert_memory_equal(enc, wire, hl);
	/* payload: real bytes, or for truncated frames the kept prefix and zeros */
	size_t plen = (size_t)h.payload_len;
	memset(wire + hl, 0, plen);
	size_t have = unhex(jstr(r, "payload_hex"), wire + hl, plen);
	if (json_is_true(json_object_get(r, "payload_hex_truncated")))
		s->truncated = 1;
	else
		assert_int_equal(have, plen);
	if (h.masked)
		nx_ws_unmask(wire + hl, plen, h.mask, 0);
	/* feed in two uneven pieces to exercise the streaming paths */
	size_t total = hl + plen, cut = total / 3, off = 0;
	while (off < total) {
		size_t used;
		struct nx_ws_msg m;
		size_t n = off < cut ? cut - off : total - off;
		if (n == 0)
			n = total - off;
		int ev = nx_ws_reader_feed(&s->rd, wire + off, n, &used, &m, err, sizeof err);
		assert_int_not_equal(ev, NX_WS_EV_ERROR);
		off += used;
		if (ev != NX_WS_EV_NEED) {
			assert_int_equal(off, total);
			s->last_ev = ev;
			s->last_len = m.len;
			if (m.len)
				memcpy(s->last, m.data, m.len);
			s->events++;
			if (ev == NX_WS_EV_CLOSE && json_object_get(r, "close_code")) {
				assert_int_equal(m.close_code, jint(r, "close_code"));
				assert_string_equal(m.reason, jstr(r, "close_reason"));
			}
		}
	}
	(*nframes)++;
}

static void check_control(json_t *r)
{
	const char *text = jstr(r, "control_text");
	struct nx_hub_control c;
	char err[NX_ERRLEN];
	assert_int_equal(nx_hub_control_parse((const uint8_t *)text, strlen(text), &c, err, sizeof err), 0);
	assert_int_not_equal(c.event, NX_HUB_EV_UNKNOWN);
	assert_true(c.has_client_id);
	uint8_t out[1024];
	int n = nx_hub_control_encode(&c, out, sizeof out);
	assert_true(n > 1);
	assert_int_equal(out[0], NX_HUB_MSG_CONTROL);
	/* byte-identical re-encoding: same fields, same order, same omissions */
	assert_int_equal((size_t)n - 1, strlen(text));
	assert_memory_equal(out + 1, text, strlen(text));
}

static void check_message(json_t *r, struct side *s, int *nmsgs, int *ncontrols)
{
	int op = (int)jint(r, "opcode");
	size_t plen = (size_t)jint(r, "payload_len");
	assert_int_equal(s->last_ev, op == 1 ? NX_WS_EV_TEXT : NX_WS_EV_BINARY);
	assert_int_equal(s->last_len, plen);
	uint8_t *want = malloc(plen + 1);
	size_t have = unhex(jstr(r, "payload_hex"), want, plen + 1);
	assert_memory_equal(s->last, want, have); /* the whole message, or the kept prefix */
	free(want);
	(*nmsgs)++;
	if (op == 2) {
		struct nx_hub_msg m;
		char err[NX_ERRLEN];
		assert_int_equal(nx_hub_msg_parse(s->last, s->last_len, &m, err, sizeof err), 1);
		assert_int_equal(m.type, jint(r, "mux_type"));
		if (m.type == NX_HUB_MSG_DATA) {
			char id[NX_UUID_TEXT + 1];
			assert_string_equal(nx_uuid_format(&m.id, id), jstr(r, "client_id"));
			assert_int_equal(m.len, jint(r, "data_len"));
		} else {
			check_control(r);
			(*ncontrols)++;
		}
	} else if (!strcmp(jstr(r, "dir"), "s2c")) {
		struct nx_hub_challenge ch;
		char err[NX_ERRLEN], out[512];
		const char *text = jstr(r, "payload_text");
		assert_int_equal(nx_hub_challenge_parse(text, strlen(text), &ch, err, sizeof err), 0);
		assert_int_equal(ch.type, NX_HUB_CHALLENGE_HANDSHAKE);
		assert_int_equal(strlen(ch.nonce), 43);
		int n = nx_hub_challenge_encode(ch.type, ch.nonce, NULL, out, sizeof out);
		assert_int_equal(n, (int)strlen(text));
		assert_string_equal(out, text);
	}
	s->truncated = 0;
}

static void check_upgrade(json_t *r, char *key, size_t keycap)
{
	const char *raw = jstr(r, "raw");
	char err[NX_ERRLEN], out[1024];
	if (!strcmp(jstr(r, "kind"), "http_request")) {
		struct nx_ws_request req;
		assert_int_equal(nx_ws_server_parse_request(raw, strlen(raw), "/connect", &req, err,
		                                            sizeof err), NX_WS_DONE);
		assert_int_equal(req.status, 101);
		assert_int_equal(req.head_len, strlen(raw));
		snprintf(key, keycap, "%s", req.key);
		/* our client request is byte-identical to the Go client's */
		assert_true(nx_ws_client_request(out, sizeof out, req.host, "/connect", req.key, NULL) > 0);
		assert_string_equal(out, raw);
		/* and our server answer to it is byte-identical to the Go server's */
		assert_true(nx_ws_server_response(out, sizeof out, &req) > 0);
		/* (compared against the http_response record by the caller) */
	} else {
		size_t hl;
		int status;
		assert_int_equal(nx_ws_client_parse_response(raw, strlen(raw), key, &hl, &status, err,
		                                             sizeof err), NX_WS_DONE);
		assert_int_equal(status, 101);
		struct nx_ws_request req = {.status = 101};
		snprintf(req.key, sizeof req.key, "%s", key);
		assert_true(nx_ws_server_response(out, sizeof out, &req) > 0);
		assert_string_equal(out, raw);
	}
}

static void vectors_parse_and_reencode(void **state)
{
	int total_frames = 0, total_msgs = 0, total_controls = 0;
	for (size_t fi = 0; fi < sizeof FILES / sizeof FILES[0]; fi++) {
		FILE *f = open_vector(FILES[fi]);
		char key[64] = "";
		for (int c = 0; c < MAXCONN; c++)
			for (int d = 0; d < 2; d++) {
				memset(&sides[c][d], 0, sizeof sides[c][d]);
				nx_ws_reader_init(&sides[c][d].rd, d ? NX_WS_SERVER : NX_WS_CLIENT,
				                  NX_HUB_MAX_MESSAGE);
			}
		char *line = NULL;
		size_t cap = 0;
		while (getline(&line, &cap, f) > 0) {
			json_error_t je;
			json_t *r = json_loads(line, 0, &je);
			assert_non_null(r);
			const char *kind = jstr(r, "kind");
			int conn = (int)jint(r, "conn");
			assert_true(conn >= 0 && conn < MAXCONN);
			const char *dir = jstr(r, "dir");
			struct side *s = dir ? &sides[conn][!strcmp(dir, "c2s")] : NULL;
			if (!strcmp(kind, "frame"))
				check_frame(r, s, !strcmp(dir, "c2s"), &total_frames);
			else if (!strcmp(kind, "message"))
				check_message(r, s, &total_msgs, &total_controls);
			else if (!strcmp(kind, "http_request") || !strcmp(kind, "http_response"))
				check_upgrade(r, key, sizeof key);
			json_decref(r);
		}
		free(line);
		fclose(f);
		for (int c = 0; c < MAXCONN; c++)
			for (int d = 0; d < 2; d++)
				nx_ws_reader_free(&sides[c][d].rd);
	}
	/* sanity: the files really were read */
	assert_true(total_frames > 700);
	assert_true(total_msgs > 150);
	assert_true(total_controls > 30);
}

static void uuid_text_roundtrip(void **state)
{
	struct nx_uuid u, v;
	char out[NX_UUID_TEXT + 1];
	const char *s = "13480738-344E-45c3-88DE-0b1895dbd223";
	assert_int_equal(nx_uuid_parse(s, strlen(s), &u), 0);
	assert_string_equal(nx_uuid_format(&u, out), "13480738-344e-45c3-88de-0b1895dbd223");
	assert_int_equal(nx_uuid_parse("13480738344e45c388de0b1895dbd223", 32, &v), -1);
	assert_int_equal(nx_uuid_parse("13480738-344e-45c3-88de-0b1895dbd22g", 36, &v), -1);
	assert_int_equal(nx_uuid_parse("13480738-344e-45c3-88de_0b1895dbd223", 36, &v), -1);
	uint8_t rnd[16];
	memset(rnd, 0xff, sizeof rnd);
	nx_uuid_v4(&v, rnd);
	assert_string_equal(nx_uuid_format(&v, out), "ffffffff-ffff-4fff-bfff-ffffffffffff");
}

static void control_rules(void **state)
{
	struct nx_hub_control c;
	char err[NX_ERRLEN];
	uint8_t out[1024];
#define P(s) nx_hub_control_parse((const uint8_t *)(s), strlen(s), &c, err, sizeof err)
	/* unknown fields and events are ignored */
	assert_int_equal(P("{\"event\":\"connect\",\"client_id\":\"13480738-344e-45c3-88de-0b1895dbd223\",\"x\":[1,{}],\"credits\":64}"), 0);
	assert_int_equal(c.event, NX_HUB_EV_CONNECT);
	assert_int_equal(c.credits, 64);
	assert_int_equal(P("{\"event\":\"shutdown_write\",\"client_id\":\"13480738-344e-45c3-88de-0b1895dbd223\"}"), 0);
	assert_int_equal(c.event, NX_HUB_EV_UNKNOWN);
	assert_string_equal(c.event_name, "shutdown_write");
	assert_int_equal(P("{}"), 0);
	assert_int_equal(c.event, NX_HUB_EV_UNKNOWN);
	/* broken ones */
	assert_int_equal(P("[]"), -1);
	assert_int_equal(P("{\"event\":1}"), -1);
	assert_int_equal(P("{\"event\":\"connect\",\"client_id\":\"nope\"}"), -1);
	assert_int_equal(P("{\"event\":\"connect\",\"conn_port\":70000}"), -1);
	assert_int_equal(P("{\"event\":\"connect\",\"conn_port\":\"80\"}"), -1);
	assert_int_equal(P("{\"event\":\"connect\",\"is_tls\":1}"), -1);
	assert_int_equal(P("{\"event\":\"connect\""), -1);
	assert_int_equal(P("{\"event\":\"connect\",\"credits\":null,\"hostname\":null}"), 0);
	/* omission: zero and empty fields leave out, event and client_id always there */
	struct nx_hub_control d = {.event = NX_HUB_EV_DISCONNECT};
	int n = nx_hub_control_encode(&d, out, sizeof out);
	out[n] = 0;
	assert_string_equal((char *)out + 1,
	                    "{\"event\":\"disconnect\",\"client_id\":\"00000000-0000-0000-0000-000000000000\"}");
	assert_int_equal(nx_hub_control_encode(&d, out, 20), -1); /* too small */
	struct nx_uuid id;
	nx_uuid_parse("13480738-344e-45c3-88de-0b1895dbd223", 36, &id);
	n = nx_hub_encode_resume(out, sizeof out, &id, 8);
	out[n] = 0;
	assert_string_equal((char *)out + 1, "{\"event\":\"resume_stream\",\"client_id\":\"13480738-344e-45c3-88de-0b1895dbd223\",\"credits\":8}");
	/* values: ASCII as it is, control bytes escaped, UTF-8 kept, anything else refused */
	struct nx_hub_control e = {.event = NX_HUB_EV_CONNECT, .client_id = id};
	snprintf(e.hostname, sizeof e.hostname, "b\xc3\xbc" "cher.test");
	snprintf(e.client_ip, sizeof e.client_ip, "1.2.3.4:5\n");
	n = nx_hub_control_encode(&e, out, sizeof out);
	assert_true(n > 0);
	assert_int_equal(nx_hub_control_parse(out + 1, (size_t)n - 1, &c, err, sizeof err), 0);
	assert_string_equal(c.hostname, "b\xc3\xbc" "cher.test");
	assert_string_equal(c.client_ip, "1.2.3.4:5\n");
	out[n] = 0;
	assert_non_null(strstr((char *)out + 1, "\"client_ip\":\"1.2.3.4:5\\n\""));
	snprintf(e.hostname, sizeof e.hostname, "bad\xff.test");
	assert_int_equal(nx_hub_control_encode(&e, out, sizeof out), -1);
	/* clamp */
	int64_t have = 0;
	nx_hub_credit_add(&have, 64);
	nx_hub_credit_add(&have, -5);
	assert_int_equal(have, 64);
	nx_hub_credit_add(&have, INT64_MAX);
	assert_int_equal(have, NX_HUB_CREDIT_CLAMP);
#undef P
}

static void binary_message_rules(void **state)
{
	struct nx_hub_msg m;
	char err[NX_ERRLEN];
	uint8_t b[NX_HUB_MAX_MESSAGE + 1] = {1};
	assert_int_equal(nx_hub_msg_parse(b, 0, &m, err, sizeof err), -1);
	assert_int_equal(nx_hub_msg_parse(b, 16, &m, err, sizeof err), -1);
	assert_int_equal(nx_hub_msg_parse(b, 17, &m, err, sizeof err), 1);
	assert_int_equal(m.len, 0);
	assert_int_equal(nx_hub_msg_parse(b, NX_HUB_MAX_MESSAGE, &m, err, sizeof err), 1);
	assert_int_equal(nx_hub_msg_parse(b, NX_HUB_MAX_MESSAGE + 1, &m, err, sizeof err), -1);
	b[0] = 3;
	assert_int_equal(nx_hub_msg_parse(b, 20, &m, err, sizeof err), -1);
	b[0] = 2;
	assert_int_equal(nx_hub_msg_parse(b, 1, &m, err, sizeof err), 1);
	assert_int_equal(m.type, NX_HUB_MSG_CONTROL);
}

static void challenge_rules(void **state)
{
	struct nx_hub_challenge c;
	char err[NX_ERRLEN], out[256];
#define P(s) nx_hub_challenge_parse((s), strlen(s), &c, err, sizeof err)
	assert_int_equal(P("hello"), 0);
	assert_int_equal(c.type, NX_HUB_CHALLENGE_NONE);
	assert_int_equal(P("{\"type\":\"other\",\"nonce\":\"x\"}"), 0);
	assert_int_equal(c.type, NX_HUB_CHALLENGE_NONE);
	assert_int_equal(P("{\"type\":\"reauth_challenge\",\"nonce\":\"abc_-9\"}"), 0);
	assert_int_equal(c.type, NX_HUB_CHALLENGE_REAUTH);
	assert_string_equal(c.nonce, "abc_-9");
	assert_int_equal(P("{\"type\":\"handshake_challenge\"}"), -1);
	assert_int_equal(P("{\"type\":\"handshake_challenge\",\"nonce\":\"a b\"}"), -1);
	assert_int_equal(P("{\"type\":\"handshake_challenge\",\"nonce\":\"n\",\"extensions\":[\"half_close\",3]}"), 0);
	assert_int_equal(c.n_extensions, 1);
	assert_string_equal(c.extensions[0], "half_close");
	const char *ext[] = {"half_close", NULL};
	nx_hub_challenge_encode(NX_HUB_CHALLENGE_HANDSHAKE, "n", ext, out, sizeof out);
	assert_string_equal(out, "{\"type\":\"handshake_challenge\",\"nonce\":\"n\",\"extensions\":[\"half_close\"]}");
#undef P
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vectors_parse_and_reencode),
		cmocka_unit_test(uuid_text_roundtrip),
		cmocka_unit_test(control_rules),
		cmocka_unit_test(binary_message_rules),
		cmocka_unit_test(challenge_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
