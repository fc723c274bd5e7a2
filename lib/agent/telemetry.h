/* telemetry.h — what nexus-agent publishes on device/<id>/info: the built-in collector
 * (from /proc and uname) and the check of a --telemetry-cmd's output.
 *
 * {"client":{"version":V},"device":ID,"time":UNIX,
 *  "cpu":{"arch":"x86_64","cores":N,"usage":PERCENT},
 *  "memory":{"total":BYTES,"used":BYTES},
 *  "os":{"name":"Debian GNU/Linux","kernel":"6.1.0-…","version":"12"},"uptime":SECONDS}
 * cpu.usage is the busy share of all CPUs since the previous sample (since boot for the
 * first), 0 to 100 with one decimal. */
#ifndef NEXUS_AGENT_TELEMETRY_H
#define NEXUS_AGENT_TELEMETRY_H
#include <stddef.h>
#include <stdint.h>

struct nx_cpu_sample {
	uint64_t busy, total;
};

/* Parse the first "cpu " line of /proc/stat. 0, or -1 when it is not there. Pure. */
int nx_proc_stat_parse(const char *buf, size_t len, struct nx_cpu_sample *s);

/* MemTotal and MemAvailable of /proc/meminfo, in bytes. 0, or -1 when missing. Pure. */
int nx_meminfo_parse(const char *buf, size_t len, uint64_t *total, uint64_t *avail);

/* Collect a sample into a malloc'd compact JSON text. prev holds the previous CPU sample
 * (zeroed before the first call) and is updated. */
int nx_telemetry_collect(const char *device, const char *version, struct nx_cpu_sample *prev,
                         char **json, char *err, size_t errlen);

/* A --telemetry-cmd's stdout: exactly one JSON object (surrounding white space allowed).
 * 0 and a malloc'd compact re-encoding in *json, or -1 with the reason. */
int nx_telemetry_check(const char *buf, size_t len, char **json, char *err, size_t errlen);

#endif
