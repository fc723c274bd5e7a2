/* accept.h — listeners that survive running out of file descriptors, and per-source counts.
 *
 * A level-triggered listener whose accept(2) fails with EMFILE/ENFILE/ENOBUFS/ENOMEM is
 * readable again at once: accepting in a loop then spins at 100 % CPU and, if every failure
 * is logged, floods the log. The cure, shared by nexus-hub and nexus-relay: on a shortage
 * stop watching the listener (the kernel's backlog holds the connections), retry on a timer
 * (NX_ACCEPT_RETRY_MS), and report at most once per NX_ACCEPT_REPORT_MS with a count.
 *
 * The guard also keeps a reserve: when the fd just accepted is among the last `reserve` of
 * the RLIMIT_NOFILE limit (fds are allocated lowest-first, so every lower one is in use), the
 * caller stops accepting new work, leaving the rest for the work already admitted (the hub's
 * relay handoffs, a relay's dials). nx_accept_guard_room() probes before accepting again.
 *
 * nx_srcmap counts connections per source address (IPv4 address; IPv6 /64, the unit one
 * subscriber gets; IPv4-mapped IPv6 as IPv4) so one source can be held under a share of a
 * global cap. Entries exist only while their count is > 0: the map holds at most as many
 * entries as the connections it counts. */
#ifndef NEXUS_ACCEPT_H
#define NEXUS_ACCEPT_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define NX_ACCEPT_RETRY_MS 250
#define NX_ACCEPT_REPORT_MS 1000

/* "Log once per interval with a count": count events, say when a report is due. */
struct nx_rate {
	uint64_t count;       /* events since the last report */
	uint64_t total;       /* since the start */
	uint64_t next_report; /* monotonic ms: the current window's end */
	uint32_t reports;     /* reports made in the current window */
};
/* Count one event at now (ms). Returns the count to report when a report is due (the first
 * event, then at most once per interval_ms), else 0. */
uint64_t nx_rate_note(struct nx_rate *r, uint64_t now, uint64_t interval_ms);
/* The same with up to burst reports per interval: the first events of a window are each
 * reported (count 1), the rest fold into the next window's first report. */
uint64_t nx_rate_note_burst(struct nx_rate *r, uint64_t now, uint64_t interval_ms,
                            uint32_t burst);

/* One nx_rate per kind of line, the kind named by a string literal (its address: a log
 * call's format), so a count only ever folds lines of its own kind. Kinds beyond
 * NX_RATE_KINDS share the last slot. */
#define NX_RATE_KINDS 16
struct nx_rates {
	const char *kind[NX_RATE_KINDS];
	struct nx_rate r[NX_RATE_KINDS];
};
uint64_t nx_rates_note(struct nx_rates *rs, const char *kind, uint64_t now, uint64_t interval_ms,
                       uint32_t burst);
/* The same under a lock of its own, for lines logged from several threads (and from code
 * that holds other locks): ten reports a second of each kind (NX_RATES_BURST). */
#define NX_RATES_BURST 10
struct nx_rates_mt {
	pthread_mutex_t mu;
	struct nx_rates rs;
};
void nx_rates_mt_init(struct nx_rates_mt *m);
void nx_rates_mt_destroy(struct nx_rates_mt *m);
uint64_t nx_rates_mt_note(struct nx_rates_mt *m, const char *kind);

struct nx_accept_guard {
	unsigned long limit;   /* RLIMIT_NOFILE soft limit at init */
	unsigned long reserve; /* fds left for admitted work */
	struct nx_rate rate;   /* shortages */
};

/* reserve: fds to keep free; NX_ACCEPT_RESERVE_AUTO = limit / 8, between 16 and 1024. */
#define NX_ACCEPT_RESERVE_AUTO ((unsigned long)-1)
void nx_accept_guard_init(struct nx_accept_guard *g, unsigned long reserve);
/* errno of a failed accept(2) is a resource shortage (stop watching, retry later). */
int nx_accept_shortage(int err);
/* fd (just accepted) lies in the reserve: accept no more until nx_accept_guard_room(). */
int nx_accept_guard_low(const struct nx_accept_guard *g, int fd);
/* There is room to accept again (probes by duplicating any_fd, an open fd). */
int nx_accept_guard_room(const struct nx_accept_guard *g, int any_fd);
/* Count one shortage: nx_rate_note() with NX_ACCEPT_REPORT_MS. */
uint64_t nx_accept_guard_note(struct nx_accept_guard *g, uint64_t now);

/* ---- per-source counts ---- */
struct nx_src {
	uint8_t b[17]; /* family tag + address (IPv6: first 8 bytes) */
};
/* The source of a connected socket's peer; 0, or -1 (not IP: all such peers share a key). */
int nx_src_of_fd(int fd, struct nx_src *out);
/* The same for an address (a UDP datagram's sender). */
struct sockaddr;
int nx_src_of_sockaddr(const struct sockaddr *sa, struct nx_src *out);
/* The same for an address in text: "ip", "ip:port", "[v6]:port" or "v6" (a handed-over
 * client's, wire/handoff.h). 0, or -1 when it is not an IP address. */
int nx_src_of_text(const char *addr, struct nx_src *out);

struct nx_srcmap;
struct nx_srcmap *nx_srcmap_new(void);
void nx_srcmap_free(struct nx_srcmap *m);
size_t nx_srcmap_get(const struct nx_srcmap *m, const struct nx_src *k);
/* +1; the new count, or 0 when out of memory (nothing counted). */
size_t nx_srcmap_inc(struct nx_srcmap *m, const struct nx_src *k);
/* -1 (a key not counted is ignored). */
void nx_srcmap_dec(struct nx_srcmap *m, const struct nx_src *k);

#endif
