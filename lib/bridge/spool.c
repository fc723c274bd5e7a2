/* spool.c — see spool.h. */
#include "bridge/spool.h"
#include "core/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

struct segment {
	uint32_t id;
	uint64_t bytes;
	uint64_t outstanding;
	int pinned;  /* being written or replayed: not deletable yet */
	int old;     /* left by an earlier run, still to replay */
};

/* One appended or replayed record not yet confirmed, in ticket order. */
struct ticket {
	uint32_t seg;
	uint32_t done;
	uint64_t end; /* offset just past the record in its segment */
};

struct nx_spool {
	struct nx_spool_opts o;
	char dir[4096];
	int dirfd, lockfd, markfd, fd; /* fd: the current segment */
	struct segment *segs;  /* ascending id; the current segment is the last */
	unsigned nsegs, cap;
	uint64_t bytes, outstanding;
	struct ticket *ring;   /* tickets [head, tail), index ticket & (ringcap - 1) */
	uint64_t head, tail, ringcap;
	uint32_t mark_seg;     /* everything before (mark_seg, mark_off) is confirmed */
	uint64_t mark_off;
	int mark_dirty;
	uint64_t mark_written_ms;
};

#define MARK_LEN 37 /* "NXA1 <10-digit segment> <20-digit offset>\n" */

static void seg_name(char *buf, size_t n, uint32_t id)
{
	snprintf(buf, n, "seg-%010u.nxs", id);
}

