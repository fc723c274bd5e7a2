/* Unit tests for backend route claims: extraction, normalisation, refusals, stage-1 match. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "wire/route_claims.h"
#include "core/util.h"

static json_t *J(const char *s)
{
	json_t *j = json_loads(s, 0, NULL);
	assert_non_null(j);
	return j;
}

static int parse(const char *s, struct nx_route_claims *c, char *err)
{
	json_t *j = J(s);
	int rc = nx_route_claims_parse(j, c, err, NX_ERRLEN);
	json_decref(j);
	return rc;
}

static const uint16_t allow[] = {2222, 5432};
static const struct nx_route_policy pol = {allow, 2, NULL, 0};

static void stage0(void **state)
{
	struct nx_route_claims c;
	char err[NX_ERRLEN];
	assert_int_equal(parse("{\"hostnames\":[\"B.test\",\"a.test.\",\"b.test\",\"*.wild.test\"],"
	                       "\"tcp_ports\":[5432,2222,2222],\"weight\":3,\"sub\":\"dev1\","
	                       "\"iss\":\"authorizer\",\"other\":{\"x\":1}}",
	                       &c, err),
	                 0);
	assert_int_equal(c.n_hostnames, 3);
	assert_string_equal(c.hostnames[0], "*.wild.test");
	assert_string_equal(c.hostnames[1], "a.test");
	assert_string_equal(c.hostnames[2], "b.test");
	assert_int_equal(c.n_tcp_ports, 2);
	assert_int_equal(c.tcp_ports[0], 2222);
	assert_int_equal(c.weight, 3);
	assert_string_equal(c.sub, "dev1");
	assert_int_equal(c.reauth_grace_s, 10);
	assert_int_equal(nx_route_claims_check_stage0(&c, &pol, err, sizeof err), 0);
	struct nx_route_policy none = {NULL, 0, NULL, 0};
	assert_int_equal(nx_route_claims_check_stage0(&c, &none, err, sizeof err), -1);
	assert_non_null(strstr(err, "not allowed"));
	nx_route_claims_free(&c);

	assert_int_equal(parse("{\"weight\":0,\"hostnames\":[]}", &c, err), 0);
	assert_int_equal(c.weight, 1);
	assert_int_equal(nx_route_claims_check_stage0(&c, &pol, err, sizeof err), -1);
	assert_non_null(strstr(err, "no hostname"));
	nx_route_claims_free(&c);

	assert_int_equal(parse("{\"hostnames\":[\"a.test\"],\"udp_routes\":[{\"port\":53}]}", &c, err), 0);
	assert_int_equal(nx_route_claims_check_stage0(&c, &pol, err, sizeof err), -1);
	nx_route_claims_free(&c);

	/* UDP claims (§5): allowed ports pass, idle defaults to 30 s and is clamped to 5-300 s,
	 * a bare port number is read as {"port":N}, duplicates collapse. */
	static const uint16_t allow_udp[] = {53, 5353};
	static const struct nx_route_policy upol = {allow, 2, allow_udp, 2};
	assert_int_equal(parse("{\"udp_routes\":[{\"port\":5353,\"flow_idle_timeout_seconds\":1},"
	                       "53,{\"port\":53,\"flow_idle_timeout_seconds\":9000}]}", &c, err), 0);
	assert_int_equal(c.n_udp_routes, 2);
	assert_int_equal(c.udp_routes[0].port, 53);
	assert_int_equal(c.udp_routes[0].idle_s, 30);
	assert_int_equal(c.udp_routes[1].port, 5353);
	assert_int_equal(c.udp_routes[1].idle_s, 5);
	assert_int_equal(nx_route_claims_check_stage0(&c, &upol, err, sizeof err), 0);
	assert_int_equal(nx_route_claims_check_stage0(&c, &pol, err, sizeof err), -1);
	assert_non_null(strstr(err, "udp port 53 not allowed"));
	struct nx_route_claims c1;
	assert_int_equal(parse("{\"udp_routes\":[{\"port\":5353,\"flow_idle_timeout_seconds\":5},53],"
	                       "\"session_nonce\":\"n\"}", &c1, err), 0);
	assert_int_equal(nx_route_claims_check_followup(&c, &c1, "n", err, sizeof err), 0);
	nx_route_claims_free(&c1);
	assert_int_equal(parse("{\"udp_routes\":[{\"port\":5353,\"flow_idle_timeout_seconds\":60},53],"
	                       "\"session_nonce\":\"n\"}", &c1, err), 0);
	assert_int_equal(nx_route_claims_check_followup(&c, &c1, "n", err, sizeof err), -1);
	assert_non_null(strstr(err, "udp_routes differ"));
	nx_route_claims_free(&c1);
	nx_route_claims_free(&c);
	assert_int_equal(parse("{\"udp_routes\":[{\"port\":0}]}", &c, err), -1);
	nx_route_claims_free(&c);
	assert_int_equal(parse("{\"udp_routes\":[\"53\"]}", &c, err), -1);
	nx_route_claims_free(&c);

	const char *bad[] = {"{\"hostnames\":[\"*.com\"]}", "{\"hostnames\":[\"a.*.com\"]}",
	                     "{\"hostnames\":[\"tcp:22\"]}", "{\"hostnames\":[\"a.test:80\"]}",
	                     "{\"hostnames\":[\"a..test\"]}", "{\"hostnames\":[\"\"]}"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(parse(bad[i], &c, err), -1);
		nx_route_claims_free(&c);
	}
	assert_int_equal(parse("{\"hostnames\":[\"*.com\"]}", &c, err), -1);
	assert_non_null(strstr(err, "wildcard"));
	nx_route_claims_free(&c);
	assert_int_equal(parse("{\"hostnames\":\"a.test\"}", &c, err), -1);
	nx_route_claims_free(&c);
	assert_int_equal(parse("{\"hostnames\":[7]}", &c, err), -1);
	nx_route_claims_free(&c);
	assert_int_equal(parse("{\"tcp_ports\":[70000]}", &c, err), -1);
	nx_route_claims_free(&c);
	assert_int_equal(parse("{\"tcp_ports\":[\"22\"]}", &c, err), -1);
	nx_route_claims_free(&c);
	assert_int_equal(parse("{\"hostnames\":[\"a.test\"],\"weight\":\"x\"}", &c, err), -1);
	nx_route_claims_free(&c);
	assert_int_equal(parse("{\"hostnames\":[\"a.test\"],\"session_nonce\":5}", &c, err), -1);
	nx_route_claims_free(&c);
	json_t *arr = J("[1]");
	assert_int_equal(nx_route_claims_parse(arr, &c, err, sizeof err), -1);
	json_decref(arr);
	nx_route_claims_free(&c);
}

