/* Unit tests for the backend route claims: hostname normalisation, ports, UDP routes and the
 * token command's environment contract (shared/protocol.md §2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "token/backend_claims.h"
#include "core/util.h"

static char err[NX_ERRLEN];

static void hostnames(void **state)
{
	char h[NX_HOSTNAME_MAX + 1];
	static const char *const good[][2] = {
	    {"App.Example.COM", "app.example.com"}, {" a.example.com. ", "a.example.com"},
	    {"*.Example.com", "*.example.com"},     {"localhost", "localhost"},
	    {"xn--bcher-kva.example", "xn--bcher-kva.example"},
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		assert_int_equal(nx_hostname_normalize(good[i][0], strlen(good[i][0]), h, sizeof h, NX_HOSTNAME_WILDCARD_OK, err, sizeof err), 0);
		assert_string_equal(h, good[i][1]);
	}
	static const char *const bad[] = {"",           "   ",          ".",      "*.com",
	                                  "a.*.com",    "*.*.example.com", "*x.example.com",
	                                  "tcp:22",     "udp:53",       "a..b",   ".a.b",
	                                  "a b.example", "a/b",         "*.", "*..com"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (nx_hostname_normalize(bad[i], strlen(bad[i]), h, sizeof h, NX_HOSTNAME_WILDCARD_OK, err, sizeof err) == 0)
			fail_msg("'%s' accepted as '%s'", bad[i], h);
	char longname[300];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	assert_int_equal(nx_hostname_normalize(longname, strlen(longname), h, sizeof h, NX_HOSTNAME_WILDCARD_OK, err, sizeof err), -1);
}

static void ports_and_routes(void **state)
{
	json_t *c = json_object();
	assert_int_equal(nx_claims_add_tcp_port(c, "22", err, sizeof err), 0);
	assert_int_equal(nx_claims_add_tcp_port(c, "22", err, sizeof err), 0); /* once */
	assert_int_equal(nx_claims_add_tcp_port(c, "0", err, sizeof err), -1);
	assert_int_equal(nx_claims_add_tcp_port(c, "65536", err, sizeof err), -1);
	assert_int_equal(nx_claims_add_tcp_port(c, "22x", err, sizeof err), -1);
	assert_int_equal(nx_claims_add_udp_route(c, "53", err, sizeof err), 0);
	assert_int_equal(nx_claims_add_udp_route(c, "5000:2m", err, sizeof err), 0);
	assert_int_equal(nx_claims_add_udp_route(c, "5001:1500ms", err, sizeof err), 0);
	assert_int_equal(nx_claims_add_udp_route(c, "5000:", err, sizeof err), -1);
	assert_int_equal(nx_claims_add_udp_route(c, ":30", err, sizeof err), -1);
	assert_int_equal(nx_claims_add_list(c, " a.example.com,,B.example.com ,", nx_claims_add_hostname,
	                                    err, sizeof err), 0);
	char *s = json_dumps(c, JSON_COMPACT);
	assert_string_equal(s, "{\"tcp_ports\":[22],\"udp_routes\":[{\"port\":53},"
	                       "{\"port\":5000,\"flow_idle_timeout_seconds\":120},"
	                       "{\"port\":5001,\"flow_idle_timeout_seconds\":2}],"
	                       "\"hostnames\":[\"a.example.com\",\"b.example.com\"]}");
	free(s);
	json_decref(c);
}

static const char *const *fake_env;
static char *fake_getenv(const char *name)
{
	size_t n = strlen(name);
	for (const char *const *e = fake_env; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return (char *)*e + n + 1;
	return NULL;
}

static void environment_contract(void **state)
{
	static const char *const env1[] = {
	    "NEXUS_ATTESTATION_STAGE=attest", "NEXUS_SESSION_NONCE=abc", "NEXUS_BACKEND_NAME=edge",
	    "NEXUS_HOSTNAMES=x.example.com", "NEXUS_TCP_PORTS=22,80", "NEXUS_UDP_ROUTES=53:30",
	    "NEXUS_WEIGHT=4", NULL};
	fake_env = env1;
	json_t *c = json_pack("{s:[s]}", "hostnames", "flag.example.com");
	assert_int_equal(nx_claims_add_backend_env(c, fake_getenv, err, sizeof err), 0);
	char *s = json_dumps(c, JSON_COMPACT);
	assert_string_equal(s, "{\"hostnames\":[\"flag.example.com\"],\"session_nonce\":\"abc\","
	                       "\"sub\":\"edge\",\"tcp_ports\":[22,80],\"udp_routes\":[{\"port\":53,"
	                       "\"flow_idle_timeout_seconds\":30}],\"weight\":4}");
	free(s);
	json_decref(c);
	static const char *const env2[] = {"NEXUS_ATTESTATION_STAGE=reauth", NULL};
	fake_env = env2;
	c = json_object();
	assert_int_equal(nx_claims_add_backend_env(c, fake_getenv, err, sizeof err), -1);
	assert_string_equal(err, "stage reauth needs NEXUS_SESSION_NONCE");
	static const char *const env3[] = {"NEXUS_ATTESTATION_STAGE=handshake", "NEXUS_WEIGHT=x", NULL};
	fake_env = env3;
	assert_int_equal(nx_claims_add_backend_env(c, fake_getenv, err, sizeof err), -1);
	assert_non_null(strstr(err, "NEXUS_WEIGHT"));
	static const char *const env4[] = {"NEXUS_ATTESTATION_STAGE=later", NULL};
	fake_env = env4;
	assert_int_equal(nx_claims_add_backend_env(c, fake_getenv, err, sizeof err), -1);
	json_decref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(hostnames),
	    cmocka_unit_test(ports_and_routes),
	    cmocka_unit_test(environment_contract),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
