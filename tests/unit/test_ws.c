/* WebSocket frames, reader and upgrade: the rules RFC 6455 sets and the limits we add. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/util.h"
#include "core/random.h"
#include "wire/ws.h"

static const uint8_t MASK[4] = {0x11, 0x22, 0x33, 0x44};

static int parse(const void *b, size_t n, enum nx_ws_role role, uint64_t max,
                 struct nx_ws_frame_header *h)
{
	char err[NX_ERRLEN];
	return nx_ws_parse_header(b, n, role, max, h, err, sizeof err);
}

static void header_rules(void **state)
{
	struct nx_ws_frame_header h;
	/* a masked client frame on the server: fine */
	assert_int_equal(parse("\x82\x83\x11\x22\x33\x44", 6, NX_WS_SERVER, 100, &h), NX_WS_DONE);
	assert_int_equal(h.payload_len, 3);
	assert_int_equal(h.header_len, 6);
	assert_int_equal(parse("\x82", 1, NX_WS_SERVER, 100, &h), NX_WS_NEED);
	assert_int_equal(parse("\x82\x83\x11", 3, NX_WS_SERVER, 100, &h), NX_WS_NEED);
	/* unmasked client frame on the server side, masked server frame on the client side */
	assert_int_equal(parse("\x82\x03", 2, NX_WS_SERVER, 100, &h), NX_WS_INVALID);
	assert_int_equal(h.close_code, NX_WS_CLOSE_PROTOCOL);
	assert_int_equal(parse("\x82\x83\x11\x22\x33\x44", 6, NX_WS_CLIENT, 100, &h), NX_WS_INVALID);
	/* reserved bits, unknown opcodes */
	assert_int_equal(parse("\xc2\x00", 2, NX_WS_CLIENT, 100, &h), NX_WS_INVALID);
	assert_int_equal(parse("\x92\x00", 2, NX_WS_CLIENT, 100, &h), NX_WS_INVALID);
	assert_int_equal(parse("\x83\x00", 2, NX_WS_CLIENT, 100, &h), NX_WS_INVALID);
	assert_int_equal(parse("\x8b\x00", 2, NX_WS_CLIENT, 100, &h), NX_WS_INVALID);
	/* control frames: ≤ 125 and never fragmented */
	assert_int_equal(parse("\x89\x7d", 2, NX_WS_CLIENT, 1000, &h), NX_WS_DONE);
	assert_int_equal(parse("\x89\x7e\x00\x7e", 4, NX_WS_CLIENT, 1000, &h), NX_WS_INVALID);
	assert_int_equal(parse("\x09\x00", 2, NX_WS_CLIENT, 1000, &h), NX_WS_INVALID);
	/* lengths: 16-bit, 64-bit, limits, non-minimal forms */
	assert_int_equal(parse("\x82\x7e\x80\x11", 4, NX_WS_CLIENT, 32785, &h), NX_WS_DONE);
	assert_int_equal(h.payload_len, 32785);
	assert_int_equal(parse("\x82\x7e\x80\x12", 4, NX_WS_CLIENT, 32785, &h), NX_WS_INVALID);
	assert_int_equal(h.close_code, NX_WS_CLOSE_TOO_BIG);
	assert_int_equal(parse("\x82\x7e\x00\x10", 4, NX_WS_CLIENT, 32785, &h), NX_WS_INVALID);
	assert_int_equal(parse("\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10, NX_WS_CLIENT,
	                       1u << 20, &h), NX_WS_DONE);
	assert_int_equal(h.payload_len, 65536);
	assert_int_equal(parse("\x82\x7f\x00\x00\x00\x01\x00\x00\x00\x00", 10, NX_WS_CLIENT,
	                       32785, &h), NX_WS_INVALID);
	assert_int_equal(parse("\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00", 10, NX_WS_CLIENT,
	                       UINT64_MAX, &h), NX_WS_INVALID);
	assert_int_equal(parse("\x82\x7f\x00\x00\x00\x00\x00\x00\x00\x10", 10, NX_WS_CLIENT,
	                       UINT64_MAX, &h), NX_WS_INVALID);
}

/* Encode a frame the way a peer would (fin/op chosen freely, masked for client→server). */
static size_t frame(uint8_t *out, int fin, int op, const char *payload, size_t n, int masked)
{
	size_t h = nx_ws_header_encode(out, fin, op, n, masked ? MASK : NULL);
	memcpy(out + h, payload, n);
	if (masked)
		nx_ws_unmask(out + h, n, MASK, 0);
	return h + n;
}

