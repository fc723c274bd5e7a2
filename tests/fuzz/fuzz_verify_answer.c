/* libFuzzer: the remote token verifier's answer (hub/verify_answer.h), bytes from the
 * network. Invariants: a valid answer hands back an object; a refusal's text is printable
 * and short; nothing else is handed back. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hub/verify_answer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256];
	json_t *claims = (json_t *)1;
	int rc = nx_verify_answer_parse((const char *)data, size, &claims, why, sizeof why);
	if (rc == NX_VERIFY_VALID) {
		if (!json_is_object(claims))
			__builtin_trap();
		json_decref(claims);
		return 0;
	}
	if (claims)
		__builtin_trap();
	if (rc != NX_VERIFY_INVALID && rc != NX_VERIFY_BAD)
		__builtin_trap();
	if (rc == NX_VERIFY_INVALID) {
		size_t n = strlen(why);
		if (n == 0 || n > NX_VERIFY_ERROR_MAX)
			__builtin_trap();
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)why[i] < 0x20 || (unsigned char)why[i] >= 0x7f)
				__builtin_trap();
	}
	return 0;
}
