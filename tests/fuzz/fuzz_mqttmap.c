/* libFuzzer target: --map rules, --mqtt URLs and topic matching. Input: "RULE\nTOPIC". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/mqttmap.h"
#include "core/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *nl = memchr(s, '\n', size);
	size_t rl = nl ? (size_t)(nl - s) : size;
	struct nx_map_rule r;
	char err[NX_ERRLEN];
	if (nx_map_rule_parse(s, rl, &r, err, sizeof err) == 0 && nl) {
		const char *topic = nl + 1;
		size_t tl = size - rl - 1;
		const char *key = NULL;
		size_t kl = 0;
		if (nx_map_route(&r, 1, topic, tl, &key, &kl) == 0 && key &&
		    (key < topic || key + kl > topic + tl))
			abort();
	}
	char url[300];
	size_t ul = size < sizeof url - 1 ? size : sizeof url - 1;
	memcpy(url, data, ul);
	url[ul] = '\0';
	struct nx_mqtt_url u;
	nx_mqtt_url_parse(url, &u, err, sizeof err);
	return 0;
}
