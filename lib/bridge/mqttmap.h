/* mqttmap.h — the pure parts of nexus-mqtt2kafka's routing: map rules
 * ("FILTER=KAFKA_TOPIC[,key=EXPR]"), MQTT topic filter validation and matching with key
 * extraction, and the --mqtt URL. No I/O, no allocation: easy to unit test and fuzz.
 *
 * Key expressions:  "+" or "+1" the first single-level wildcard's segment, "+N" the N-th;
 * "#" what the trailing multi-level wildcard matched; "topic" the whole MQTT topic;
 * "none" no key. Default: "+1" when the filter has a '+', else "topic".
 * A filter may be a shared subscription "$share/GROUP/FILTER": the broker sees it whole,
 * matching uses FILTER. */
#ifndef NEXUS_MQTTMAP_H
#define NEXUS_MQTTMAP_H
#include <stddef.h>

#include "mqtt/url.h" /* the --mqtt URL, shared with nexus-agent */

#define NX_MAP_FILTER_MAX 512
#define NX_KAFKA_TOPIC_MAX 249

enum nx_map_key { NX_MAP_KEY_NONE, NX_MAP_KEY_TOPIC, NX_MAP_KEY_PLUS, NX_MAP_KEY_HASH };

struct nx_map_rule {
	char filter[NX_MAP_FILTER_MAX + 1];      /* as subscribed, "$share/g/" included */
	size_t match_off;                        /* where the matching filter starts */
	char kafka_topic[NX_KAFKA_TOPIC_MAX + 1];
	enum nx_map_key key;
	int key_plus;                            /* 1-based '+' index for NX_MAP_KEY_PLUS */
};

/* Parse one rule from s[0..len). 0 or -1 with err. */
int nx_map_rule_parse(const char *s, size_t len, struct nx_map_rule *rule, char *err,
                      size_t errlen);

/* Validate an MQTT subscription filter (without "$share/"): non-empty, '+' and '#' alone in
 * their level, '#' last, no NUL. 0 or -1 with err. */
int nx_topic_filter_check(const char *f, size_t len, char *err, size_t errlen);

/* 1 if topic[0..tlen) matches filter f[0..flen) by MQTT rules (topics starting with '$' are
 * not matched by a leading wildcard), else 0. When matched and plus_index > 0, *seg and *seglen
 * receive the segment the plus_index-th '+' matched; plus_index == -1 asks for the part the
 * trailing '#' matched (empty when it matched nothing). */
int nx_topic_match(const char *f, size_t flen, const char *topic, size_t tlen, int plus_index,
                   const char **seg, size_t *seglen);

/* First rule whose filter matches topic; fills the Kafka key (NULL/0 for "none"). Returns the
 * rule index or -1 when no rule matches. */
int nx_map_route(const struct nx_map_rule *rules, int nrules, const char *topic, size_t tlen,
                 const char **key, size_t *keylen);

#endif
