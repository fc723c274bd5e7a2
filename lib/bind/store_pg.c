/* store_pg.c — the PostgreSQL backend of store.h (libpq, text parameters and results). */
#include "bind/store_int.h"
#include "core/util.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

static void quiet_notice(void *arg, const char *msg) {}

static const char *pg_msg(PGconn *c)
{
	const char *m = PQerrorMessage(c);
	return m && *m ? m : "unknown error";
}

/* libpq messages end in a newline and may span lines: keep the first line. */
static int pg_err(char *err, size_t errlen, const char *m)
{
	size_t n = strcspn(m, "\n");
	return nx_err(err, errlen, "postgresql: %.*s", (int)n, m);
}

static int pg_exec(void *be, const char *sql, int n, const char *const *params,
                   struct nx_rows *rows, char *err, size_t errlen)
{
	PGconn *c = be;
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType s = PQresultStatus(r);
	int rc;
	if (s == PGRES_TUPLES_OK) {
		int nr = PQntuples(r), nc = PQnfields(r);
		rc = nr;
		for (int i = 0; rows && i < nr; i++) {
			const char *cells[64];
			int k = nc < 64 ? nc : 64;
			for (int j = 0; j < k; j++)
				cells[j] = PQgetisnull(r, i, j) ? NULL : PQgetvalue(r, i, j);
			if (nx_rows_append(rows, k, cells) < 0) {
				rc = nx_err(err, errlen, "out of memory");
				break;
			}
		}
	} else if (s == PGRES_COMMAND_OK) {
		rc = atoi(PQcmdTuples(r));
	} else {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		const char *m = PQresultErrorMessage(r);
		pg_err(err, errlen, m && *m ? m : pg_msg(c));
		rc = state && strcmp(state, "23505") == 0 ? NX_STORE_CONFLICT : -1;
	}
	PQclear(r);
	return rc;
}

static int pg_script(void *be, const char *sql, char *err, size_t errlen)
{
	PGconn *c = be;
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		pg_err(err, errlen, PQresultErrorMessage(r));
	PQclear(r);
	return ok ? 0 : -1;
}

static int pg_begin(void *be, char *err, size_t errlen)
{
	return pg_script(be, "BEGIN", err, errlen);
}

static int pg_commit(void *be, char *err, size_t errlen)
{
	/* COMMIT of a transaction a failed statement aborted "succeeds" with the tag
	 * ROLLBACK: that is a failure to the caller. */
	PGconn *c = be;
	PGresult *r = PQexec(c, "COMMIT");
	int rc = 0;
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = pg_err(err, errlen, PQresultErrorMessage(r));
	else if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
		rc = nx_err(err, errlen, "postgresql: transaction was rolled back");
	PQclear(r);
	return rc;
}

static void pg_rollback(void *be)
{
	PGconn *c = be;
	if (PQtransactionStatus(c) != PQTRANS_IDLE)
		PQclear(PQexec(c, "ROLLBACK"));
}

static void pg_close(void *be) { PQfinish(be); }

static const struct nx_store_ops pg_ops = {
    pg_exec, pg_script, pg_begin, pg_commit, pg_rollback, pg_close,
};

int nx_store_pg_open(const char *conninfo, void **be, const struct nx_store_ops **ops,
                     char *err, size_t errlen)
{
	PGconn *c = PQconnectdb(conninfo);
	if (!c)
		return nx_err(err, errlen, "postgresql: out of memory");
	if (PQstatus(c) != CONNECTION_OK) {
		pg_err(err, errlen, pg_msg(c));
		PQfinish(c);
		return -1;
	}
	/* CREATE ... IF NOT EXISTS notices would otherwise land on our stderr. */
	PQsetNoticeProcessor(c, quiet_notice, NULL);
	*be = c;
	*ops = &pg_ops;
	return 0;
}

int nx_store_is_conninfo(const char *s, int *has_password)
{
	int uri = strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0;
	int pw = 0;
	char *why = NULL;
	PQconninfoOption *opts = PQconninfoParse(s, &why);
	if (!opts) {
		PQfreemem(why);
		if (!uri)
			return 0;
		pw = strcasestr(s, "password") != NULL || strchr(s, '@') != NULL;
	} else {
		for (PQconninfoOption *o = opts; o->keyword; o++)
			if (strcmp(o->keyword, "password") == 0 && o->val && o->val[0])
				pw = 1;
		PQconninfoFree(opts);
	}
	if (has_password)
		*has_password = pw;
	return 1;
}
