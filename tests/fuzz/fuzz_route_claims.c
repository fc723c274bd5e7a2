/* libFuzzer: a backend token's claims as the hub reads them (route_claims.h). Invariants: a
 * parse that succeeds yields sorted, unique, already-normalised hostnames and ports, a weight
 * of at least 1, and a claim set always matches itself as stage 1. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/hostname.h"
#include "wire/route_claims.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, 0, NULL);
	if (!j)
		return 0;
	char err[256];
	struct nx_route_claims c;
	if (nx_route_claims_parse(j, &c, err, sizeof err) == 0) {
		if (c.weight < 1)
			__builtin_trap();
		for (size_t i = 0; i < c.n_hostnames; i++) {
			char again[NX_HOSTNAME_MAX + 1];
			const char *h = c.hostnames[i];
			if (nx_hostname_normalize(h, strlen(h), again, sizeof again,
			                          NX_HOSTNAME_WILDCARD_OK, NULL, 0) < 0 ||
			    strcmp(again, h) != 0)
				__builtin_trap();
			if (i && strcmp(c.hostnames[i - 1], h) >= 0)
				__builtin_trap();
		}
		for (size_t i = 1; i < c.n_tcp_ports; i++)
			if (c.tcp_ports[i - 1] >= c.tcp_ports[i])
				__builtin_trap();
		for (size_t i = 1; i < c.n_udp_routes; i++)
			if (c.udp_routes[i - 1].port >= c.udp_routes[i].port)
				__builtin_trap();
		for (size_t i = 0; i < c.n_udp_routes; i++)
			if (c.udp_routes[i].idle_s < NX_UDP_IDLE_MIN_S ||
			    c.udp_routes[i].idle_s > NX_UDP_IDLE_MAX_S)
				__builtin_trap();
		uint16_t allow[] = {22, 443}, allow_udp[] = {53};
		struct nx_route_policy pol = {allow, 2, allow_udp, 1};
		nx_route_claims_check_stage0(&c, &pol, err, sizeof err);
		if (c.session_nonce[0] &&
		    nx_route_claims_check_followup(&c, &c, c.session_nonce, err, sizeof err) != 0)
			__builtin_trap();
	}
	nx_route_claims_free(&c);
	json_decref(j);
	return 0;
}
