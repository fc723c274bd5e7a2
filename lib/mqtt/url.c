/* url.c — see url.h. */
#include "mqtt/url.h"
#include "core/units.h"
#include "core/util.h"

#include <string.h>

int nx_mqtt_url_parse(const char *s, struct nx_mqtt_url *u, char *err, size_t errlen)
{
	memset(u, 0, sizeof *u);
	const char *p;
	if (strncmp(s, "mqtt://", 7) == 0) {
		p = s + 7;
		u->port = 1883;
	} else if (strncmp(s, "mqtts://", 8) == 0) {
		p = s + 8;
		u->port = 8883;
		u->tls = 1;
	} else {
		return nx_err(err, errlen, "bad MQTT URL '%s': want mqtt://HOST[:PORT] or mqtts://HOST[:PORT]", s);
	}
	const char *hend, *after;
	if (*p == '[') {
		hend = strchr(p, ']');
		if (!hend)
			return nx_err(err, errlen, "bad MQTT URL '%s': unclosed '['", s);
		p++;
		after = hend + 1;
	} else {
		hend = p + strcspn(p, ":/");
		after = hend;
	}
	size_t hl = (size_t)(hend - p);
	if (hl == 0 || hl >= sizeof u->host)
		return nx_err(err, errlen, "bad MQTT URL '%s': no host", s);
	memcpy(u->host, p, hl);
	if (*after == ':') {
		long long port;
		char perr[NX_ERRLEN];
		if (nx_parse_int(after + 1, 1, 65535, &port, perr, sizeof perr) < 0)
			return nx_err(err, errlen, "bad MQTT URL '%s': port: %s", s, perr);
		u->port = (int)port;
	} else if (*after == '/' && after[1] == '\0') {
		/* a trailing slash is harmless */
	} else if (*after) {
		return nx_err(err, errlen, "bad MQTT URL '%s': junk after the host", s);
	}
	return 0;
}
