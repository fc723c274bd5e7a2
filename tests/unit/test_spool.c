/* Unit tests for the spool record format (round trip, torn and corrupt bytes) and the spool
 * directory (replay of unconfirmed records, the acked mark, torn tails, segment cleanup). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/spool.h"
#include "bridge/spoolrec.h"
#include "core/util.h"

static size_t build(uint8_t *buf, const char *topic, const void *p, size_t plen, int retain)
{
	struct nx_spool_rec r = {.recv_ms = 1700000000123ull, .qos = 1, .retain = retain,
	                         .topic = topic, .topic_len = strlen(topic), .payload = p,
	                         .payload_len = plen};
	size_t n = nx_spool_rec_head(buf, &r);
	memcpy(buf + NX_SPOOL_HDR + NX_SPOOL_FIXED, topic, r.topic_len);
	memcpy(buf + NX_SPOOL_HDR + NX_SPOOL_FIXED + r.topic_len, p, plen);
	return n;
}

static void record_round_trip(void **state)
{
	uint8_t buf[256];
	const uint8_t payload[] = {0, 1, '\n', 0xff, 0, '\r'};
	size_t n = build(buf, "device/1/info", payload, sizeof payload, 1);
	assert_int_equal(n, NX_SPOOL_HDR + NX_SPOOL_FIXED + 13 + sizeof payload);
	struct nx_spool_rec r;
	size_t used;
	assert_int_equal(nx_spool_rec_parse(buf, n, &r, &used), NX_SPOOL_DONE);
	assert_int_equal(used, n);
	assert_int_equal(r.recv_ms, 1700000000123ull);
	assert_int_equal(r.qos, 1);
	assert_int_equal(r.retain, 1);
	assert_int_equal(r.topic_len, 13);
	assert_memory_equal(r.topic, "device/1/info", 13);
	assert_int_equal(r.payload_len, sizeof payload);
	assert_memory_equal(r.payload, payload, sizeof payload);
	/* empty payload */
	n = build(buf, "t", "", 0, 0);
	assert_int_equal(nx_spool_rec_parse(buf, n, &r, &used), NX_SPOOL_DONE);
	assert_int_equal(r.payload_len, 0);
	/* no topic: refused */
	struct nx_spool_rec bad = {.topic = "", .topic_len = 0};
	assert_int_equal(nx_spool_rec_head(buf, &bad), 0);
}

static void record_torn_and_corrupt(void **state)
{
	uint8_t buf[256];
	size_t n = build(buf, "a/b", "hello", 5, 0);
	struct nx_spool_rec r;
	size_t used;
	/* Every prefix is a torn record: need more, never a false record. */
	for (size_t k = 0; k < n; k++)
		assert_int_equal(nx_spool_rec_parse(buf, k, &r, &used), NX_SPOOL_NEED_MORE);
	/* Every single bit flip is caught (magic, length, CRC or the fields it covers). */
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit++) {
			buf[i] ^= (uint8_t)(1 << bit);
			enum nx_spool_parse p = nx_spool_rec_parse(buf, n, &r, &used);
			if (p == NX_SPOOL_DONE)
				fail_msg("flip of byte %zu bit %d accepted", i, bit);
			buf[i] ^= (uint8_t)(1 << bit);
		}
	}
	assert_int_equal(nx_spool_rec_parse("XXXX", 4, &r, &used), NX_SPOOL_INVALID);
	assert_int_equal(nx_crc32c(0, "123456789", 9), 0xE3069283u); /* the CRC-32C check value */
}

struct seen {
	int n;
	char payload[64][16];
	uint64_t ticket[64];
};

static int collect(void *ctx, const struct nx_spool_rec *rec, uint64_t ticket)
{
	struct seen *s = ctx;
	snprintf(s->payload[s->n], sizeof s->payload[0], "%.*s", (int)rec->payload_len,
	         (const char *)rec->payload);
	s->ticket[s->n++] = ticket;
	return 0;
}

static void put(struct nx_spool *sp, const char *payload, uint64_t *ticket)
{
	char err[NX_ERRLEN];
	struct nx_spool_rec r = {.qos = 1, .topic = "d/1/info", .topic_len = 8, .payload = payload,
	                         .payload_len = strlen(payload)};
	assert_int_equal(nx_spool_append(sp, &r, ticket, err, sizeof err), 0);
}

static int count_segments(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d)))
		n += strncmp(de->d_name, "seg-", 4) == 0;
	closedir(d);
	return n;
}

