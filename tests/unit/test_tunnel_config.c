/* nexus-tunnel's hub URL and --map parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "tunnel/tunnel.h"
#include "core/util.h"

static void hub_urls(void **state)
{
	struct nx_hub_url u;
	char err[NX_ERRLEN];
	assert_int_equal(nx_tunnel_parse_url("wss://hub.example.com/connect", &u, err, sizeof err), 0);
	assert_string_equal(u.host, "hub.example.com");
	assert_int_equal(u.port, 443);
	assert_string_equal(u.path, "/connect");
	assert_string_equal(u.dial, "hub.example.com:443");
	assert_string_equal(u.host_header, "hub.example.com"); /* Go leaves a default port out */
	assert_int_equal(nx_tunnel_parse_url("wss://127.0.0.1:7443", &u, err, sizeof err), 0);
	assert_string_equal(u.host_header, "127.0.0.1:7443"); /* as in the captured upgrade */
	assert_string_equal(u.path, "/connect");
	assert_int_equal(nx_tunnel_parse_url("wss://[::1]:8443/x", &u, err, sizeof err), 0);
	assert_string_equal(u.host, "::1");
	assert_string_equal(u.dial, "[::1]:8443");
	assert_string_equal(u.host_header, "[::1]:8443");
	assert_string_equal(u.path, "/x");
	assert_int_equal(nx_tunnel_parse_url("ws://hub/connect", &u, err, sizeof err), -1);
	assert_non_null(strstr(err, "wss://"));
	assert_int_equal(nx_tunnel_parse_url("https://hub/connect", &u, err, sizeof err), -1);
	assert_int_equal(nx_tunnel_parse_url("wss:///connect", &u, err, sizeof err), -1);
	assert_int_equal(nx_tunnel_parse_url("wss://hub:0/connect", &u, err, sizeof err), -1);
	assert_int_equal(nx_tunnel_parse_url("wss://hub:65536/", &u, err, sizeof err), -1);
	assert_int_equal(nx_tunnel_parse_url("wss://user@hub/", &u, err, sizeof err), -1);
	assert_int_equal(nx_tunnel_parse_url("wss://[::1/", &u, err, sizeof err), -1);
	assert_int_equal(nx_tunnel_parse_url("wss://hub/a b", &u, err, sizeof err), -1);
}

static void map_entries(void **state)
{
	struct nx_tunnel_route r;
	char err[NX_ERRLEN];
	assert_int_equal(nx_tunnel_parse_map("App.Test=127.0.0.1:8080", &r, err, sizeof err), 0);
	assert_string_equal(r.key, "app.test");
	assert_string_equal(r.addr, "127.0.0.1:8080");
	assert_int_equal(nx_tunnel_parse_map("*.dev.test=[::1]:3000", &r, err, sizeof err), 0);
	assert_int_equal(nx_tunnel_parse_map("2222=127.0.0.1:22", &r, err, sizeof err), 0);
	assert_string_equal(r.key, "2222");
	assert_int_equal(nx_tunnel_parse_map("app.test", &r, err, sizeof err), -1);
	assert_int_equal(nx_tunnel_parse_map("=127.0.0.1:1", &r, err, sizeof err), -1);
	assert_int_equal(nx_tunnel_parse_map("a=", &r, err, sizeof err), -1);
	assert_int_equal(nx_tunnel_parse_map("a=nowhere", &r, err, sizeof err), -1);
	assert_int_equal(nx_tunnel_parse_map("a=127.0.0.1:0", &r, err, sizeof err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hub_urls),
		cmocka_unit_test(map_entries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