/* Feed everything, one byte at a time when `bytewise`, collecting events into a trace. */
static int feed_all(struct nx_ws_reader *r, const uint8_t *b, size_t n, int bytewise, char *trace,
                    size_t tcap)
{
	size_t off = 0;
	trace[0] = 0;
	while (off < n) {
		size_t used;
		struct nx_ws_msg m;
		char err[NX_ERRLEN];
		size_t chunk = bytewise ? 1 : n - off;
		int ev = nx_ws_reader_feed(r, b + off, chunk, &used, &m, err, sizeof err);
		off += used;
		char one[300];
		switch (ev) {
		case NX_WS_EV_NEED:
			continue;
		case NX_WS_EV_ERROR:
			snprintf(one, sizeof one, "E%u;", m.close_code);
			strncat(trace, one, tcap - strlen(trace) - 1);
			return -1;
		case NX_WS_EV_CLOSE:
			snprintf(one, sizeof one, "C%u:%s;", m.close_code, m.reason);
			break;
		default:
			snprintf(one, sizeof one, "%d:%.*s;", ev, (int)m.len, (const char *)m.data);
		}
		strncat(trace, one, tcap - strlen(trace) - 1);
	}
	return 0;
}

static void reader_reassembles_with_interleaved_control(void **state)
{
	uint8_t b[512];
	size_t n = 0;
	n += frame(b + n, 0, NX_WS_OP_BINARY, "hel", 3, 1);
	n += frame(b + n, 1, NX_WS_OP_PING, "p", 1, 1);
	n += frame(b + n, 0, NX_WS_OP_CONT, "lo ", 3, 1);
	n += frame(b + n, 1, NX_WS_OP_CONT, "world", 5, 1);
	n += frame(b + n, 1, NX_WS_OP_TEXT, "", 0, 1);
	n += frame(b + n, 1, NX_WS_OP_PONG, "", 0, 1);
	n += frame(b + n, 1, NX_WS_OP_CLOSE, "\x03\xe8" "bye", 5, 1);
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		struct nx_ws_reader r;
		char trace[512];
		nx_ws_reader_init(&r, NX_WS_SERVER, 64);
		assert_int_equal(feed_all(&r, b, n, bytewise, trace, sizeof trace), 0);
		assert_string_equal(trace, "3:p;2:hello world;1:;4:;C1000:bye;");
		nx_ws_reader_free(&r);
	}
}

static void reader_limits_apply_to_the_reassembled_message(void **state)
{
	uint8_t b[512];
	char trace[512];
	struct nx_ws_reader r;
	size_t n = 0;
	/* 3 frames of 4: exactly 12 is fine, 13 is not */
	n += frame(b + n, 0, NX_WS_OP_BINARY, "aaaa", 4, 0);
	n += frame(b + n, 0, NX_WS_OP_CONT, "bbbb", 4, 0);
	n += frame(b + n, 1, NX_WS_OP_CONT, "cccc", 4, 0);
	nx_ws_reader_init(&r, NX_WS_CLIENT, 12);
	assert_int_equal(feed_all(&r, b, n, 0, trace, sizeof trace), 0);
	assert_string_equal(trace, "2:aaaabbbbcccc;");
	nx_ws_reader_free(&r);
	n += frame(b + n, 1, NX_WS_OP_CONT, "", 0, 0); /* a stray continuation */
	nx_ws_reader_init(&r, NX_WS_CLIENT, 12);
	assert_int_equal(feed_all(&r, b, n, 1, trace, sizeof trace), -1);
	assert_string_equal(trace, "2:aaaabbbbcccc;E1002;");
	nx_ws_reader_free(&r);
	n = 0;
	n += frame(b + n, 0, NX_WS_OP_BINARY, "aaaa", 4, 0);
	n += frame(b + n, 0, NX_WS_OP_CONT, "bbbb", 4, 0);
	n += frame(b + n, 1, NX_WS_OP_CONT, "ccccd", 5, 0);
	nx_ws_reader_init(&r, NX_WS_CLIENT, 12);
	assert_int_equal(feed_all(&r, b, n, 0, trace, sizeof trace), -1);
	assert_string_equal(trace, "E1009;");
	assert_true(nx_ws_reader_heap(&r) <= 12);
	nx_ws_reader_free(&r);
	/* a new data message inside a fragmented one */
	n = 0;
	n += frame(b + n, 0, NX_WS_OP_BINARY, "aaaa", 4, 0);
	n += frame(b + n, 1, NX_WS_OP_TEXT, "x", 1, 0);
	nx_ws_reader_init(&r, NX_WS_CLIENT, 12);
	assert_int_equal(feed_all(&r, b, n, 0, trace, sizeof trace), -1);
	assert_string_equal(trace, "E1002;");
	nx_ws_reader_free(&r);
	/* close with a 1-byte body; close without a code */
	n = frame(b, 1, NX_WS_OP_CLOSE, "x", 1, 0);
	nx_ws_reader_init(&r, NX_WS_CLIENT, 12);
	assert_int_equal(feed_all(&r, b, n, 0, trace, sizeof trace), -1);
	nx_ws_reader_free(&r);
	n = frame(b, 1, NX_WS_OP_CLOSE, "", 0, 0);
	nx_ws_reader_init(&r, NX_WS_CLIENT, 12);
	assert_int_equal(feed_all(&r, b, n, 0, trace, sizeof trace), 0);
	assert_string_equal(trace, "C1005:;");
	nx_ws_reader_free(&r);
}