static struct segment *seg_find(struct nx_spool *sp, uint32_t id)
{
	unsigned lo = 0, hi = sp->nsegs;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (sp->segs[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < sp->nsegs && sp->segs[lo].id == id ? &sp->segs[lo] : NULL;
}

static struct segment *seg_push(struct nx_spool *sp, uint32_t id, uint64_t bytes)
{
	if (sp->nsegs == sp->cap) {
		unsigned ncap = sp->cap ? sp->cap * 2 : 16;
		struct segment *n = realloc(sp->segs, ncap * sizeof *n);
		if (!n)
			return NULL;
		sp->segs = n;
		sp->cap = ncap;
	}
	struct segment *s = &sp->segs[sp->nsegs++];
	*s = (struct segment){.id = id, .bytes = bytes};
	sp->bytes += bytes;
	return s;
}

/* Unlink s if nothing in it is still needed. */
static void seg_maybe_drop(struct nx_spool *sp, struct segment *s)
{
	if (s->pinned || s->outstanding || s->old)
		return;
	char name[32];
	seg_name(name, sizeof name, s->id);
	unlinkat(sp->dirfd, name, 0);
	sp->bytes -= s->bytes;
	unsigned i = (unsigned)(s - sp->segs);
	memmove(&sp->segs[i], &sp->segs[i + 1], (sp->nsegs - i - 1) * sizeof *s);
	sp->nsegs--;
}

static int cmp_id(const void *a, const void *b)
{
	uint32_t x = ((const struct segment *)a)->id, y = ((const struct segment *)b)->id;
	return x < y ? -1 : x > y;
}

static int seg_start(struct nx_spool *sp, char *err, size_t errlen)
{
	/* Ids only grow, past the mark too: a mark naming a reused id would hide records. */
	uint32_t id = sp->nsegs ? sp->segs[sp->nsegs - 1].id + 1 : 1;
	if (id <= sp->mark_seg)
		id = sp->mark_seg + 1;
	char name[32];
	seg_name(name, sizeof name, id);
	int fd = openat(sp->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return nx_err(err, errlen, "spool %s/%s: %s", sp->dir, name, strerror(errno));
	if (sp->o.fsync && fsync(sp->dirfd) < 0) {
		close(fd);
		return nx_err(err, errlen, "spool %s: fsync: %s", sp->dir, strerror(errno));
	}
	struct segment *s = seg_push(sp, id, 0);
	if (!s) {
		close(fd);
		return nx_err(err, errlen, "out of memory");
	}
	s->pinned = 1;
	if (sp->fd >= 0) {
		close(sp->fd);
		struct segment *prev = &sp->segs[sp->nsegs - 2];
		prev->pinned = 0;
		seg_maybe_drop(sp, prev);
	}
	sp->fd = fd;
	return 0;
}

static int list_old(struct nx_spool *sp, char *err, size_t errlen)
{
	int fd = dup(sp->dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return nx_err(err, errlen, "spool %s: %s", sp->dir, strerror(errno));
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		unsigned id;
		char tail[8];
		if (sscanf(de->d_name, "seg-%10u.%7s", &id, tail) != 2 || strcmp(tail, "nxs") != 0)
			continue;
		struct stat st;
		if (fstatat(sp->dirfd, de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
			continue;
		struct segment *s = seg_push(sp, id, (uint64_t)st.st_size);
		if (!s) {
			closedir(d);
			return nx_err(err, errlen, "out of memory");
		}
		s->old = 1;
	}
	closedir(d);
	if (sp->nsegs > 1)
		qsort(sp->segs, sp->nsegs, sizeof *sp->segs, cmp_id);
	return 0;
}

/* ---- the acked mark ---- */

static void mark_write(struct nx_spool *sp)
{
	char buf[MARK_LEN + 1];
	snprintf(buf, sizeof buf, "NXA1 %010u %020llu\n", sp->mark_seg, (unsigned long long)sp->mark_off);
	/* One small pwrite at offset 0 of a fixed-size file: a crash leaves the old or the new
	 * mark, and a torn one fails to parse, which only costs duplicates. */
	if (pwrite(sp->markfd, buf, MARK_LEN, 0) == MARK_LEN)
		sp->mark_dirty = 0;
	sp->mark_written_ms = nx_now_ms();
}

static void mark_read(struct nx_spool *sp)
{
	char buf[64] = "";
	ssize_t n = pread(sp->markfd, buf, sizeof buf - 1, 0);
	unsigned seg;
	unsigned long long off;
	char nl;
	if (n == MARK_LEN && sscanf(buf, "NXA1 %10u %20llu%c", &seg, &off, &nl) == 3 && nl == '\n') {
		sp->mark_seg = seg;
		sp->mark_off = off;
	}
}

static int ticket_new(struct nx_spool *sp, uint32_t seg, uint64_t end, uint64_t *ticket)
{
	if (sp->tail - sp->head == sp->ringcap) {
		uint64_t ncap = sp->ringcap ? sp->ringcap * 2 : 1024;
		struct ticket *n = malloc(ncap * sizeof *n);
		if (!n)
			return -1;
		for (uint64_t t = sp->head; t < sp->tail; t++)
			n[t & (ncap - 1)] = sp->ring[t & (sp->ringcap - 1)];
		free(sp->ring);
		sp->ring = n;
		sp->ringcap = ncap;
	}
	sp->ring[sp->tail & (sp->ringcap - 1)] = (struct ticket){.seg = seg, .end = end};
	*ticket = sp->tail++;
	struct segment *s = seg_find(sp, seg);
	s->outstanding++;
	sp->outstanding++;
	return 0;
}

void nx_spool_done(struct nx_spool *sp, uint64_t ticket)
{
	if (ticket < sp->head || ticket >= sp->tail)
		return;
	struct ticket *t = &sp->ring[ticket & (sp->ringcap - 1)];
	if (t->done)
		return;
	t->done = 1;
	struct segment *s = seg_find(sp, t->seg);
	if (s && s->outstanding) {
		s->outstanding--;
		sp->outstanding--;
	}
	while (sp->head < sp->tail) {
		struct ticket *h = &sp->ring[sp->head & (sp->ringcap - 1)];
		if (!h->done)
			break;
		sp->mark_seg = h->seg;
		sp->mark_off = h->end;
		sp->mark_dirty = 1;
		sp->head++;
	}
	if (s)
		seg_maybe_drop(sp, s);
	if (sp->mark_dirty && nx_now_ms() - sp->mark_written_ms >= 50)
		mark_write(sp);
}

int nx_spool_open(struct nx_spool **out, const struct nx_spool_opts *o, char *err, size_t errlen)
{
	struct nx_spool *sp = calloc(1, sizeof *sp);
	if (!sp)
		return nx_err(err, errlen, "out of memory");
	sp->o = *o;
	sp->dirfd = sp->lockfd = sp->markfd = sp->fd = -1;
	snprintf(sp->dir, sizeof sp->dir, "%s", o->dir);
	if (mkdir(o->dir, 0700) < 0 && errno != EEXIST) {
		nx_err(err, errlen, "spool %s: %s", o->dir, strerror(errno));
		goto fail;
	}
	sp->dirfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dirfd < 0) {
		nx_err(err, errlen, "spool %s: %s", o->dir, strerror(errno));
		goto fail;
	}
	sp->lockfd = openat(sp->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (sp->lockfd < 0) {
		nx_err(err, errlen, "spool %s/lock: %s", o->dir, strerror(errno));
		goto fail;
	}
	if (flock(sp->lockfd, LOCK_EX | LOCK_NB) < 0) {
		nx_err(err, errlen, "spool %s is in use by another process", o->dir);
		goto fail;
	}
	sp->markfd = openat(sp->dirfd, "acked", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (sp->markfd < 0) {
		nx_err(err, errlen, "spool %s/acked: %s", o->dir, strerror(errno));
		goto fail;
	}
	mark_read(sp);
	if (list_old(sp, err, errlen) < 0 || seg_start(sp, err, errlen) < 0)
		goto fail;
	*out = sp;
	return 0;
fail:
	nx_spool_close(sp);
	return -1;
}

void nx_spool_close(struct nx_spool *sp)
{
	if (!sp)
		return;
	if (sp->fd >= 0)
		close(sp->fd);
	/* The current segment, empty and finished, need not survive us. */
	if (sp->nsegs) {
		struct segment *cur = &sp->segs[sp->nsegs - 1];
		cur->pinned = 0;
		seg_maybe_drop(sp, cur);
	}
	if (sp->markfd >= 0) {
		if (sp->mark_dirty)
			mark_write(sp);
		close(sp->markfd);
	}
	if (sp->lockfd >= 0)
		close(sp->lockfd);
	if (sp->dirfd >= 0)
		close(sp->dirfd);
	free(sp->ring);
	free(sp->segs);
	free(sp);
}

static int replay_one(struct nx_spool *sp, uint32_t id, nx_spool_replay_fn fn, void *ctx,
                      struct nx_spool_replay_stats *st, char *err, size_t errlen)
{
	char name[32];
	seg_name(name, sizeof name, id);
	int fd = openat(sp->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return nx_err(err, errlen, "spool %s/%s: %s", sp->dir, name, strerror(errno));
	struct stat stt;
	if (fstat(fd, &stt) < 0) {
		close(fd);
		return nx_err(err, errlen, "spool %s/%s: %s", sp->dir, name, strerror(errno));
	}
	size_t len = (size_t)stt.st_size;
	const uint8_t *map = NULL;
	if (len) {
		map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			close(fd);
			return nx_err(err, errlen, "spool %s/%s: mmap: %s", sp->dir, name, strerror(errno));
		}
	}
	close(fd);
	st->segments++;
	size_t off = 0;
	int rc = 0;
	/* The mark always sits on a record boundary of its segment. */
	uint64_t skip_to = id == sp->mark_seg && sp->mark_off <= len ? sp->mark_off : 0;
	while (off < len) {
		struct nx_spool_rec rec;
		size_t used;
		if (nx_spool_rec_parse(map + off, len - off, &rec, &used) != NX_SPOOL_DONE) {
			/* Appends are sequential and each run starts a new segment, so damage can only
			 * be the tail a crash tore: skip the rest of this segment. */
			st->torn_bytes += len - off;
			break;
		}
		off += used;
		if (off <= skip_to) {
			st->skipped++;
			continue;
		}
		uint64_t ticket;
		if (ticket_new(sp, id, off, &ticket) < 0) {
			rc = nx_err(err, errlen, "out of memory");
			break;
		}
		st->records++;
		if (fn(ctx, &rec, ticket) < 0) {
			rc = -1;
			break;
		}
	}
	if (map)
		munmap((void *)map, len);
	return rc;
}

int nx_spool_replay(struct nx_spool *sp, nx_spool_replay_fn fn, void *ctx,
                    struct nx_spool_replay_stats *st, char *err, size_t errlen)
{
	memset(st, 0, sizeof *st);
	for (;;) {
		/* fn may trigger nx_spool_done and drop segments: look the next one up afresh. */
		struct segment *s = NULL;
		for (unsigned i = 0; i < sp->nsegs; i++)
			if (sp->segs[i].old) {
				s = &sp->segs[i];
				break;
			}
		if (!s)
			return 0;
		uint32_t id = s->id;
		int rc = 0;
		if (id >= sp->mark_seg)
			rc = replay_one(sp, id, fn, ctx, st, err, errlen);
		else
			st->segments++; /* wholly before the mark: confirmed, nothing to send */
		s = seg_find(sp, id);
		s->old = 0;
		if (rc < 0)
			return -1;
		seg_maybe_drop(sp, s);
	}
}

int nx_spool_append(struct nx_spool *sp, const struct nx_spool_rec *rec, uint64_t *ticket,
                    char *err, size_t errlen)
{
	uint8_t head[NX_SPOOL_HDR + NX_SPOOL_FIXED];
	size_t total = nx_spool_rec_head(head, rec);
	if (!total)
		return nx_err(err, errlen, "message too large for the spool");
	struct iovec iov[3] = {
	    {head, sizeof head},
	    {(void *)rec->topic, rec->topic_len},
	    {(void *)rec->payload, rec->payload_len},
	};
	size_t done = 0;
	int iovn = 3, iovi = 0;
	while (done < total) {
		ssize_t w = writev(sp->fd, iov + iovi, iovn - iovi);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			/* A partial record would read as a torn tail; start afresh in a new segment so
			 * the next records stay readable. */
			int e = w < 0 ? errno : EIO;
			struct segment *cur = &sp->segs[sp->nsegs - 1];
			cur->bytes += done;
			sp->bytes += done;
			char e2[NX_ERRLEN];
			seg_start(sp, e2, sizeof e2);
			return nx_err(err, errlen, "spool write: %s", strerror(e));
		}
		done += (size_t)w;
		while (iovi < iovn && (size_t)w >= iov[iovi].iov_len) {
			w -= (ssize_t)iov[iovi].iov_len;
			iovi++;
		}
		if (iovi < iovn) {
			iov[iovi].iov_base = (char *)iov[iovi].iov_base + w;
			iov[iovi].iov_len -= (size_t)w;
		}
	}
	if (sp->o.fsync && fdatasync(sp->fd) < 0)
		return nx_err(err, errlen, "spool fdatasync: %s", strerror(errno));
	struct segment *cur = &sp->segs[sp->nsegs - 1];
	cur->bytes += total;
	sp->bytes += total;
	if (ticket_new(sp, cur->id, cur->bytes, ticket) < 0)
		return nx_err(err, errlen, "out of memory");
	if (cur->bytes >= sp->o.segment_bytes) {
		char e2[NX_ERRLEN];
		if (seg_start(sp, e2, sizeof e2) < 0)
			return 0; /* keep appending to the old one; the next rotation retries */
	}
	return 0;
}

int nx_spool_full(const struct nx_spool *sp) { return sp->bytes >= sp->o.max_bytes; }
uint64_t nx_spool_bytes(const struct nx_spool *sp) { return sp->bytes; }
uint64_t nx_spool_outstanding(const struct nx_spool *sp) { return sp->outstanding; }
unsigned nx_spool_segments(const struct nx_spool *sp) { return sp->nsegs; }
