/* libFuzzer target: key loading (PEM objects, BearSSL's private-key decoder, our DER reader
 * for public keys, X.509). The first byte picks the PEM label, the rest is the DER body;
 * the whole input is also tried as a raw key file. */
#include <bearssl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "token/keys.h"
#include "core/util.h"

static const char *const labels[] = {"PUBLIC KEY",     "RSA PUBLIC KEY", "PRIVATE KEY",
                                     "RSA PRIVATE KEY", "EC PRIVATE KEY", "CERTIFICATE",
                                     "EC PARAMETERS"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[NX_ERRLEN];
	struct nx_key *k;
	if (nx_key_load_buf(data, size, &k, err, sizeof err) == 0)
		nx_key_free(k);
	if (size < 1 || size > 16384)
		return 0;
	const char *label = labels[data[0] % (sizeof labels / sizeof labels[0])];
	size_t n = br_pem_encode(NULL, data + 1, size - 1, label, BR_PEM_LINE64);
	char *pem = malloc(n + 1);
	if (!pem)
		return 0;
	br_pem_encode(pem, data + 1, size - 1, label, BR_PEM_LINE64);
	if (nx_key_load_buf(pem, n, &k, err, sizeof err) == 0) {
		char *out;
		size_t len;
		if (nx_key_public_pem(k, &out, &len, err, sizeof err) == 0)
			free(out);
		nx_key_free(k);
	}
	free(pem);
	return 0;
}