static void encoder(void **state)
{
	uint8_t out[200];
	char reason[200];
	memset(reason, 'r', sizeof reason);
	reason[199] = 0;
	size_t n = nx_ws_close_encode(out, sizeof out, 1008, reason, NULL);
	assert_int_equal(n, 2 + 125);
	assert_int_equal(out[1], 125);
	assert_int_equal(out[2], 0x03);
	assert_int_equal(out[3], 0xf0);
	/* a reason is never cut inside a UTF-8 sequence */
	memset(reason, 'r', 122);
	memcpy(reason + 122, "\xc3\xa9", 3);
	n = nx_ws_close_encode(out, sizeof out, 1000, reason, NULL);
	assert_int_equal(n, 2 + 2 + 122);
	assert_int_equal(nx_ws_close_encode(out, sizeof out, 0, NULL, MASK), 6);
	assert_int_equal(nx_ws_frame_encode(out, sizeof out, NX_WS_OP_PING, reason, 126, NULL), 0);
	assert_int_equal(nx_ws_frame_encode(out, 5, NX_WS_OP_BINARY, "abcd", 4, NULL), 0);
	assert_int_equal(nx_ws_frame_encode(out, 10, NX_WS_OP_BINARY, "abcd", 4, MASK), 10);
	assert_memory_equal(out, "\x82\x84\x11\x22\x33\x44\x70\x40\x50\x20", 10);
	assert_int_equal(nx_ws_frame_size(125, 0), 127);
	assert_int_equal(nx_ws_frame_size(126, 1), 134);
	assert_int_equal(nx_ws_frame_size(65536, 1), 65536 + 14);
}

