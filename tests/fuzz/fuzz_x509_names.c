/* libFuzzer target: the certificate name reader (SAN dNSName / iPAddress, subject CN).
 * Also checks its promises: the text form always terminates within its buffer and holds
 * only printable bytes, and an IP match is only ever claimed for a well-formed input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/x509_names.h"

static int count_cb(void *arg, enum nx_x509_name_type type, const unsigned char *v, size_t len)
{
	size_t *n = arg;
	if (type != NX_X509_DNS && type != NX_X509_IP && type != NX_X509_CN)
		abort();
	if (len && !v)
		abort();
	++*n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = 0;
	int r = nx_x509_names(data, size, count_cb, &n);
	static const unsigned char v4[4] = {127, 0, 0, 1}, v6[16] = {[15] = 1};
	int m4 = nx_x509_has_ip(data, size, v4, 4), m6 = nx_x509_has_ip(data, size, v6, 16);
	if (r < 0 && (m4 != -1 || m6 != -1))
		abort();
	for (size_t cap = 1; cap <= 64; cap += 21) {
		char out[64];
		memset(out, 'x', sizeof out);
		nx_x509_names_text(data, size, out, cap);
		size_t len = strnlen(out, cap);
		if (len >= cap)
			abort();
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f)
				abort();
	}
	return 0;
}
