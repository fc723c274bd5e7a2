/* Unit tests for nexus-agent's pure parts: command messages and names, statuses, acks, the
 * journal (begin/finish, reopen, interrupted ids, torn tail, forgetting old ids), /proc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/command.h"
#include "agent/identity.h"
#include "agent/journal.h"
#include "agent/telemetry.h"
#include "core/util.h"

static int parse(const char *s, struct nx_cmd *c, char *err)
{
	return nx_cmd_parse(s, strlen(s), c, err, NX_ERRLEN);
}

static void command_messages(void **state)
{
	struct nx_cmd c;
	char err[NX_ERRLEN];
	assert_int_equal(parse("{\"id\":\"x-1\",\"command\":\"reboot\",\"args\":{\"a\":[1]}}", &c, err), 0);
	assert_string_equal(c.id, "x-1");
	assert_string_equal(c.name, "reboot");
	assert_int_equal(parse("{\"id\":\"x\",\"command\":\"fw.update_2-b\"}", &c, err), 0);
	/* refused, but the id survives for the refusal's ack */
	assert_int_equal(parse("{\"id\":\"x-2\",\"command\":\"../bin/sh\"}", &c, err), -1);
	assert_string_equal(c.id, "x-2");
	assert_non_null(strstr(err, "not allowed"));
	const char *bad[] = {
	    "", "nope", "[]", "{}", "{\"id\":5,\"command\":\"a\"}", "{\"id\":\"\",\"command\":\"a\"}",
	    "{\"id\":\"a\\nb\",\"command\":\"a\"}", "{\"id\":\"a\"}", "{\"id\":\"a\",\"command\":1}",
	    "{\"id\":\"a\",\"command\":\"a\",\"id\":\"b\"}", "{\"id\":\"a\",\"command\":\"a/b\"}",
	    "{\"id\":\"a\",\"command\":\"..\"}", "{\"id\":\"a\",\"command\":\".x\"}",
	    "{\"id\":\"a\",\"command\":\"\"}", "{\"id\":\"a\",\"command\":\"a\\u0000b\"}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (parse(bad[i], &c, err) != -1)
			fail_msg("accepted: %s", bad[i]);
	char big[NX_CMD_MSG_MAX + 2];
	memset(big, ' ', sizeof big);
	assert_int_equal(nx_cmd_parse(big, sizeof big, &c, err, sizeof err), -1);
	assert_non_null(strstr(err, "larger than"));
}

static void names_and_statuses(void **state)
{
	assert_true(nx_cmd_name_ok("a", 1));
	assert_false(nx_cmd_name_ok("-", 0));
	assert_false(nx_cmd_name_ok("a b", 3));
	assert_false(nx_cmd_name_ok("..", 2));
	char long_name[NX_CMD_NAME_MAX + 1];
	memset(long_name, 'a', sizeof long_name);
	assert_false(nx_cmd_name_ok(long_name, sizeof long_name));
	assert_true(nx_cmd_name_ok(long_name, NX_CMD_NAME_MAX));
	struct { int code; const char *st; int back; } t[] = {
	    {0, "ok", 0}, {64, "rejected", 65}, {65, "rejected", 65}, {77, "forbidden", 77},
	    {127, "unknown_command", 127}, {69, "busy", 75}, {75, "busy", 75}, {124, "timeout", 124},
	    {1, "error", 1}, {2, "error", 1}, {137, "error", 1},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		assert_string_equal(nx_cmd_status(t[i].code), t[i].st);
		assert_int_equal(nx_cmd_status_exit(t[i].st), t[i].back);
	}
	assert_int_equal(nx_cmd_status_exit("interrupted"), 1);
	assert_int_equal(nx_cmd_status_exit(NULL), 1);
}