static void upgrade_accept_and_request(void **state)
{
	char acc[NX_WS_ACCEPT_LEN + 1], out[600], err[NX_ERRLEN];
	/* RFC 6455 §1.3 example */
	nx_ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", 24, acc);
	assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	char key[NX_WS_KEY_LEN + 1];
	nx_ws_make_key((const uint8_t *)"the sample nonce", key);
	assert_string_equal(key, "dGhlIHNhbXBsZSBub25jZQ==");
	struct nx_ws_request req;
#define REQ(path, extra)                                                                       \
	"GET " path " HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n" \
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" extra "\r\n"
	const char *r = REQ("/connect?x=1", "Sec-WebSocket-Version: 13\r\nOrigin: http://evil\r\n");
	assert_int_equal(nx_ws_server_parse_request(r, strlen(r), "/connect", &req, err, sizeof err),
	                 NX_WS_DONE);
	assert_int_equal(req.status, 101);
	assert_int_equal(nx_ws_server_parse_request(r, strlen(r) - 1, "/connect", &req, err,
	                                            sizeof err), NX_WS_NEED);
	r = REQ("/other", "Sec-WebSocket-Version: 13\r\n");
	nx_ws_server_parse_request(r, strlen(r), "/connect", &req, err, sizeof err);
	assert_int_equal(req.status, 404);
	assert_true(nx_ws_server_response(out, sizeof out, &req) > 0);
	assert_memory_equal(out, "HTTP/1.1 404 Not Found\r\n", 24);
	r = REQ("/connect", "Sec-WebSocket-Version: 8\r\n");
	nx_ws_server_parse_request(r, strlen(r), "/connect", &req, err, sizeof err);
	assert_int_equal(req.status, 426);
	r = REQ("/connect", "");
	nx_ws_server_parse_request(r, strlen(r), "/connect", &req, err, sizeof err);
	assert_int_equal(req.status, 400);
	r = "POST /connect HTTP/1.1\r\nHost: h\r\n\r\n";
	nx_ws_server_parse_request(r, strlen(r), "/connect", &req, err, sizeof err);
	assert_int_equal(req.status, 405);
	r = "\x16\x03\x01\x02\x01 junk\r\n\r\n";
	assert_int_equal(nx_ws_server_parse_request(r, strlen(r), "/connect", &req, err, sizeof err),
	                 NX_WS_INVALID);
	static char big[NX_WS_MAX_HEAD + 10];
	memset(big, 'a', sizeof big - 1);
	assert_int_equal(nx_ws_server_parse_request(big, strlen(big), "/connect", &req, err,
	                                            sizeof err), NX_WS_INVALID);
	/* client side: status and accept checked */
	size_t hl;
	int st;
	r = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
	assert_int_equal(nx_ws_client_parse_response(r, strlen(r), key, &hl, &st, err, sizeof err),
	                 NX_WS_INVALID);
	assert_int_equal(st, 404);
	assert_non_null(strstr(err, "404 Not Found"));
	r = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x05hello";
	assert_int_equal(nx_ws_client_parse_response(r, strlen(r), key, &hl, &st, err, sizeof err),
	                 NX_WS_DONE);
	assert_int_equal(hl, strlen(r) - 7); /* the frame after the head is not part of it */
	r = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOX=\r\n\r\n";
	assert_int_equal(nx_ws_client_parse_response(r, strlen(r), key, &hl, &st, err, sizeof err),
	                 NX_WS_INVALID);
	assert_int_equal(nx_ws_client_request(out, 20, "h", "/connect", key, NULL), -1);
#undef REQ
}

/* The word-at-a-time unmask gives what the RFC's byte loop gives, at every alignment,
 * length and stream offset (a frame's payload arrives in pieces). */
static void unmask_matches_the_byte_loop(void **state)
{
	uint8_t buf[160], ref[160];
	for (size_t start = 0; start < 9; start++)
		for (size_t n = 0; n < 150; n += 7)
			for (uint64_t off = 0; off < 5; off++) {
				for (size_t i = 0; i < sizeof buf; i++)
					buf[i] = ref[i] = (uint8_t)(i * 37 + start);
				for (size_t i = 0; i < n; i++)
					ref[start + i] ^= MASK[(off + i) & 3];
				uint8_t src[160], dst[160];
				memcpy(src, buf, sizeof src);
				memcpy(dst, buf, sizeof dst);
				nx_ws_unmask(buf + start, n, MASK, off);
				assert_memory_equal(buf, ref, sizeof buf);
				/* the copying form: the same bytes elsewhere, its source untouched */
				nx_ws_mask_copy(dst + start, src + start, n, MASK, off);
				assert_memory_equal(dst, ref, sizeof dst);
				for (size_t i = 0; i < sizeof src; i++)
					assert_int_equal(src[i], (uint8_t)(i * 37 + start));
			}
}

/* Masks come from a pool, but each is fresh: 10 000 in a row, almost no repeats of a
 * 32-bit value (a birthday repeat is possible, a stuck pool gives thousands). */
static void masks_are_fresh(void **state)
{
	static uint32_t seen[10000];
	int repeats = 0;
	for (int i = 0; i < 10000; i++) {
		unsigned char m[4];
		assert_int_equal(nx_random_mask(m), 0);
		memcpy(&seen[i], m, 4);
		for (int j = 0; j < i; j++)
			repeats += seen[j] == seen[i];
	}
	assert_true(repeats < 3);
}

/* Stream ids share the pool with masks: whatever the mix of sizes, no byte is handed out
 * twice and none is a wiped (zero) leftover: 2000 ids among 3000 masks, all distinct and
 * none with a zero 32-bit word (a chance of about 2^-19 over the run). */
