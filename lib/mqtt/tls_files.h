/* tls_files.h — the --cafile/--cert/--key of an MQTT command, checked before libmosquitto
 * sees them: its mosquitto_tls_set says only "Invalid function arguments provided" for a
 * file it cannot read, so the user would not learn which file or why. */
#ifndef NEXUS_MQTT_TLS_FILES_H
#define NEXUS_MQTT_TLS_FILES_H
#include <stddef.h>

/* 0 when each non-NULL file can be read; -1 with "cannot read FILE: reason" (the option is
 * named too) in err. */
int nx_mqtt_tls_files_ok(const char *cafile, const char *certfile, const char *keyfile, char *err,
                         size_t errlen);

#endif
