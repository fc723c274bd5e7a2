/* Fuzz the telemetry line parser: untrusted bytes → (device id, state slice). The id must
 * always pass nx_ingest_name_ok() and the slice must lie inside the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bind/ingest.h"
#include "bind/pairing.h"
#include "core/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[NX_DEVICE_ID_MAX + 1], err[NX_ERRLEN];
	const char *json;
	size_t jlen;
	/* First byte picks the id path, so nested lookups get exercised too. */
	static const char *paths[] = {"id", "dev.sn", "a.b.c", "", "id."};
	const char *path = size ? paths[data[0] % 5] : "id";
	const char *buf = size ? (const char *)data + 1 : "";
	size_t len = size ? size - 1 : 0;
	if (nx_ingest_parse_line(buf, len, path, id, &json, &jlen, err, sizeof err) == NX_INGEST_OK) {
		if (!nx_ingest_name_ok(id, strlen(id)))
			abort();
		if (json < buf || json + jlen > buf + len)
			abort();
	}
	/* The same bytes as a typed pairing code. */
	char canon[NX_PAIR_CODE_CHARS + 1];
	if (nx_pair_code_parse(buf, len, canon, err, sizeof err) == 0 &&
	    strlen(canon) != NX_PAIR_CODE_CHARS)
		abort();
	return 0;
}