static void small_draws_of_mixed_sizes_never_repeat(void **state)
{
	static unsigned char ids[2000][16];
	for (int i = 0; i < 2000; i++) {
		unsigned char m[4];
		for (int k = 0; k < i % 3; k++)
			assert_int_equal(nx_random_mask(m), 0);
		assert_int_equal(nx_random_small(ids[i], 16), 0);
		for (int w = 0; w < 16; w += 4)
			assert_false(ids[i][w] == 0 && ids[i][w + 1] == 0 && ids[i][w + 2] == 0 &&
			             ids[i][w + 3] == 0);
		for (int j = 0; j < i; j++)
			assert_memory_not_equal(ids[j], ids[i], 16);
	}
	unsigned char big[NX_RANDOM_SMALL_MAX + 8], zero[sizeof big] = {0};
	assert_int_equal(nx_random_small(big, sizeof big), 0); /* past the pool: the generator */
	assert_memory_not_equal(big, zero, sizeof big);
}

/* After fork() parent and child hold the same generator state: each must reseed, or both
 * would hand out the same masks and nonces. */
static void a_forked_child_draws_its_own_numbers(void **state)
{
	unsigned char warm[8], mine[32], theirs[32], mmine[4], mtheirs[4];
	assert_int_equal(nx_random_bytes(warm, sizeof warm, NULL, 0), 0); /* seeded before */
	assert_int_equal(nx_random_mask(warm), 0);
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		unsigned char b[36];
		int ok = nx_random_bytes(b, 32, NULL, 0) == 0 && nx_random_mask(b + 32) == 0;
		_exit(ok && write(fds[1], b, sizeof b) == (ssize_t)sizeof b ? 0 : 1);
	}
	close(fds[1]);
	assert_int_equal(nx_random_bytes(mine, sizeof mine, NULL, 0), 0);
	assert_int_equal(nx_random_mask(mmine), 0);
	unsigned char b[36];
	assert_int_equal(read(fds[0], b, sizeof b), (ssize_t)sizeof b);
	close(fds[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	memcpy(theirs, b, 32);
	memcpy(mtheirs, b + 32, 4);
	assert_memory_not_equal(mine, theirs, sizeof mine);
	assert_memory_not_equal(mmine, mtheirs, sizeof mmine);
}

/* A frame copied in any pieces (as across TLS records and a queue) is the frame
 * nx_ws_frame_encode writes whole, masked or not, header and both payload parts. */
static void frame_pieces_match_the_whole(void **state)
{
	static uint8_t a[17], b[70000], whole[70100], got[70100];
	for (size_t i = 0; i < sizeof a; i++)
		a[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < sizeof b; i++)
		b[i] = (uint8_t)(i * 13 + 5);
	static uint8_t payload[sizeof a + sizeof b];
	memcpy(payload, a, sizeof a);
	memcpy(payload + sizeof a, b, sizeof b);
	const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
	size_t blens[] = {0, 1, 100, 126, 65535 - sizeof a, 70000};
	for (int masked = 0; masked < 2; masked++) {
		for (size_t bi = 0; bi < sizeof blens / sizeof blens[0]; bi++) {
			size_t blen = blens[bi];
			size_t wn = nx_ws_frame_encode(whole, sizeof whole, NX_WS_OP_BINARY, payload,
			                               sizeof a + blen, masked ? mask : NULL);
			assert_true(wn > 0);
			struct nx_ws_out f;
			nx_ws_out_init(&f, NX_WS_OP_BINARY, a, sizeof a, blen ? b : NULL, blen,
			               masked ? mask : NULL);
			assert_int_equal(f.total, wn);
			size_t steps[] = {1, 3, 5, 16384, 100000};
			for (size_t si = 0; si < sizeof steps / sizeof steps[0]; si++) {
				memset(got, 0, sizeof got);
				for (size_t off = 0; off < f.total; off += steps[si]) {
					size_t n = f.total - off < steps[si] ? f.total - off : steps[si];
					nx_ws_out_copy(got + off, &f, off, n);
				}
				assert_memory_equal(got, whole, wn);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(header_rules),
		cmocka_unit_test(unmask_matches_the_byte_loop),
		cmocka_unit_test(masks_are_fresh),
		cmocka_unit_test(small_draws_of_mixed_sizes_never_repeat),
		cmocka_unit_test(a_forked_child_draws_its_own_numbers),
		cmocka_unit_test(reader_reassembles_with_interleaved_control),
		cmocka_unit_test(reader_limits_apply_to_the_reassembled_message),
		cmocka_unit_test(encoder),
		cmocka_unit_test(frame_pieces_match_the_whole),
		cmocka_unit_test(upgrade_accept_and_request),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
