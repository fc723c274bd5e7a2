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
	/* host and relay port together */
	assert_int_equal(nx_tunnel_parse_map("App.Test:443=127.0.0.1:8443", &r, err, sizeof err), 0);
	assert_string_equal(r.key, "app.test:443");
	assert_string_equal(r.host, "app.test");
	assert_int_equal(r.port, 443);
	assert_string_equal(r.addr, "127.0.0.1:8443");
	assert_int_equal(nx_tunnel_parse_map("*.dev.test:80=127.0.0.1:3000", &r, err, sizeof err), 0);
	assert_string_equal(r.host, "*.dev.test");
	assert_int_equal(r.port, 80);
	assert_int_equal(nx_tunnel_parse_map("2222=127.0.0.1:22", &r, err, sizeof err), 0);
	assert_string_equal(r.host, "");
	assert_int_equal(r.port, 2222);
	assert_int_equal(nx_tunnel_parse_map("app.test:0=127.0.0.1:1", &r, err, sizeof err), -1);
	assert_non_null(strstr(err, "relay port"));
	assert_int_equal(nx_tunnel_parse_map("app.test:http=127.0.0.1:1", &r, err, sizeof err), -1);
	assert_int_equal(nx_tunnel_parse_map("99999=127.0.0.1:1", &r, err, sizeof err), -1);
	assert_int_equal(nx_tunnel_parse_map("*.com:80=127.0.0.1:1", &r, err, sizeof err), -1);
	assert_int_equal(nx_tunnel_parse_map("a b:80=127.0.0.1:1", &r, err, sizeof err), -1);
}

static struct nx_tunnel_route M[8];
static size_t nm;
static void add(const char *spec)
{
	char err[NX_ERRLEN];
	assert_int_equal(nx_tunnel_parse_map(spec, &M[nm++], err, sizeof err), 0);
}

static void map_lookup(void **state)
{
	nm = 0;
	add("2222=127.0.0.1:22");
	add("*.dev.test=127.0.0.1:7000");
	add("app.test:443=127.0.0.1:8443");
	add("app.test=127.0.0.1:8000");
	add("app.test:80=127.0.0.1:8080");
	add("*.dev.test:443=127.0.0.1:7443");
#define L(h, p) nx_tunnel_route_lookup(M, nm, h, p, "dflt")
	/* exact + port beats exact alone, whatever the order given */
	assert_string_equal(L("app.test", 443), "127.0.0.1:8443");
	assert_string_equal(L("app.test", 80), "127.0.0.1:8080");
	assert_string_equal(L("app.test", 8080), "127.0.0.1:8000");
	/* exact alone beats a port-only entry */
	assert_string_equal(L("app.test", 2222), "127.0.0.1:8000");
	/* wildcard + port, then wildcard; one label only */
	assert_string_equal(L("a.dev.test", 443), "127.0.0.1:7443");
	assert_string_equal(L("a.dev.test", 80), "127.0.0.1:7000");
	assert_string_equal(L("a.b.dev.test", 80), "dflt");
	/* no hostname (a port claim): the port entry, else the default */
	assert_string_equal(L(NULL, 2222), "127.0.0.1:22");
	assert_string_equal(L("", 2222), "127.0.0.1:22");
	assert_string_equal(L("other.test", 2222), "127.0.0.1:22");
	assert_string_equal(L("other.test", 443), "dflt");
	assert_null(nx_tunnel_route_lookup(M, nm, "other.test", 1, NULL));
	/* a host:port entry never answers for another port */
	nm = 0;
	add("app.test:443=127.0.0.1:8443");
	assert_string_equal(L("app.test", 80), "dflt");
	assert_string_equal(L("app.test", 0), "dflt");
#undef L
}

static void serving_line(void **state)
{
	const char *hosts[] = {"app.test", "*.wild.test"};
	uint16_t ports[] = {2222};
	char line[900];
	struct nx_tunnel_cfg c = {.hub_url = "wss://hub/connect", .hostnames = hosts,
	                          .n_hostnames = 1, .to = "127.0.0.1:9000"};
	nx_tunnel_describe(&c, line, sizeof line);
	assert_string_equal(line, "app.test → 127.0.0.1:9000 via wss://hub/connect");
	c.n_hostnames = 2;
	c.tcp_ports = ports;
	c.n_tcp_ports = 1;
	nx_tunnel_describe(&c, line, sizeof line);
	assert_string_equal(line, "app.test → 127.0.0.1:9000, *.wild.test → 127.0.0.1:9000, "
	                          "port 2222 → 127.0.0.1:9000 via wss://hub/connect");
	nm = 0;
	add("app.test:443=127.0.0.1:8443");
	add("App.Test:80=127.0.0.1:8080");
	add("2222=127.0.0.1:22");
	c.map = M;
	c.n_map = nm;
	nx_tunnel_describe(&c, line, sizeof line);
	assert_string_equal(line, "app.test, *.wild.test, port 2222 via wss://hub/connect: "
	                          "app.test:443 → 127.0.0.1:8443, app.test:80 → 127.0.0.1:8080, "
	                          "port 2222 → 127.0.0.1:22, otherwise → 127.0.0.1:9000");
	c.to = NULL;
	c.n_hostnames = 1;
	c.n_tcp_ports = 0;
	nx_tunnel_describe(&c, line, sizeof line);
	assert_non_null(strstr(line, "otherwise → refused"));
	/* a line too long for the buffer ends in "..." */
	nx_tunnel_describe(&c, line, 40);
	assert_int_equal(strlen(line), 39);
	assert_string_equal(line + 36, "...");
}

