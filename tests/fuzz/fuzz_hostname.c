/* libFuzzer target: hostname normalisation (route keys from SNI, Host and token claims).
 * Properties: normalising is idempotent, the result uses only [a-z0-9._-] (and a leading
 * "*." for wildcards), and a wildcard match never crosses a label boundary. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hostname.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[NX_HOSTNAME_MAX + 1], again[NX_HOSTNAME_MAX + 1];
	if (nx_hostname_normalize((const char *)data, size, out, sizeof out, NX_HOSTNAME_WILDCARD_OK,
	                          NULL, 0) < 0)
		return 0;
	size_t n = strlen(out);
	if (n == 0 || n > NX_HOSTNAME_MAX)
		abort();
	for (size_t i = nx_hostname_is_wildcard(out) ? 2 : 0; i < n; i++) {
		char c = out[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		      c == '_'))
			abort();
	}
	if (nx_hostname_normalize(out, n, again, sizeof again, NX_HOSTNAME_WILDCARD_OK, NULL, 0) < 0 ||
	    strcmp(out, again) != 0)
		abort();
	char w[NX_HOSTNAME_MAX + 2];
	if (!nx_hostname_is_wildcard(out) && nx_hostname_wildcard_of(out, w, sizeof w) == 0) {
		if (!nx_hostname_match(w, out))
			abort();
		/* "x.<out>" is one label deeper: the same wildcard must not cover it */
		char deeper[NX_HOSTNAME_MAX + 8] = "x.";
		strcat(deeper, out);
		if (nx_hostname_match(w, deeper))
			abort();
	}
	return 0;
}
