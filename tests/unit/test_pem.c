/* Unit tests for the PEM walker every key, certificate and bundle loader goes through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pem.h"

/* "AAEC" is base64 of 00 01 02; "/w==" of ff */
#define OBJ(name, b64) "-----BEGIN " name "-----\n" b64 "\n-----END " name "-----\n"

struct seen {
	char names[4][32];
	size_t lens[4];
	unsigned char first[4];
	int n, stop_at;
};

static int record(void *arg, const char *name, const unsigned char *der, size_t n)
{
	struct seen *s = arg;
	if (s->n < 4) {
		snprintf(s->names[s->n], sizeof s->names[s->n], "%s", name);
		s->lens[s->n] = n;
		s->first[s->n] = n ? der[0] : 0;
	}
	s->n++;
	return s->n == s->stop_at ? 1 : 0;
}

static void every_object_in_order(void **state)
{
	const char *text = "junk before\n" OBJ("CERTIFICATE", "AAEC") "between\n" OBJ("PRIVATE KEY", "/w==");
	struct seen s = {.stop_at = 0};
	assert_int_equal(nx_pem_each(text, strlen(text), record, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[0], "CERTIFICATE");
	assert_int_equal(s.lens[0], 3);
	assert_int_equal(s.first[0], 0x00);
	assert_string_equal(s.names[1], "PRIVATE KEY");
	assert_int_equal(s.lens[1], 1);
	assert_int_equal(s.first[1], 0xff);
}

static void last_line_without_newline(void **state)
{
	const char *text = "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----";
	struct seen s = {.stop_at = 0};
	assert_int_equal(nx_pem_each(text, strlen(text), record, &s), 0);
	assert_int_equal(s.n, 1);
}

static void the_callback_stops_or_fails_the_walk(void **state)
{
	const char *text = OBJ("A", "AAEC") OBJ("B", "AAEC") OBJ("C", "AAEC");
	struct seen s = {.stop_at = 2};
	assert_int_equal(nx_pem_each(text, strlen(text), record, &s), 0);
	assert_int_equal(s.n, 2); /* C never seen */
}

static int refuse(void *arg, const char *name, const unsigned char *der, size_t n) { return -1; }

static void errors(void **state)
{
	const char *trunc = "-----BEGIN CERTIFICATE-----\nAAEC\n";
	assert_int_equal(nx_pem_each(trunc, strlen(trunc), refuse, NULL), NX_PEM_TRUNCATED);
	assert_string_equal(nx_pem_strerror(NX_PEM_TRUNCATED), "truncated PEM object");
	const char *bad = "-----BEGIN CERTIFICATE-----\nAA!!\n-----END CERTIFICATE-----\n";
	assert_int_equal(nx_pem_each(bad, strlen(bad), refuse, NULL), NX_PEM_MALFORMED);
	const char *ok = OBJ("X", "AAEC");
	assert_int_equal(nx_pem_each(ok, strlen(ok), refuse, NULL), -1); /* the callback's own */
	assert_int_equal(nx_pem_each("no pem here\n", 12, refuse, NULL), 0);
	/* an object over 64 KiB of DER: refused, not grown without bound */
	size_t b64 = (NX_PEM_OBJ_MAX / 3 + 100) * 4;
	char *big = malloc(b64 + b64 / 64 + 200);
	assert_non_null(big);
	size_t n = (size_t)sprintf(big, "-----BEGIN BIG-----\n");
	for (size_t i = 0; i < b64; i++) {
		big[n++] = 'A';
		if (i % 64 == 63)
			big[n++] = '\n';
	}
	n += (size_t)sprintf(big + n, "\n-----END BIG-----\n");
	assert_int_equal(nx_pem_each(big, n, refuse, NULL), NX_PEM_TOO_BIG);
	free(big);
}

static void first_by_name(void **state)
{
	const char *text = OBJ("EC PARAMETERS", "/w==") OBJ("CERTIFICATE", "AAEC");
	unsigned char *der = NULL;
	size_t n = 0;
	assert_int_equal(nx_pem_first(text, strlen(text), "CERTIFICATE", &der, &n), 1);
	assert_int_equal(n, 3);
	assert_int_equal(der[2], 0x02);
	free(der);
	assert_int_equal(nx_pem_first(text, strlen(text), NULL, &der, &n), 1);
	assert_int_equal(n, 1);
	free(der);
	assert_int_equal(nx_pem_first(text, strlen(text), "PRIVATE KEY", &der, &n), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_object_in_order),
		cmocka_unit_test(last_line_without_newline),
		cmocka_unit_test(the_callback_stops_or_fails_the_walk),
		cmocka_unit_test(errors),
		cmocka_unit_test(first_by_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
