/* libFuzzer target: credential JSON (put's stdin, a record's plaintext). What the parser
 * accepts must give a header line without CR or LF and an environment. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "vault/cred.h"

static int set(void *arg, const char *name, const char *value)
{
	if (strchr(value, '\n') || strchr(value, '\r'))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *c;
	char err[NX_ERRLEN]; /* formatted, so a message that reads freed JSON is caught */
	if (nx_cred_parse((const char *)data, size, &c, err, sizeof err) < 0)
		return 0;
	char *h = nx_cred_header(c), *s = nx_cred_secret(c);
	if (!h || !s || strpbrk(h, "\r\n"))
		abort();
	nx_free_secret(h, strlen(h));
	nx_free_secret(s, strlen(s));
	nx_cred_env(c, set, NULL);
	nx_cred_expires(c);
	json_decref(c);
	return 0;
}
