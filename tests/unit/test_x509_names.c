/* test_x509_names: the certificate name reader on certificates openssl writes (SAN with
 * DNS, IPv4, IPv6, other kinds; no SAN at all), and on broken DER. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire/x509_names.h"

static char dir[] = "/tmp/nexus-test-x509.XXXXXX";

/* A self-signed DER certificate with subject CN cn and SAN san (NULL: no SAN). */
static unsigned char *make_cert(const char *cn, const char *san, size_t *len)
{
	char cmd[1024], path[256];
	snprintf(path, sizeof path, "%s/c.der", dir);
	snprintf(cmd, sizeof cmd,
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	         "-keyout %s/k.pem -outform DER -out %s -days 2 -subj '/CN=%s' %s%s%s "
	         ">/dev/null 2>&1",
	         dir, path, cn, san ? "-addext 'subjectAltName=" : "", san ? san : "",
	         san ? "'" : "");
	assert_int_equal(system(cmd), 0);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	static unsigned char buf[8192];
	*len = fread(buf, 1, sizeof buf, f);
	fclose(f);
	return buf;
}

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void dns_and_ips(void **state)
{
	size_t len;
	unsigned char *der = make_cert("hub", "DNS:localhost,IP:127.0.0.1,IP:::1,email:a@b.c", &len);
	char out[200];
	assert_string_equal(nx_x509_names_text(der, len, out, sizeof out),
	                    "DNS:localhost, IP:127.0.0.1, IP:::1");
	static const unsigned char v4[4] = {127, 0, 0, 1}, other[4] = {127, 0, 0, 2};
	static const unsigned char v6[16] = {[15] = 1};
	assert_int_equal(nx_x509_has_ip(der, len, v4, 4), 1);
	assert_int_equal(nx_x509_has_ip(der, len, other, 4), 0);
	assert_int_equal(nx_x509_has_ip(der, len, v6, 16), 1);
}

static void dns_spelling_an_ip_is_not_an_ip(void **state)
{
	size_t len;
	unsigned char *der = make_cert("127.0.0.1", "DNS:127.0.0.1", &len);
	static const unsigned char v4[4] = {127, 0, 0, 1};
	assert_int_equal(nx_x509_has_ip(der, len, v4, 4), 0);
}

static void no_san_reports_the_cn(void **state)
{
	size_t len;
	unsigned char *der = make_cert("only.cn.test", NULL, &len);
	char out[200];
	assert_string_equal(nx_x509_names_text(der, len, out, sizeof out), "CN:only.cn.test");
	static const unsigned char v4[4] = {127, 0, 0, 1};
	assert_int_equal(nx_x509_has_ip(der, len, v4, 4), 0);
}

static void long_lists_are_cut(void **state)
{
	size_t len;
	unsigned char *der = make_cert("x", "DNS:aaaaaaaaaa.test,DNS:bbbbbbbbbb.test,DNS:c.test", &len);
	char out[24];
	nx_x509_names_text(der, len, out, sizeof out);
	assert_true(strlen(out) < sizeof out);
	assert_non_null(strstr(out, "..."));
}

static void broken_der(void **state)
{
	size_t len;
	unsigned char *der = make_cert("hub", "DNS:localhost,IP:127.0.0.1", &len);
	static const unsigned char v4[4] = {127, 0, 0, 1};
	char out[64];
	for (size_t cut = 0; cut < len; cut += 7) {
		assert_int_equal(nx_x509_has_ip(der, cut, v4, 4), -1);
		assert_string_equal(nx_x509_names_text(der, cut, out, sizeof out), "unreadable names");
	}
	assert_int_equal(nx_x509_has_ip(der, len, v4, 4), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(dns_and_ips),
	    cmocka_unit_test(dns_spelling_an_ip_is_not_an_ip),
	    cmocka_unit_test(no_san_reports_the_cn),
	    cmocka_unit_test(long_lists_are_cut),
	    cmocka_unit_test(broken_der),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
