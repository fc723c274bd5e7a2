/* promtext.h — the Prometheus text exposition format (version 0.0.4), written into a
 * caller's buffer: "# HELP", "# TYPE", then samples with optional labels. Pure, no I/O, no
 * allocation; shared by every daemon's --metrics.
 *
 *   struct nx_prom p;
 *   nx_prom_init(&p, buf, sizeof buf);
 *   nx_prom_family(&p, "nexus_tunnel_streams", "gauge", "Streams open now.");
 *   nx_prom_u64(&p, "nexus_tunnel_streams", NULL, n);
 *   nx_prom_family(&p, "nexus_tunnel_bytes_total", "counter", "Bytes carried.");
 *   nx_prom_u64(&p, "nexus_tunnel_bytes_total", "direction", "to_hub", up);
 *   if (nx_prom_len(&p) < 0) ... the buffer was too small
 *
 * Label values are escaped as the format wants (backslash, double quote, newline). */
#ifndef NEXUS_PROMTEXT_H
#define NEXUS_PROMTEXT_H
#include <stddef.h>
#include <stdint.h>

#define NX_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct nx_prom {
	char *buf;
	size_t cap, len;
	int overflow;
};

void nx_prom_init(struct nx_prom *p, char *buf, size_t cap);
/* "# HELP name help" and "# TYPE name type" (counter, gauge, untyped). */
void nx_prom_family(struct nx_prom *p, const char *name, const char *type, const char *help);
/* One sample; label may be NULL (no labels) or one label name with its value. */
void nx_prom_u64(struct nx_prom *p, const char *name, const char *label, const char *value,
                 uint64_t v);
/* The length written (NUL-terminated in buf), or -1 if it did not fit. */
long nx_prom_len(const struct nx_prom *p);

#endif
