/* url.h — the --mqtt URL of every MQTT command (nexus-mqtt2kafka, nexus-agent). Pure. */
#ifndef NEXUS_MQTT_URL_H
#define NEXUS_MQTT_URL_H
#include <stddef.h>

/* "mqtt://HOST[:PORT]" (1883) or "mqtts://HOST[:PORT]" (8883); "[v6addr]" ok. */
struct nx_mqtt_url {
	char host[256];
	int port;
	int tls;
};
int nx_mqtt_url_parse(const char *s, struct nx_mqtt_url *u, char *err, size_t errlen);

#endif