/* Which hub refusals end a tunnel that never served, and what it is told to change. */
static void refusal_hints(void **state)
{
	assert_true(nx_tunnel_refusal_permanent(1008, "stage0 token validation failed: signature mismatch"));
	assert_false(nx_tunnel_refusal_permanent(1008, "stage1 token not received in time"));
	assert_false(nx_tunnel_refusal_permanent(1011, "internal error"));
	assert_false(nx_tunnel_refusal_permanent(1001, ""));
	assert_non_null(strstr(nx_tunnel_hint_refusal("token signature is invalid"), "--secret-file"));
	assert_non_null(strstr(nx_tunnel_hint_refusal("stage0 token validation failed: token expired"),
	                       "clock"));
	assert_non_null(strstr(nx_tunnel_hint_refusal("wrong audience (expected 'nexus')"), "aud"));
	assert_non_null(strstr(nx_tunnel_hint_refusal("tcp port 2222 not allowed"),
	                       "--allow-tcp-port"));
	assert_non_null(strstr(nx_tunnel_hint_refusal("hostname a.test is held by another backend"),
	                       "another backend"));
	assert_non_null(strstr(nx_tunnel_hint_refusal("stage1 claims differ"), "same routes"));
	assert_non_null(nx_tunnel_hint_refusal(""));
	assert_non_null(nx_tunnel_hint_refusal(NULL));
	assert_true(nx_tunnel_http_permanent(404));
	assert_true(nx_tunnel_http_permanent(401));
	assert_false(nx_tunnel_http_permanent(408));
	assert_false(nx_tunnel_http_permanent(429));
	assert_false(nx_tunnel_http_permanent(502));
	assert_false(nx_tunnel_http_permanent(0));
	assert_non_null(strstr(nx_tunnel_hint_http(404), "/connect"));
	assert_true(nx_tunnel_cert_permanent(56));  /* BR_ERR_X509_BAD_SERVER_NAME */
	assert_true(nx_tunnel_cert_permanent(62));  /* BR_ERR_X509_NOT_TRUSTED */
	assert_false(nx_tunnel_cert_permanent(31)); /* BR_ERR_IO */
	assert_false(nx_tunnel_cert_permanent(0));
	assert_non_null(strstr(nx_tunnel_hint_cert(56), "--servername"));
	assert_non_null(strstr(nx_tunnel_hint_cert(62), "--cafile"));
}

static void map_proxy_option(void **state)
{
	struct nx_tunnel_route r[3];
	char err[NX_ERRLEN];
	assert_int_equal(nx_tunnel_parse_map("app.test=127.0.0.1:80", &r[0], err, sizeof err), 0);
	assert_int_equal(r[0].proxy, NX_TUNNEL_PROXY_INHERIT);
	assert_int_equal(nx_tunnel_parse_map("app.test:443=127.0.0.1:8443,proxy=v2", &r[1], err,
	                                     sizeof err), 0);
	assert_string_equal(r[1].addr, "127.0.0.1:8443");
	assert_int_equal(r[1].port, 443);
	assert_int_equal(r[1].proxy, NX_PROXY_V2);
	assert_int_equal(nx_tunnel_parse_map("2222=[::1]:22,proxy=none", &r[2], err, sizeof err), 0);
	assert_string_equal(r[2].addr, "[::1]:22");
	assert_int_equal(r[2].proxy, NX_PROXY_NONE);
	assert_ptr_equal(nx_tunnel_route_find(r, 3, "app.test", 443), &r[1]);
	assert_ptr_equal(nx_tunnel_route_find(r, 3, "app.test", 80), &r[0]);
	assert_null(nx_tunnel_route_find(r, 3, "other.test", 80));
	assert_int_equal(nx_tunnel_parse_map("a.test=127.0.0.1:80,proxy=v3", &r[0], err, sizeof err),
	                 -1);
	assert_non_null(strstr(err, "proxy=v1|v2|none"));
	assert_int_equal(nx_tunnel_parse_map("a.test=127.0.0.1:80,pp=v1", &r[0], err, sizeof err), -1);
	assert_int_equal(nx_tunnel_parse_map("a.test=127.0.0.1:80,", &r[0], err, sizeof err), -1);
	/* the serving line says which entries get a header */
	struct nx_tunnel_cfg c = {.hub_url = "wss://h/connect", .map = r, .n_map = 2,
	                          .to = "127.0.0.1:9", .proxy = NX_PROXY_V1};
	nx_tunnel_parse_map("app.test=127.0.0.1:80", &r[0], err, sizeof err);
	char line[512];
	nx_tunnel_describe(&c, line, sizeof line);
	assert_string_equal(line, " via wss://h/connect: app.test → 127.0.0.1:80 (PROXY v1), "
	                          "app.test:443 → 127.0.0.1:8443 (PROXY v2), "
	                          "otherwise → 127.0.0.1:9 (PROXY v1)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hub_urls),
		cmocka_unit_test(map_entries),
		cmocka_unit_test(map_lookup),
		cmocka_unit_test(serving_line),
		cmocka_unit_test(refusal_hints),
		cmocka_unit_test(map_proxy_option),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
