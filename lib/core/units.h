/* units.h — the one bounded parser for every numeric option, durations and sizes. */
#ifndef NEXUS_UNITS_H
#define NEXUS_UNITS_H
#include <stddef.h>
#include <stdint.h>

/* Decimal integer in [min, max]; no sign unless min < 0, no trailing junk. */
int nx_parse_int(const char *s, long long min, long long max, long long *out, char *err,
                 size_t errlen);

/* Duration: "250ms", "30s", "5m", "1h", "2d", combinations like "1h30m"; a bare number
 * means seconds. Result in milliseconds. */
int nx_parse_duration(const char *s, uint64_t *ms, char *err, size_t errlen);

/* Size: "512", "64KiB", "64K" (=KiB), "10kB" (=1000), "1MiB", "1M", "2GiB"; result in bytes. */
int nx_parse_size(const char *s, uint64_t *bytes, char *err, size_t errlen);

/* Format milliseconds as a short duration ("1h30m", "250ms", "0s") into buf. */
const char *nx_fmt_duration(char *buf, size_t n, uint64_t ms);

#endif