static void acks(void **state)
{
	char *a = nx_cmd_ack("i", "ok", "hi\n", 3, 0);
	assert_string_equal(a, "{\"id\":\"i\",\"status\":\"ok\",\"output\":\"hi\\n\"}");
	free(a);
	a = nx_cmd_ack("", "rejected", "", 0, 1);
	assert_string_equal(a, "{\"id\":null,\"status\":\"rejected\",\"output\":\"\",\"truncated\":true}");
	free(a);
	/* not UTF-8 (a lone continuation, an overlong, a cut sequence, NUL): U+FFFD each */
	a = nx_cmd_ack("i", "ok", "\x80" "a\xc0\xaf" "\0" "\xe2\x82", 7, 0);
	json_t *j = json_loads(a, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "output")),
	                    "\xef\xbf\xbd" "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	json_decref(j);
	free(a);
	a = nx_cmd_ack("i", "ok", "\xe2\x82\xac", 3, 0); /* € stays */
	assert_non_null(strstr(a, "\xe2\x82\xac"));
	free(a);
}

static char path[64];

static int journal_setup(void **state)
{
	snprintf(path, sizeof path, "/tmp/test_agent_journal.XXXXXX");
	int fd = mkstemp(path);
	close(fd);
	return 0;
}

static int journal_teardown(void **state)
{
	unlink(path);
	return 0;
}

static void count_running(void *arg, const struct nx_jrec *r) { (*(int *)arg)++; }

static void journal_roundtrip(void **state)
{
	struct nx_journal *j;
	char err[NX_ERRLEN];
	assert_int_equal(nx_journal_open(&j, path, 10, err, sizeof err), 0);
	assert_null(nx_journal_find(j, "a"));
	assert_int_equal(nx_journal_begin(j, "a", "device/d/r", "\x00\x01", 2, err, sizeof err), 0);
	assert_int_equal(nx_journal_begin(j, "b", NULL, NULL, 0, err, sizeof err), 0);
	assert_int_equal(nx_journal_finish(j, "b", "{\"id\":\"b\"}", err, sizeof err), 0);
	const struct nx_jrec *r = nx_journal_find(j, "b");
	assert_non_null(r);
	assert_int_equal(r->st, NX_J_DONE);
	assert_string_equal(r->ack, "{\"id\":\"b\"}");
	nx_journal_close(j);
	/* reopened: "a" was interrupted, with its response topic and correlation data */
	assert_int_equal(nx_journal_open(&j, path, 10, err, sizeof err), 0);
	r = nx_journal_find(j, "a");
	assert_non_null(r);
	assert_int_equal(r->st, NX_J_RUN);
	assert_string_equal(r->rt, "device/d/r");
	assert_int_equal(r->cdlen, 2);
	assert_memory_equal(r->cd, "\x00\x01", 2);
	int n = 0;
	nx_journal_each_running(j, count_running, &n);
	assert_int_equal(n, 1);
	assert_int_equal(nx_journal_find(j, "b")->st, NX_J_DONE);
	assert_int_equal(nx_journal_skipped(j), 0);
	nx_journal_close(j);
	/* a torn tail and a garbage line are skipped, the rest kept */
	FILE *f = fopen(path, "a");
	fputs("garbage\n{\"id\":\"c\",\"st\":\"ru", f);
	fclose(f);
	assert_int_equal(nx_journal_open(&j, path, 10, err, sizeof err), 0);
	assert_int_equal(nx_journal_skipped(j), 2);
	assert_null(nx_journal_find(j, "c"));
	assert_non_null(nx_journal_find(j, "a"));
	nx_journal_close(j);
}

static void journal_forgets_old_finished_ids(void **state)
{
	struct nx_journal *j;
	char err[NX_ERRLEN], id[16];
	assert_int_equal(nx_journal_open(&j, path, 4, err, sizeof err), 0);
	assert_int_equal(nx_journal_begin(j, "long-running", NULL, NULL, 0, err, sizeof err), 0);
	for (int i = 0; i < 100; i++) {
		snprintf(id, sizeof id, "id-%d", i);
		assert_int_equal(nx_journal_begin(j, id, NULL, NULL, 0, err, sizeof err), 0);
		assert_int_equal(nx_journal_finish(j, id, "{}", err, sizeof err), 0);
	}
	assert_null(nx_journal_find(j, "id-0"));
	assert_non_null(nx_journal_find(j, "id-99"));
	assert_non_null(nx_journal_find(j, "long-running")); /* running ids are never forgotten */
	nx_journal_close(j);
	/* the file was compacted on the way: small, and it still knows the newest */
	char *buf;
	size_t len;
	assert_int_equal(nx_read_file(path, 1 << 20, &buf, &len, err, sizeof err), 0);
	assert_true(len < 4096);
	free(buf);
	assert_int_equal(nx_journal_open(&j, path, 4, err, sizeof err), 0);
	assert_non_null(nx_journal_find(j, "id-98"));
	assert_non_null(nx_journal_find(j, "long-running"));
	nx_journal_close(j);
}

