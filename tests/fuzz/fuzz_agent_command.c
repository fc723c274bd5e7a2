/* libFuzzer target: nexus-agent's command messages (from the network) and the ack built from a
 * handler's arbitrary output, which must always be valid JSON; the telemetry command's output
 * check, the /proc parsers and the certificate-name parser ride along. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/command.h"
#include "agent/identity.h"
#include "agent/telemetry.h"
#include "core/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct nx_cmd c;
	char err[NX_ERRLEN];
	if (nx_cmd_parse(s, size, &c, err, sizeof err) == 0 &&
	    (!c.id[0] || !nx_cmd_name_ok(c.name, strlen(c.name))))
		abort();
	char *ack = nx_cmd_ack(c.id, nx_cmd_status((int)size & 0xff), s, size, size & 1);
	if (ack) {
		json_t *j = json_loads(ack, 0, NULL);
		if (!j)
			abort();
		json_decref(j);
		free(ack);
	}
	char *json = NULL;
	if (nx_telemetry_check(s, size, &json, err, sizeof err) == 0 && !json)
		abort();
	free(json);
	struct nx_cpu_sample cs;
	if (nx_proc_stat_parse(s, size, &cs) == 0 && cs.busy > cs.total)
		abort();
	uint64_t t, a;
	nx_meminfo_parse(s, size, &t, &a);
	char cn[65];
	if (nx_dn_common_name(data, size, cn, sizeof cn) == 0 && strlen(cn) >= sizeof cn)
		abort();
	return 0;
}