static void spool_replay_and_mark(void **state)
{
	char dir[] = "/tmp/nexus-spool-test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct nx_spool_opts o = {.dir = dir, .max_bytes = 1 << 20, .segment_bytes = 200};
	struct nx_spool *sp, *sp2;
	char err[NX_ERRLEN];
	assert_int_equal(nx_spool_open(&sp, &o, err, sizeof err), 0);
	/* A second opener is refused while the first holds the lock. */
	assert_int_equal(nx_spool_open(&sp2, &o, err, sizeof err), -1);
	assert_non_null(strstr(err, "in use"));

	uint64_t t[10];
	char p[16];
	for (int i = 0; i < 10; i++) {
		snprintf(p, sizeof p, "m%d", i);
		put(sp, p, &t[i]);
	}
	assert_true(nx_spool_segments(sp) > 1); /* 200-byte segments rotate */
	/* Confirm 0..3 in order and 6 out of order: the mark stops after 3. */
	for (int i = 0; i < 4; i++)
		nx_spool_done(sp, t[i]);
	nx_spool_done(sp, t[6]);
	nx_spool_done(sp, t[6]); /* twice: harmless */
	assert_int_equal(nx_spool_outstanding(sp), 5);
	nx_spool_close(sp); /* as if killed: 4,5,7,8,9 unconfirmed */

	assert_int_equal(nx_spool_open(&sp, &o, err, sizeof err), 0);
	struct seen s = {0};
	struct nx_spool_replay_stats st;
	assert_int_equal(nx_spool_replay(sp, collect, &s, &st, err, sizeof err), 0);
	/* 6 is resent (it sits after the mark): at least once, never lost. */
	assert_int_equal(s.n, 6);
	assert_string_equal(s.payload[0], "m4");
	assert_string_equal(s.payload[1], "m5");
	assert_string_equal(s.payload[2], "m6");
	assert_string_equal(s.payload[5], "m9");
	assert_int_equal(st.torn_bytes, 0);
	for (int i = 0; i < s.n; i++)
		nx_spool_done(sp, s.ticket[i]);
	assert_int_equal(nx_spool_outstanding(sp), 0);
	assert_int_equal(nx_spool_segments(sp), 1); /* only the fresh current one */
	nx_spool_close(sp);
	assert_int_equal(count_segments(dir), 0);

	/* Ids keep growing after the directory emptied, so the old mark cannot hide new records. */
	assert_int_equal(nx_spool_open(&sp, &o, err, sizeof err), 0);
	put(sp, "fresh", &t[0]);
	nx_spool_close(sp);
	assert_int_equal(nx_spool_open(&sp, &o, err, sizeof err), 0);
	memset(&s, 0, sizeof s);
	assert_int_equal(nx_spool_replay(sp, collect, &s, &st, err, sizeof err), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.payload[0], "fresh");
	nx_spool_done(sp, s.ticket[0]);
	nx_spool_close(sp);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void spool_torn_tail(void **state)
{
	char dir[] = "/tmp/nexus-spool-test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct nx_spool_opts o = {.dir = dir, .max_bytes = 1 << 20, .segment_bytes = 1 << 20};
	struct nx_spool *sp;
	char err[NX_ERRLEN];
	assert_int_equal(nx_spool_open(&sp, &o, err, sizeof err), 0);
	uint64_t t;
	put(sp, "one", &t);
	put(sp, "two", &t);
	nx_spool_close(sp);
	/* What a crash in the middle of the third append leaves behind. */
	char path[128];
	snprintf(path, sizeof path, "%s/seg-0000000001.nxs", dir);
	uint8_t rec[128];
	size_t n = build(rec, "d/1/info", "three", 5, 0);
	int fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, rec, n - 3), (ssize_t)(n - 3));
	close(fd);

	assert_int_equal(nx_spool_open(&sp, &o, err, sizeof err), 0);
	struct seen s = {0};
	struct nx_spool_replay_stats st;
	assert_int_equal(nx_spool_replay(sp, collect, &s, &st, err, sizeof err), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.payload[1], "two");
	assert_int_equal(st.torn_bytes, n - 3);
	for (int i = 0; i < s.n; i++)
		nx_spool_done(sp, s.ticket[i]);
	nx_spool_close(sp);
	assert_int_equal(count_segments(dir), 0);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void spool_cap(void **state)
{
	char dir[] = "/tmp/nexus-spool-test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct nx_spool_opts o = {.dir = dir, .max_bytes = 300, .segment_bytes = 100};
	struct nx_spool *sp;
	char err[NX_ERRLEN];
	assert_int_equal(nx_spool_open(&sp, &o, err, sizeof err), 0);
	uint64_t t[20];
	int i = 0;
	while (!nx_spool_full(sp) && i < 20)
		put(sp, "0123456789012345678901234567890123456789", &t[i++]);
	assert_true(nx_spool_full(sp));
	for (int k = 0; k < i; k++)
		nx_spool_done(sp, t[k]);
	assert_false(nx_spool_full(sp)); /* confirmed segments are unlinked */
	nx_spool_close(sp);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(record_round_trip), cmocka_unit_test(record_torn_and_corrupt),
	    cmocka_unit_test(spool_replay_and_mark), cmocka_unit_test(spool_torn_tail),
	    cmocka_unit_test(spool_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
