/* Unit tests for the store interface on its SQLite backend: placeholders, NULLs, row
 * counts, RETURNING, conflicts, rollback. (The PostgreSQL backend runs the same calls in
 * tests/bind-pg.bats.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bind/store.h"
#include "core/util.h"

static char dir[] = "/tmp/nexus-store-test.XXXXXX";

static int open_db(void **state)
{
	char path[128], err[NX_ERRLEN];
	struct nx_store *st;
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof path, "%s/sub/dir/t.db", dir); /* parents are created */
	if (nx_store_open(path, &st, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	*state = st;
	return nx_store_script(st, "CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT, n BIGINT)", err,
	                       sizeof err);
}

static int close_db(void **state)
{
	nx_store_close(*state);
	char cmd[160];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void exec_counts_and_returning(void **state)
{
	struct nx_store *st = *state;
	char err[NX_ERRLEN];
	struct nx_rows r;
	assert_int_equal(nx_store_kind(st), NX_STORE_SQLITE);
	const char *p1[] = {"a", NULL, "5"};
	assert_int_equal(nx_store_exec(st, "INSERT INTO t VALUES($1, $2, $3)", 3, p1, NULL, err,
	                               sizeof err),
	                 1);
	const char *p2[] = {"b", "x", "7"};
	assert_int_equal(nx_store_exec(st, "INSERT INTO t VALUES($1, $2, $3)", 3, p2, NULL, err,
	                               sizeof err),
	                 1);
	/* text parameters compare as numbers against a BIGINT column, as in PostgreSQL */
	const char *p3[] = {"6"};
	assert_int_equal(nx_store_exec(st, "SELECT k, v FROM t WHERE n > $1", 1, p3, &r, err,
	                               sizeof err),
	                 1);
	assert_string_equal(nx_rows_get(&r, 0, 0), "b");
	nx_rows_free(&r);
	assert_int_equal(nx_store_exec(st, "SELECT v FROM t WHERE k = 'a'", 0, NULL, &r, err,
	                               sizeof err),
	                 1);
	assert_null(nx_rows_get(&r, 0, 0)); /* SQL NULL */
	assert_null(nx_rows_get(&r, 1, 0)); /* out of range */
	nx_rows_free(&r);
	/* $2 used before $1 and twice: bound by name, not position */
	const char *p4[] = {"a", "9"};
	assert_int_equal(nx_store_exec(st, "UPDATE t SET n = $2 + $2 WHERE k = $1 RETURNING n", 2,
	                               p4, &r, err, sizeof err),
	                 1);
	assert_string_equal(nx_rows_get(&r, 0, 0), "18");
	nx_rows_free(&r);
	assert_int_equal(nx_store_exec(st, "UPDATE t SET n = 0 WHERE k = 'zz'", 0, NULL, NULL, err,
	                               sizeof err),
	                 0);
}

static void conflicts_and_errors(void **state)
{
	struct nx_store *st = *state;
	char err[NX_ERRLEN];
	const char *p[] = {"dup"};
	assert_int_equal(nx_store_exec(st, "INSERT INTO t(k) VALUES($1)", 1, p, NULL, err, sizeof err), 1);
	assert_int_equal(nx_store_exec(st, "INSERT INTO t(k) VALUES($1)", 1, p, NULL, err, sizeof err),
	                 NX_STORE_CONFLICT);
	assert_non_null(strstr(err, "UNIQUE"));
	assert_int_equal(nx_store_exec(st, "SELECT nope FROM t", 0, NULL, NULL, err, sizeof err), -1);
	assert_non_null(strstr(err, "nope"));
}

static void rollback_discards(void **state)
{
	struct nx_store *st = *state;
	char err[NX_ERRLEN];
	struct nx_rows r;
	assert_int_equal(nx_store_begin(st, err, sizeof err), 0);
	assert_int_equal(nx_store_exec(st, "DELETE FROM t", 0, NULL, NULL, err, sizeof err) > 0, 1);
	nx_store_rollback(st);
	nx_store_rollback(st); /* harmless with no transaction open */
	assert_true(nx_store_exec(st, "SELECT k FROM t", 0, NULL, &r, err, sizeof err) > 0);
	nx_rows_free(&r);
	assert_int_equal(nx_store_begin(st, err, sizeof err), 0);
	assert_int_equal(nx_store_exec(st, "DELETE FROM t", 0, NULL, NULL, err, sizeof err) > 0, 1);
	assert_int_equal(nx_store_commit(st, err, sizeof err), 0);
	assert_int_equal(nx_store_exec(st, "SELECT k FROM t", 0, NULL, &r, err, sizeof err), 0);
	nx_rows_free(&r);
}

static void open_errors(void **state)
{
	char err[NX_ERRLEN];
	struct nx_store *st;
	assert_int_equal(nx_store_open("", &st, err, sizeof err), -1);
	assert_int_equal(nx_store_open("/proc/nope/x.db", &st, err, sizeof err), -1);
	assert_non_null(strstr(err, "/proc/nope"));
	assert_int_equal(nx_store_open("postgresql://nobody@127.0.0.1:1/x", &st, err, sizeof err), -1);
	assert_non_null(strstr(err, "postgresql:"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(exec_counts_and_returning),
	    cmocka_unit_test(conflicts_and_errors),
	    cmocka_unit_test(rollback_discards),
	    cmocka_unit_test(open_errors),
	};
	return cmocka_run_group_tests(tests, open_db, close_db);
}
