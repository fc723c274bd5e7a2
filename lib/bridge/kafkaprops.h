/* kafkaprops.h — librdkafka properties from -X NAME=VALUE, with secrets kept off argv.
 *
 * A property whose value is a secret (sasl.password, ssl.key.password,
 * ssl.keystore.password, sasl.oauthbearer.client.secret, ssl.key.pem, ... : see
 * nx_kafka_prop_is_secret) must not be given inline, where every local user sees it in
 * ps(1) and /proc: give NAME=@FILE (the file's content, trailing newlines removed) or the
 * environment variable NEXUS_MQTT2KAFKA_X_<NAME> (upper case, '.' as '_'), e.g.
 * NEXUS_MQTT2KAFKA_X_SASL_PASSWORD. NAME=@FILE works for every property. */
#ifndef NEXUS_KAFKAPROPS_H
#define NEXUS_KAFKAPROPS_H
#include <stddef.h>

#define NX_KAFKA_ENV_PREFIX "NEXUS_MQTT2KAFKA_X_"

/* 1 when the property called `name` (the part before '=') holds a secret. */
int nx_kafka_prop_is_secret(const char *name, size_t len);

/* Check -X arguments as given: name=value shape, no inline secret. 0, or -1 with err
 * (a usage error; err never contains a value). */
int nx_kafka_props_check_argv(char *const *props, int n, char *err, size_t errlen);

/* The properties to apply: each of props with @FILE values read, then every secret
 * property set in the environment (NX_KAFKA_ENV_PREFIX) and not given by -X. *out is
 * malloc'd "name=value" strings (at most max); free with nx_kafka_props_free.
 * getenv_fn: getenv, or a stand-in for tests. */
int nx_kafka_props_load(char *const *props, int n, char ***out, int *nout, int max,
                        char *(*getenv_fn)(const char *), char *err, size_t errlen);
/* Wipe and free what nx_kafka_props_load returned. */
void nx_kafka_props_free(char **props, int n);

#endif
