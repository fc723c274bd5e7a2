/* libFuzzer target: a stored nexus-vault record is bytes from a file anyone with write
 * access may have altered. The splitter must keep every part inside the input, and
 * unsealing must refuse (never crash on) whatever is not a record sealed by this key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "vault/seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[NX_VAULT_KEY_BYTES] = {1, 2, 3};
	struct nx_vault_rec r;
	char err[NX_ERRLEN];
	if (nx_vault_rec_split(data, size, &r, err, sizeof err) == 0) {
		if (r.nonce != data + 4 || r.ct + r.ctlen + NX_VAULT_TAG != data + size)
			abort();
	}
	uint8_t *p;
	size_t pl;
	if (nx_vault_unseal(key, 1, "name", data, size, &p, &pl, err, sizeof err) == 0) {
		if (pl + NX_VAULT_OVERHEAD != size || p[pl] != '\0')
			abort();
		nx_free_secret(p, pl + 1);
	}
	return 0;
}