static void stage1(void **state)
{
	struct nx_route_claims s0, s1;
	char err[NX_ERRLEN];
	const char *nonce = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";
	assert_int_equal(parse("{\"hostnames\":[\"a.test\",\"*.w.test\"],\"weight\":2}", &s0, err), 0);
	/* same routes in another order and spelling, right nonce */
	assert_int_equal(parse("{\"hostnames\":[\"*.W.test\",\"a.test.\"],\"weight\":2,"
	                       "\"session_nonce\":\"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ\","
	                       "\"extensions\":[\"half_close\"]}",
	                       &s1, err),
	                 0);
	assert_int_equal(nx_route_claims_check_followup(&s0, &s1, nonce, err, sizeof err), 0);
	assert_true(s1.has_half_close);
	assert_int_equal(nx_route_claims_check_followup(&s0, &s1, "other", err, sizeof err), -1);
	assert_non_null(strstr(err, "nonce"));
	nx_route_claims_free(&s1);
	/* no nonce */
	assert_int_equal(parse("{\"hostnames\":[\"a.test\",\"*.w.test\"],\"weight\":2}", &s1, err), 0);
	assert_int_equal(nx_route_claims_check_followup(&s0, &s1, nonce, err, sizeof err), -1);
	nx_route_claims_free(&s1);
	/* other hostnames */
	assert_int_equal(parse("{\"hostnames\":[\"a.test\",\"evil.test\"],\"weight\":2,"
	                       "\"session_nonce\":\"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ\"}",
	                       &s1, err),
	                 0);
	assert_int_equal(nx_route_claims_check_followup(&s0, &s1, nonce, err, sizeof err), -1);
	assert_non_null(strstr(err, "hostnames differ"));
	nx_route_claims_free(&s1);
	/* a route more */
	assert_int_equal(parse("{\"hostnames\":[\"a.test\",\"*.w.test\"],\"tcp_ports\":[22],\"weight\":2,"
	                       "\"session_nonce\":\"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ\"}",
	                       &s1, err),
	                 0);
	assert_int_equal(nx_route_claims_check_followup(&s0, &s1, nonce, err, sizeof err), -1);
	nx_route_claims_free(&s1);
	/* other weight */
	assert_int_equal(parse("{\"hostnames\":[\"a.test\",\"*.w.test\"],\"weight\":5,"
	                       "\"session_nonce\":\"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ\"}",
	                       &s1, err),
	                 0);
	assert_int_equal(nx_route_claims_check_followup(&s0, &s1, nonce, err, sizeof err), -1);
	assert_non_null(strstr(err, "weight"));
	nx_route_claims_free(&s1);
	nx_route_claims_free(&s0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(stage0),
	    cmocka_unit_test(stage1),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
