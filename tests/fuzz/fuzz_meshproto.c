/* libFuzzer: a peer hub's control message on /mesh (meshproto.h). Invariants: a parse that
 * succeeds yields sorted, unique, normalised route keys within the bound, and encoding the
 * result then parsing it again gives the same message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/meshproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct nx_mesh_msg m, again;
	if (nx_mesh_msg_parse((const char *)data, size, &m, err, sizeof err) == 0) {
		char *enc = NULL;
		if (m.n_routes > NX_MESH_MAX_ROUTES)
			__builtin_trap();
		for (size_t i = 1; i < m.n_routes; i++)
			if (strcmp(m.routes[i - 1], m.routes[i]) >= 0)
				__builtin_trap();
		if (m.type == NX_MESH_HELLO)
			enc = nx_mesh_hello_encode(m.node, err, sizeof err);
		else
			enc = nx_mesh_routes_encode(m.version, (const char *const *)m.routes,
			                            m.n_routes, err, sizeof err);
		if (!enc)
			__builtin_trap();
		if (nx_mesh_msg_parse(enc, strlen(enc), &again, err, sizeof err) != 0 ||
		    again.type != m.type || again.version != m.version ||
		    strcmp(again.node, m.node) != 0 || again.n_routes != m.n_routes)
			__builtin_trap();
		for (size_t i = 0; i < m.n_routes; i++)
			if (strcmp(again.routes[i], m.routes[i]) != 0)
				__builtin_trap();
		nx_mesh_msg_free(&again);
		free(enc);
	}
	nx_mesh_msg_free(&m);
	return 0;
}
