/* libFuzzer: nexus-hub's --backends file (backends.h), parsed as the pure function it is.
 * Invariants: a parse that succeeds has named entries each granted something, with
 * normalised hostnames; every inline key has a thumbprint; a grant never refuses a claim
 * of exactly what it lists. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/hostname.h"
#include "hub/backends.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct nx_backends *b;
	if (nx_backends_parse((const char *)data, size, &b, err, sizeof err) < 0)
		return 0;
	for (size_t i = 0; i < b->n; i++) {
		struct nx_backend *e = &b->v[i];
		char kid[NX_KID_MAX];
		if (!e->name[0] || (!e->key && !e->key_path) || (e->key && e->key_path))
			__builtin_trap();
		if (e->n_hosts + e->n_tcp + e->n_udp == 0)
			__builtin_trap();
		if (e->key && nx_key_thumbprint(e->key, kid, err, sizeof err) < 0)
			__builtin_trap();
		struct nx_route_claims c = {.weight = 1};
		c.hostnames = e->hosts;
		c.n_hostnames = e->n_hosts;
		c.tcp_ports = e->tcp;
		c.n_tcp_ports = e->n_tcp;
		for (size_t j = 0; j < e->n_hosts; j++) {
			char again[NX_HOSTNAME_MAX + 1];
			if (nx_hostname_normalize(e->hosts[j], strlen(e->hosts[j]), again, sizeof again,
			                          NX_HOSTNAME_WILDCARD_OK, NULL, 0) < 0 ||
			    strcmp(again, e->hosts[j]) != 0)
				__builtin_trap();
		}
		if (nx_backend_grant_check(e, &c, err, sizeof err) < 0)
			__builtin_trap();
	}
	nx_backends_free(b);
	return 0;
}