static void proc_parsers(void **state)
{
	struct nx_cpu_sample s;
	const char *st = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n";
	assert_int_equal(nx_proc_stat_parse(st, strlen(st), &s), 0);
	assert_int_equal(s.total, 1000);
	assert_int_equal(s.busy, 150);
	assert_int_equal(nx_proc_stat_parse("intr 1", 6, &s), -1);
	uint64_t t, a;
	const char *mi = "MemTotal:       2048 kB\nMemFree:  10 kB\nMemAvailable:   1024 kB\n";
	assert_int_equal(nx_meminfo_parse(mi, strlen(mi), &t, &a), 0);
	assert_int_equal(t, 2048 * 1024);
	assert_int_equal(a, 1024 * 1024);
	assert_int_equal(nx_meminfo_parse("MemTotal: 1 kB\n", 15, &t, &a), -1);
	char *json, err[NX_ERRLEN];
	struct nx_cpu_sample prev = {0};
	assert_int_equal(nx_telemetry_collect("d1", "9.9", &prev, &json, err, sizeof err), 0);
	json_t *j = json_loads(json, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "client"), "version")), "9.9");
	assert_true(json_integer_value(json_object_get(json_object_get(j, "memory"), "total")) > 0);
	json_decref(j);
	free(json);
	assert_int_equal(nx_telemetry_check(" {\"a\": 1}\n", 10, &json, err, sizeof err), 0);
	assert_string_equal(json, "{\"a\":1}");
	free(json);
	assert_int_equal(nx_telemetry_check("[1]", 3, &json, err, sizeof err), -1);
	assert_int_equal(nx_telemetry_check("{} {}", 5, &json, err, sizeof err), -1);
}

static void common_names(void **state)
{
	/* SEQUENCE { SET { SEQ { 2.5.4.6, PrintableString "DE" } }, SET { SEQ { 2.5.4.3, UTF8 "dev-1" } } } */
	static const unsigned char dn[] = {
	    0x30, 0x1f, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, 'D', 'E',
	    0x31, 0x10, 0x30, 0x0e, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x05, 'd', 'e', 'v', '-', '1',
	    0x00, 0x00};
	char cn[16];
	assert_int_equal(nx_dn_common_name(dn, 0x21, cn, sizeof cn), 0);
	assert_string_equal(cn, "dev-1");
	assert_int_equal(nx_dn_common_name(dn, 0x21, cn, 5), -1);     /* does not fit */
	assert_int_equal(nx_dn_common_name(dn, 0x20, cn, sizeof cn), -1); /* cut */
	assert_int_equal(nx_dn_common_name(dn, 0x23, cn, sizeof cn), -1); /* trailing bytes */
	assert_int_equal(nx_dn_common_name(dn, 17, cn, sizeof cn), -1);
	unsigned char no_cn[] = {0x30, 0x0d, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06,
	                         0x13, 0x02, 'D', 'E'};
	assert_int_equal(nx_dn_common_name(no_cn, sizeof no_cn, cn, sizeof cn), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(command_messages),
	    cmocka_unit_test(names_and_statuses),
	    cmocka_unit_test(acks),
	    cmocka_unit_test_setup_teardown(journal_roundtrip, journal_setup, journal_teardown),
	    cmocka_unit_test_setup_teardown(journal_forgets_old_finished_ids, journal_setup, journal_teardown),
	    cmocka_unit_test(proc_parsers),
	    cmocka_unit_test(common_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
