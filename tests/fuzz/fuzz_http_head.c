/* libFuzzer target: HTTP/1.x request head sniffing (Host, absolute-form targets). A name
 * found is NUL-free and fits; the parser never reads past len (ASan checks that). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hostname.h"
#include "wire/sniff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* copy into an exact-size heap block so any over-read is caught */
	uint8_t *buf = malloc(size ? size : 1);
	if (size)
		memcpy(buf, data, size);
	struct nx_sniff s;
	enum nx_sniff_result r = nx_sniff_http(buf, size, &s);
	if (r == NX_SNIFF_DONE) {
		if (s.name_len == 0 || strlen(s.name) != s.name_len || s.consumed > size)
			abort();
		char norm[NX_HOSTNAME_MAX + 1];
		nx_hostname_normalize(s.name, s.name_len, norm, sizeof norm, NX_HOSTNAME_WILDCARD_OK,
		                      NULL, 0);
	}
	if (r == NX_SNIFF_DONE || r == NX_SNIFF_NO_NAME) {
		/* the head alone gives the same answer as the head plus what follows */
		struct nx_sniff h;
		if (nx_sniff_http(buf, s.consumed, &h) != r || strcmp(h.name, s.name) != 0)
			abort();
	}
	free(buf);
	return 0;
}
