/* libFuzzer target: TLS ClientHello SNI sniffing. Also checks the parser's own promises:
 * the answer for the whole input is consistent with the answers for its prefixes (a prefix
 * of a complete hello is never "done" with a different name), and names have no NUL. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hostname.h"
#include "wire/sniff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nx_sniff s, p;
	enum nx_sniff_result r = nx_sniff_tls(data, size, &s);
	if (r == NX_SNIFF_DONE) {
		if (s.name_len == 0 || s.name_len >= sizeof s.name || strlen(s.name) != s.name_len)
			abort();
		if (s.consumed > size)
			abort();
		char norm[NX_HOSTNAME_MAX + 1];
		nx_hostname_normalize(s.name, s.name_len, norm, sizeof norm, 0, NULL, 0);
	}
	if (size > 0) {
		enum nx_sniff_result rp = nx_sniff_tls(data, size / 2, &p);
		/* bytes that are not TLS stay not TLS, whatever follows */
		if (rp == NX_SNIFF_NOT_THIS && r != NX_SNIFF_NOT_THIS)
			abort();
		if (rp == NX_SNIFF_DONE && (r != NX_SNIFF_DONE || strcmp(p.name, s.name) != 0))
			abort();
		/* "need" is a lower bound: below it, the whole input cannot be complete */
		if (rp == NX_SNIFF_NEED_MORE && p.need && size < p.need &&
		    (r == NX_SNIFF_DONE || r == NX_SNIFF_NO_NAME))
			abort();
	}
	return 0;
}
