/* accept.c — see accept.h. */
#include "core/accept.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

void nx_accept_guard_init(struct nx_accept_guard *g, unsigned long reserve)
{
	struct rlimit rl;
	memset(g, 0, sizeof *g);
	g->limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
	               ? (unsigned long)rl.rlim_cur
	               : 1UL << 20;
	if (reserve == NX_ACCEPT_RESERVE_AUTO) {
		reserve = g->limit / 8;
		if (reserve < 16)
			reserve = 16;
		if (reserve > 1024)
			reserve = 1024;
	}
	/* never reserve so much that nothing can be accepted at all */
	if (reserve > g->limit / 2)
		reserve = g->limit / 2;
	g->reserve = reserve;
}

int nx_accept_shortage(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

int nx_accept_guard_low(const struct nx_accept_guard *g, int fd)
{
	return g->reserve && fd >= 0 && (unsigned long)fd + g->reserve >= g->limit;
}

int nx_accept_guard_room(const struct nx_accept_guard *g, int any_fd)
{
	int p = fcntl(any_fd, F_DUPFD_CLOEXEC, 0);
	if (p < 0)
		return 0;
	int low = nx_accept_guard_low(g, p);
	close(p);
	return !low;
}

uint64_t nx_rate_note_burst(struct nx_rate *r, uint64_t now, uint64_t interval_ms,
                            uint32_t burst)
{
	r->count++;
	r->total++;
	if (now >= r->next_report) {
		r->next_report = now + interval_ms;
		r->reports = 0;
	}
	if (r->reports >= burst)
		return 0;
	r->reports++;
	uint64_t n = r->count;
	r->count = 0;
	return n;
}

uint64_t nx_rate_note(struct nx_rate *r, uint64_t now, uint64_t interval_ms)
{
	return nx_rate_note_burst(r, now, interval_ms, 1);
}

void nx_rates_mt_init(struct nx_rates_mt *m)
{
	memset(&m->rs, 0, sizeof m->rs);
	pthread_mutex_init(&m->mu, NULL);
}

void nx_rates_mt_destroy(struct nx_rates_mt *m) { pthread_mutex_destroy(&m->mu); }

uint64_t nx_rates_mt_note(struct nx_rates_mt *m, const char *kind)
{
	pthread_mutex_lock(&m->mu);
	uint64_t n = nx_rates_note(&m->rs, kind, nx_now_ms(), 1000, NX_RATES_BURST);
	pthread_mutex_unlock(&m->mu);
	return n;
}

uint64_t nx_rates_note(struct nx_rates *rs, const char *kind, uint64_t now, uint64_t interval_ms,
                       uint32_t burst)
{
	size_t i = 0;
	while (i < NX_RATE_KINDS - 1 && rs->kind[i] && rs->kind[i] != kind)
		i++;
	if (!rs->kind[i])
		rs->kind[i] = kind;
	return nx_rate_note_burst(&rs->r[i], now, interval_ms, burst);
}

uint64_t nx_accept_guard_note(struct nx_accept_guard *g, uint64_t now)
{
	return nx_rate_note(&g->rate, now, NX_ACCEPT_REPORT_MS);
}

/* ---- per-source counts ---- */

int nx_src_of_fd(int fd, struct nx_src *out)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;
	memset(out, 0, sizeof *out);
	if (getpeername(fd, (struct sockaddr *)&ss, &l) < 0)
		return -1;
	return nx_src_of_sockaddr((const struct sockaddr *)&ss, out);
}

int nx_src_of_sockaddr(const struct sockaddr *sa, struct nx_src *out)
{
	memset(out, 0, sizeof *out);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;
		out->b[0] = 4;
		memcpy(out->b + 1, &s4->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			out->b[0] = 4;
			memcpy(out->b + 1, s6->sin6_addr.s6_addr + 12, 4);
		} else {
			out->b[0] = 6;
			memcpy(out->b + 1, s6->sin6_addr.s6_addr, 8); /* the /64 */
		}
		return 0;
	}
	return -1;
}

int nx_src_of_text(const char *addr, struct nx_src *out)
{
	char ip[INET6_ADDRSTRLEN + 1];
	const char *b = addr, *e;
	memset(out, 0, sizeof *out);
	if (*addr == '[') { /* [v6]:port */
		b = addr + 1;
		e = strchr(b, ']');
	} else { /* ip:port has one ':', a bare v6 more */
		e = strchr(addr, ':');
		if (e && strchr(e + 1, ':'))
			e = NULL;
	}
	size_t n = e ? (size_t)(e - b) : strlen(b);
	if ((*addr == '[' && !e) || n == 0 || n >= sizeof ip)
		return -1;
	memcpy(ip, b, n);
	ip[n] = 0;
	struct sockaddr_in s4 = {.sin_family = AF_INET};
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
	if (inet_pton(AF_INET, ip, &s4.sin_addr) == 1)
		return nx_src_of_sockaddr((const struct sockaddr *)&s4, out);
	if (inet_pton(AF_INET6, ip, &s6.sin6_addr) == 1)
		return nx_src_of_sockaddr((const struct sockaddr *)&s6, out);
	return -1;
}

#define SRC_BUCKETS 1024

struct src_entry {
	struct src_entry *next;
	struct nx_src key;
	size_t count;
};

struct nx_srcmap {
	struct src_entry *b[SRC_BUCKETS];
};

static unsigned src_hash(const struct nx_src *k)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < sizeof k->b; i++)
		h = (h ^ k->b[i]) * 16777619u;
	return h % SRC_BUCKETS;
}

struct nx_srcmap *nx_srcmap_new(void) { return calloc(1, sizeof(struct nx_srcmap)); }

void nx_srcmap_free(struct nx_srcmap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < SRC_BUCKETS; i++)
		while (m->b[i]) {
			struct src_entry *e = m->b[i];
			m->b[i] = e->next;
			free(e);
		}
	free(m);
}

static struct src_entry **src_find(struct nx_srcmap *m, const struct nx_src *k)
{
	struct src_entry **pp = &m->b[src_hash(k)];
	for (; *pp; pp = &(*pp)->next)
		if (memcmp(&(*pp)->key, k, sizeof *k) == 0)
			break;
	return pp;
}

size_t nx_srcmap_get(const struct nx_srcmap *m, const struct nx_src *k)
{
	struct src_entry **pp = src_find((struct nx_srcmap *)m, k);
	return *pp ? (*pp)->count : 0;
}

size_t nx_srcmap_inc(struct nx_srcmap *m, const struct nx_src *k)
{
	struct src_entry **pp = src_find(m, k);
	if (!*pp) {
		struct src_entry *e = calloc(1, sizeof *e);
		if (!e)
			return 0;
		e->key = *k;
		*pp = e;
	}
	return ++(*pp)->count;
}

void nx_srcmap_dec(struct nx_srcmap *m, const struct nx_src *k)
{
	struct src_entry **pp = src_find(m, k);
	struct src_entry *e = *pp;
	if (!e)
		return;
	if (--e->count == 0) {
		*pp = e->next;
		free(e);
	}
}
