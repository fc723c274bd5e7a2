/* telemetry.c — see telemetry.h. */
#include "agent/telemetry.h"
#include "core/util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

int nx_proc_stat_parse(const char *buf, size_t len, struct nx_cpu_sample *s)
{
	char line[512];
	if (len < 4 || memcmp(buf, "cpu ", 4) != 0)
		return -1;
	const char *nl = memchr(buf, '\n', len);
	size_t ll = nl ? (size_t)(nl - buf) : len;
	if (ll >= sizeof line)
		return -1;
	memcpy(line, buf, ll);
	line[ll] = '\0';
	/* digits only: sscanf's %llu would take "-1" and wrap it */
	uint64_t v[10] = {0};
	int n = 0;
	for (const char *p = line + 4; *p && n < 10;) {
		while (*p == ' ')
			p++;
		if (*p < '0' || *p > '9')
			break;
		uint64_t x = 0;
		while (*p >= '0' && *p <= '9' && x < (UINT64_MAX - 9) / 10)
			x = x * 10 + (uint64_t)(*p++ - '0');
		if ((*p && *p != ' ') || x >> 56) /* below 2^56: a sum of 8 never wraps */
			return -1;
		v[n++] = x;
	}
	if (n < 4)
		return -1;
	/* user nice system idle iowait irq softirq steal [guest guest_nice: already in user] */
	uint64_t total = 0;
	for (int i = 0; i < n && i < 8; i++)
		total += v[i];
	s->total = total;
	s->busy = total - v[3] - (n > 4 ? v[4] : 0);
	return 0;
}

static int meminfo_field(const char *buf, size_t len, const char *name, uint64_t *out)
{
	size_t nl = strlen(name);
	for (size_t off = 0; off < len;) {
		const char *e = memchr(buf + off, '\n', len - off);
		size_t ll = e ? (size_t)(e - (buf + off)) : len - off;
		if (ll > nl && !memcmp(buf + off, name, nl) && buf[off + nl] == ':') {
			char tmp[64];
			size_t tl = ll - nl - 1 < sizeof tmp - 1 ? ll - nl - 1 : sizeof tmp - 1;
			memcpy(tmp, buf + off + nl + 1, tl);
			tmp[tl] = '\0';
			unsigned long long kb;
			if (sscanf(tmp, "%llu", &kb) != 1)
				return -1;
			*out = (uint64_t)kb * 1024;
			return 0;
		}
		off += ll + 1;
	}
	return -1;
}

int nx_meminfo_parse(const char *buf, size_t len, uint64_t *total, uint64_t *avail)
{
	if (meminfo_field(buf, len, "MemTotal", total) < 0)
		return -1;
	if (meminfo_field(buf, len, "MemAvailable", avail) < 0)
		return -1;
	return 0;
}

/* KEY=value or KEY="value" from os-release. */
static void os_release(const char *key, char *out, size_t n)
{
	out[0] = '\0';
	char *buf;
	size_t len;
	if (nx_read_file("/etc/os-release", 65536, &buf, &len, NULL, 0) < 0 &&
	    nx_read_file("/usr/lib/os-release", 65536, &buf, &len, NULL, 0) < 0)
		return;
	size_t kl = strlen(key);
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		if (strncmp(line, key, kl) || line[kl] != '=')
			continue;
		char *v = line + kl + 1;
		size_t vl = strlen(v);
		if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0])
			v++, vl -= 2;
		if (vl >= n)
			vl = n - 1;
		memcpy(out, v, vl);
		out[vl] = '\0';
		break;
	}
	free(buf);
}

int nx_telemetry_collect(const char *device, const char *version, struct nx_cpu_sample *prev,
                         char **json, char *err, size_t errlen)
{
	*json = NULL;
	char *buf;
	size_t len;
	struct nx_cpu_sample cur = {0};
	uint64_t mtotal = 0, mavail = 0;
	double usage = 0, uptime = 0;
	if (nx_read_file("/proc/stat", 1 << 20, &buf, &len, err, errlen) < 0)
		return -1;
	int rc = nx_proc_stat_parse(buf, len, &cur);
	free(buf);
	if (rc < 0)
		return nx_err(err, errlen, "/proc/stat: no cpu line");
	uint64_t dt = cur.total - prev->total, db = cur.busy - prev->busy;
	if (cur.total > prev->total && cur.busy >= prev->busy)
		usage = (double)(int)(1000.0 * (double)db / (double)dt + 0.5) / 10.0;
	*prev = cur;
	if (nx_read_file("/proc/meminfo", 1 << 20, &buf, &len, err, errlen) < 0)
		return -1;
	rc = nx_meminfo_parse(buf, len, &mtotal, &mavail);
	free(buf);
	if (rc < 0)
		return nx_err(err, errlen, "/proc/meminfo: no MemTotal/MemAvailable");
	if (nx_read_file("/proc/uptime", 4096, &buf, &len, err, errlen) < 0)
		return -1;
	sscanf(buf, "%lf", &uptime);
	free(buf);
	struct utsname u;
	uname(&u);
	char osname[128], osver[64];
	os_release("NAME", osname, sizeof osname);
	os_release("VERSION_ID", osver, sizeof osver);
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	json_t *o = json_pack("{s:{s:s}, s:s, s:I, s:{s:s, s:I, s:f}, s:{s:I, s:I}, s:{s:s, s:s, s:s}, s:I}",
	    "client", "version", version,
	    "device", device,
	    "time", (json_int_t)nx_unix_time(),
	    "cpu", "arch", u.machine, "cores", (json_int_t)(cores > 0 ? cores : 1), "usage", usage,
	    "memory", "total", (json_int_t)mtotal, "used", (json_int_t)(mtotal - (mavail < mtotal ? mavail : mtotal)),
	    "os", "name", osname[0] ? osname : u.sysname, "kernel", u.release, "version", osver,
	    "uptime", (json_int_t)uptime);
	if (!o)
		return nx_err(err, errlen, "telemetry: cannot build the JSON");
	*json = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return *json ? 0 : nx_err(err, errlen, "telemetry: out of memory");
}

int nx_telemetry_check(const char *buf, size_t len, char **json, char *err, size_t errlen)
{
	*json = NULL;
	json_error_t je;
	json_t *o = json_loadb(buf, len, 0, &je);
	if (!o)
		return nx_err(err, errlen, "not one JSON object: %s (line %d)", je.text, je.line);
	if (!json_is_object(o)) {
		json_decref(o);
		return nx_err(err, errlen, "not a JSON object");
	}
	*json = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return *json ? 0 : nx_err(err, errlen, "out of memory");
}
