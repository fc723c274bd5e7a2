/* Unit tests for map rule parsing, MQTT topic matching with key extraction, --mqtt URLs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "bridge/mqttmap.h"
#include "core/util.h"

static int parse(const char *s, struct nx_map_rule *r, char *err)
{
	return nx_map_rule_parse(s, strlen(s), r, err, NX_ERRLEN);
}

static void rules_good(void **state)
{
	struct nx_map_rule r;
	char err[NX_ERRLEN];
	assert_int_equal(parse("device/+/info=telemetry", &r, err), 0);
	assert_string_equal(r.filter, "device/+/info");
	assert_string_equal(r.kafka_topic, "telemetry");
	assert_int_equal(r.key, NX_MAP_KEY_PLUS);
	assert_int_equal(r.key_plus, 1);
	assert_int_equal(r.match_off, 0);

	assert_int_equal(parse("site/+/dev/+/x=t.1,key=+2", &r, err), 0);
	assert_int_equal(r.key_plus, 2);
	assert_int_equal(parse("a/b=t_2", &r, err), 0);
	assert_int_equal(r.key, NX_MAP_KEY_TOPIC);
	assert_int_equal(parse("a/#=t-3,key=#", &r, err), 0);
	assert_int_equal(r.key, NX_MAP_KEY_HASH);
	assert_int_equal(parse("a/+=t,key=none", &r, err), 0);
	assert_int_equal(r.key, NX_MAP_KEY_NONE);
	assert_int_equal(parse("a/+=t,key=topic", &r, err), 0);
	assert_int_equal(r.key, NX_MAP_KEY_TOPIC);
	assert_int_equal(parse("$share/g1/device/+/info=telemetry", &r, err), 0);
	assert_string_equal(r.filter, "$share/g1/device/+/info");
	assert_string_equal(r.filter + r.match_off, "device/+/info");
	assert_int_equal(parse("#=all", &r, err), 0);
}

static void rules_bad(void **state)
{
	struct nx_map_rule r;
	char err[NX_ERRLEN];
	const char *bad[] = {
	    "device/+/info",          /* no topic */
	    "=t",                     /* no filter */
	    "a/+=",                   /* empty topic */
	    "a/+=bad topic",          /* space in topic */
	    "a/+=t,key=",             /* empty key */
	    "a/+=t,key=+2",           /* only one '+' */
	    "a/+=t,key=+0",
	    "a/+=t,key=#",            /* no '#' */
	    "a/+=t,key=foo",
	    "a/+=t,key=+,key=+",      /* twice */
	    "a/+=t,partition=3",      /* unknown option */
	    "a/b+/c=t",               /* '+' not alone */
	    "a/#/c=t",                /* '#' not last */
	    "a/b#=t",
	    "$share//a=t",            /* empty group */
	    "$share/g=t",             /* no filter after the group */
	    "$share/g+/a=t",
	    "a=..",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		err[0] = '\0';
		if (parse(bad[i], &r, err) != -1)
			fail_msg("accepted bad rule '%s'", bad[i]);
		assert_true(err[0] != '\0');
	}
	char longf[NX_MAP_FILTER_MAX + 10];
	memset(longf, 'a', sizeof longf);
	memcpy(longf + sizeof longf - 3, "=t", 3);
	assert_int_equal(parse(longf, &r, err), -1);
	/* embedded NUL in the filter */
	assert_int_equal(nx_map_rule_parse("a\0b=t", 5, &r, err, sizeof err), -1);
}

static int match(const char *f, const char *t, int idx, char *seg)
{
	const char *s = NULL;
	size_t n = 0;
	int m = nx_topic_match(f, strlen(f), t, strlen(t), idx, &s, &n);
	if (seg) {
		memcpy(seg, s ? s : "", n);
		seg[n] = '\0';
	}
	return m;
}

static void matching(void **state)
{
	char seg[64];
	assert_true(match("device/+/info", "device/42/info", 1, seg));
	assert_string_equal(seg, "42");
	assert_false(match("device/+/info", "device/42/info/x", 0, NULL));
	assert_false(match("device/+/info", "device/info", 0, NULL));
	assert_true(match("device/+/info", "device//info", 1, seg));
	assert_string_equal(seg, "");
	assert_true(match("a/+/b/+", "a/x/b/y", 2, seg));
	assert_string_equal(seg, "y");
	assert_true(match("a/#", "a", -1, seg));
	assert_string_equal(seg, "");
	assert_true(match("a/#", "a/b/c", -1, seg));
	assert_string_equal(seg, "b/c");
	assert_true(match("#", "x/y", -1, seg));
	assert_false(match("#", "$SYS/x", 0, NULL));
	assert_false(match("+/x", "$SYS/x", 0, NULL));
	assert_true(match("$SYS/+", "$SYS/x", 1, seg));
	assert_true(match("a/b", "a/b", 0, NULL));
	assert_false(match("a/b", "a/bc", 0, NULL));
	assert_false(match("a/b", "a", 0, NULL));
	assert_true(match("a/+", "a/", 1, seg));
	assert_false(match("a/+", "a", 0, NULL));
}

static void routing(void **state)
{
	struct nx_map_rule rules[3];
	char err[NX_ERRLEN];
	assert_int_equal(parse("$share/g/device/+/alarm=alarms,key=none", &rules[0], err), 0);
	assert_int_equal(parse("device/+/+=telemetry,key=+2", &rules[1], err), 0);
	assert_int_equal(parse("fleet/#=fleet,key=#", &rules[2], err), 0);
	const char *key;
	size_t kl;
	assert_int_equal(nx_map_route(rules, 3, "device/7/alarm", 14, &key, &kl), 0);
	assert_null(key);
	assert_int_equal(kl, 0);
	assert_int_equal(nx_map_route(rules, 3, "device/7/info", 13, &key, &kl), 1);
	assert_int_equal(kl, 4);
	assert_memory_equal(key, "info", 4);
	assert_int_equal(nx_map_route(rules, 3, "fleet/a/b", 9, &key, &kl), 2);
	assert_int_equal(kl, 3);
	assert_memory_equal(key, "a/b", 3);
	assert_int_equal(nx_map_route(rules, 3, "other/x", 7, &key, &kl), -1);
}

static void urls(void **state)
{
	struct nx_mqtt_url u;
	char err[NX_ERRLEN];
	assert_int_equal(nx_mqtt_url_parse("mqtt://broker", &u, err, sizeof err), 0);
	assert_string_equal(u.host, "broker");
	assert_int_equal(u.port, 1883);
	assert_int_equal(u.tls, 0);
	assert_int_equal(nx_mqtt_url_parse("mqtts://b.example:8884", &u, err, sizeof err), 0);
	assert_int_equal(u.port, 8884);
	assert_int_equal(u.tls, 1);
	assert_int_equal(nx_mqtt_url_parse("mqtts://[::1]:9000", &u, err, sizeof err), 0);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 9000);
	assert_int_equal(nx_mqtt_url_parse("mqtt://h/", &u, err, sizeof err), 0);
	const char *bad[] = {"http://h", "mqtt://", "mqtt://h:0", "mqtt://h:70000", "mqtt://h:1x",
	                     "mqtt://h/path", "mqtts://[::1", "h:1883"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (nx_mqtt_url_parse(bad[i], &u, err, sizeof err) != -1)
			fail_msg("accepted bad URL '%s'", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rules_good), cmocka_unit_test(rules_bad), cmocka_unit_test(matching),
	    cmocka_unit_test(routing),    cmocka_unit_test(urls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
