/* libFuzzer: hub protocol messages from a peer — binary message split, control JSON parse
 * (and re-encode + re-parse must agree), text challenges. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wire/hubproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct nx_hub_msg m;
	nx_hub_msg_parse(data, size, &m, err, sizeof err);

	struct nx_hub_control c, d;
	if (nx_hub_control_parse(data, size, &c, err, sizeof err) == 0 && c.event != NX_HUB_EV_UNKNOWN) {
		static uint8_t out[NX_HUB_MAX_MESSAGE];
		int n = nx_hub_control_encode(&c, out, sizeof out);
		if (n < 2 || nx_hub_control_parse(out + 1, (size_t)n - 1, &d, err, sizeof err) != 0)
			__builtin_trap();
		if (d.event != c.event || d.credits != c.credits || d.conn_port != c.conn_port ||
		    strcmp(d.hostname, c.hostname) != 0 || strcmp(d.reason, c.reason) != 0 ||
		    !nx_uuid_equal(&d.client_id, &c.client_id))
			__builtin_trap();
	}

	struct nx_hub_challenge ch;
	if (nx_hub_challenge_parse((const char *)data, size, &ch, err, sizeof err) == 0 &&
	    ch.type != NX_HUB_CHALLENGE_NONE) {
		char out[1024];
		const char *ext[NX_HUB_MAX_EXTENSIONS + 1];
		for (int i = 0; i < ch.n_extensions; i++)
			ext[i] = ch.extensions[i];
		ext[ch.n_extensions] = NULL;
		if (nx_hub_challenge_encode(ch.type, ch.nonce, ext, out, sizeof out) < 0)
			__builtin_trap();
	}
	struct nx_uuid u;
	nx_uuid_parse((const char *)data, size, &u);
	return 0;
}
