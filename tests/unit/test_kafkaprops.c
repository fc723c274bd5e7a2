/* Unit tests for -X property handling: secrets refused inline, @FILE and the environment
 * (lib/bridge/kafkaprops.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/kafkaprops.h"
#include "core/util.h"

static char err[NX_ERRLEN];

static void secret_names(void **state)
{
	const char *yes[] = {"sasl.password", "ssl.key.password", "ssl.keystore.password",
	                     "sasl.oauthbearer.client.secret", "ssl.key.pem", "SASL.Password",
	                     "sasl.oauthbearer.config"};
	const char *no[] = {"linger.ms", "sasl.username", "ssl.key.location", "acks",
	                    "sasl.mechanisms"};
	for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
		assert_true(nx_kafka_prop_is_secret(yes[i], strlen(yes[i])));
	for (size_t i = 0; i < sizeof no / sizeof *no; i++)
		assert_false(nx_kafka_prop_is_secret(no[i], strlen(no[i])));
}

static void argv_check(void **state)
{
	char *ok[] = {"linger.ms=5", "sasl.password=@/etc/pw", "sasl.username=bob"};
	assert_int_equal(nx_kafka_props_check_argv(ok, 3, err, sizeof err), 0);
	char *bad[] = {"linger.ms=5", "sasl.password=hunter2"};
	assert_int_equal(nx_kafka_props_check_argv(bad, 2, err, sizeof err), -1);
	assert_non_null(strstr(err, "sasl.password is a secret"));
	assert_null(strstr(err, "hunter2"));
	char *shape[] = {"=x"};
	assert_int_equal(nx_kafka_props_check_argv(shape, 1, err, sizeof err), -1);
}

static char *fake_env(const char *name)
{
	return strcmp(name, "NEXUS_MQTT2KAFKA_X_SSL_KEY_PASSWORD") == 0 ? "from-env" : NULL;
}

static void load(void **state)
{
	char path[] = "/tmp/nexus-kprops-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "from-file\n\n", 11), 11);
	close(fd);
	char arg[64];
	snprintf(arg, sizeof arg, "sasl.password=@%s", path);
	char *props[] = {"linger.ms=5", arg};
	char **out;
	int n;
	assert_int_equal(nx_kafka_props_load(props, 2, &out, &n, 64, fake_env, err, sizeof err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(out[0], "linger.ms=5");
	assert_string_equal(out[1], "sasl.password=from-file");
	assert_string_equal(out[2], "ssl.key.password=from-env");
	nx_kafka_props_free(out, n);
	/* -X beats the environment */
	char *given[] = {"ssl.key.password=@/dev/null"};
	assert_int_equal(nx_kafka_props_load(given, 1, &out, &n, 64, fake_env, err, sizeof err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(out[0], "ssl.key.password=");
	nx_kafka_props_free(out, n);
	unlink(path);
	assert_int_equal(nx_kafka_props_load(props, 2, &out, &n, 64, fake_env, err, sizeof err), -1);
	assert_non_null(strstr(err, path));
	assert_int_equal(nx_kafka_props_load(props, 1, &out, &n, 1, fake_env, err, sizeof err), -1);
	assert_non_null(strstr(err, "too many"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(secret_names),
		cmocka_unit_test(argv_check),
		cmocka_unit_test(load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
