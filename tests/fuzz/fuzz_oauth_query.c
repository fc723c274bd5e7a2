/* libFuzzer target: form/query parameters as an OAuth redirect delivers them (untrusted:
 * anyone can hit the loopback port). A value found is NUL-free and fits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oauth/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	if (size)
		memcpy(buf, data, size);
	static const char *names[] = {"code", "state", "iss", "error", ""};
	for (int i = 0; i < 5; i++) {
		char out[64];
		int rc = nx_oauth_query_get(buf, size, names[i], out, sizeof out);
		if (rc == 1 && strlen(out) >= sizeof out)
			abort();
		if (rc < -1 || rc > 1)
			abort();
	}
	free(buf);
	return 0;
}
