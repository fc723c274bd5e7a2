/* verify_answer.c — the remote verifier's answer (verify_answer.h). */
#include "hub/verify_answer.h"
#include "core/util.h"

#include <string.h>

/* The verifier's words, printable ASCII only, at most NX_VERIFY_ERROR_MAX bytes. */
static void clean_copy(char *out, size_t cap, const char *s)
{
	size_t o = 0;
	for (; *s && o + 1 < cap && o < NX_VERIFY_ERROR_MAX; s++) {
		unsigned char c = (unsigned char)*s;
		out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (cap)
		out[o] = '\0';
}

int nx_verify_answer_parse(const char *buf, size_t len, json_t **claims, char *why,
                           size_t whylen)
{
	*claims = NULL;
	if (len > NX_VERIFY_ANSWER_MAX) {
		nx_err(why, whylen, "answer longer than %d bytes", NX_VERIFY_ANSWER_MAX);
		return NX_VERIFY_BAD;
	}
	json_error_t je;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		nx_err(why, whylen, "answer is not JSON");
		return NX_VERIFY_BAD;
	}
	int rc = NX_VERIFY_BAD;
	json_t *valid = json_object_get(j, "valid");
	if (!json_is_object(j)) {
		nx_err(why, whylen, "answer is not a JSON object");
	} else if (!json_is_boolean(valid)) {
		nx_err(why, whylen, "answer has no boolean \"valid\"");
	} else if (json_is_true(valid)) {
		json_t *c = json_object_get(j, "claims");
		if (!json_is_object(c)) {
			nx_err(why, whylen, "valid answer without a \"claims\" object");
		} else {
			*claims = json_incref(c);
			rc = NX_VERIFY_VALID;
		}
	} else {
		const char *e = json_string_value(json_object_get(j, "error"));
		clean_copy(why, whylen, e && *e ? e : "no reason given");
		rc = NX_VERIFY_INVALID;
	}
	json_decref(j);
	return rc;
}
