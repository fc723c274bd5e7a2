/* journal.c — see journal.h. */
#include "agent/journal.h"
#include "core/b64url.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int nx_journal_line_parse(const char *buf, size_t len, struct nx_jrec *r)
{
	memset(r, 0, sizeof *r);
	if (len == 0 || len > NX_JOURNAL_LINE_MAX)
		return -1;
	json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	if (!o)
		return -1;
	int rc = -1;
	json_t *id = json_object_get(o, "id"), *st = json_object_get(o, "st");
	if (!json_is_string(id) || json_string_length(id) == 0 ||
	    json_string_length(id) > NX_CMD_ID_MAX || !json_is_string(st))
		goto out;
	memcpy(r->id, json_string_value(id), json_string_length(id));
	if (strlen(r->id) != json_string_length(id)) /* an embedded NUL */
		goto out;
	if (!strcmp(json_string_value(st), "run")) {
		r->st = NX_J_RUN;
		json_t *rt = json_object_get(o, "rt"), *cd = json_object_get(o, "cd");
		if (rt) {
			if (!json_is_string(rt) || json_string_length(rt) > NX_JOURNAL_RT_MAX)
				goto out;
			memcpy(r->rt, json_string_value(rt), json_string_length(rt));
		}
		if (cd) {
			if (!json_is_string(cd) ||
			    nx_b64url_decode(json_string_value(cd), json_string_length(cd), r->cd,
			                     sizeof r->cd, &r->cdlen, NULL, 0) < 0)
				goto out;
		}
	} else if (!strcmp(json_string_value(st), "done")) {
		json_t *ack = json_object_get(o, "ack");
		if (!json_is_string(ack))
			goto out;
		r->st = NX_J_DONE;
		r->ack = strdup(json_string_value(ack));
		if (!r->ack)
			goto out;
	} else {
		goto out;
	}
	rc = 0;
out:
	json_decref(o);
	return rc;
}

void nx_journal_scan(const char *buf, size_t len, void (*cb)(void *arg, struct nx_jrec *r),
                     void *arg, size_t *bad, size_t *torn)
{
	size_t nbad = 0, off = 0;
	for (;;) {
		const char *nl = memchr(buf + off, '\n', len - off);
		if (!nl)
			break;
		size_t ll = (size_t)(nl - (buf + off));
		struct nx_jrec r;
		if (ll && nx_journal_line_parse(buf + off, ll, &r) == 0)
			cb(arg, &r);
		else if (ll)
			nbad++;
		off += ll + 1;
	}
	if (bad)
		*bad = nbad;
	if (torn)
		*torn = len - off;
}

struct nx_journal {
	char *path;
	int fd;
	int max_ids;
	struct nx_jrec *e; /* oldest first */
	int n, cap;
	size_t records;    /* lines in the file */
	size_t skipped;
};

static struct nx_jrec *find(struct nx_journal *j, const char *id)
{
	for (int i = j->n - 1; i >= 0; i--)
		if (!strcmp(j->e[i].id, id))
			return &j->e[i];
	return NULL;
}

/* Forget the oldest finished ids past max_ids; running ones stay whatever their age. */
static void trim(struct nx_journal *j)
{
	while (j->n > j->max_ids) {
		int i = 0;
		while (i < j->n && j->e[i].st != NX_J_DONE)
			i++;
		if (i == j->n)
			return;
		free(j->e[i].ack);
		memmove(&j->e[i], &j->e[i + 1], (size_t)(j->n - i - 1) * sizeof j->e[0]);
		j->n--;
	}
}

/* Takes ownership of r->ack. */
static int put(struct nx_journal *j, struct nx_jrec *r)
{
	struct nx_jrec *old = find(j, r->id);
	if (old) {
		free(old->ack);
		int i = (int)(old - j->e);
		memmove(&j->e[i], &j->e[i + 1], (size_t)(j->n - i - 1) * sizeof j->e[0]);
		j->n--;
	}
	if (j->n == j->cap) {
		int ncap = j->cap ? j->cap * 2 : 64;
		struct nx_jrec *ne = realloc(j->e, (size_t)ncap * sizeof *ne);
		if (!ne) {
			free(r->ack);
			return -1;
		}
		j->e = ne;
		j->cap = ncap;
	}
	j->e[j->n++] = *r;
	trim(j);
	return 0;
}

static void load_cb(void *arg, struct nx_jrec *r)
{
	struct nx_journal *j = arg;
	if (put(j, r) < 0)
		j->skipped++;
}

static char *rec_line(const struct nx_jrec *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(r->id));
	json_object_set_new(o, "st", json_string(r->st == NX_J_RUN ? "run" : "done"));
	if (r->st == NX_J_RUN && r->rt[0])
		json_object_set_new(o, "rt", json_string(r->rt));
	if (r->st == NX_J_RUN && r->cdlen) {
		char *cd = nx_b64url_encode_alloc(r->cd, r->cdlen);
		json_object_set_new(o, "cd", json_string(cd ? cd : ""));
		free(cd);
	}
	if (r->st == NX_J_DONE)
		json_object_set_new(o, "ack", json_string(r->ack));
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static int append(struct nx_journal *j, const struct nx_jrec *r, char *err, size_t errlen)
{
	char *s = rec_line(r);
	if (!s)
		return nx_err(err, errlen, "journal: out of memory");
	size_t l = strlen(s);
	s[l] = '\n'; /* json_dumps leaves room: we overwrite the NUL and write l + 1 bytes */
	off_t end = lseek(j->fd, 0, SEEK_END);
	int rc = nx_write_all(j->fd, s, l + 1);
	int e = errno;
	free(s);
	if (rc < 0 || fdatasync(j->fd) < 0) {
		e = rc < 0 ? e : errno;
		/* a short write (disk full) must not stay in front of the next record */
		if (end >= 0 && ftruncate(j->fd, end) == 0)
			fdatasync(j->fd);
		return nx_err(err, errlen, "journal %s: %s", j->path, strerror(e));
	}
	j->records++;
	return 0;
}

/* Rewrite the file with what is kept, atomically, and reopen it for appending. */
static int compact(struct nx_journal *j, char *err, size_t errlen)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		return nx_err(err, errlen, "journal: out of memory");
	for (int i = 0; i < j->n; i++) {
		char *s = rec_line(&j->e[i]);
		if (!s) {
			free(buf);
			return nx_err(err, errlen, "journal: out of memory");
		}
		size_t l = strlen(s);
		if (len + l + 1 > cap) {
			while (len + l + 1 > cap)
				cap *= 2;
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(s);
				free(buf);
				return nx_err(err, errlen, "journal: out of memory");
			}
			buf = nb;
		}
		memcpy(buf + len, s, l);
		buf[len + l] = '\n';
		len += l + 1;
		free(s);
	}
	int rc = nx_write_file(j->path, buf, len, 0600, err, errlen);
	free(buf);
	if (rc < 0)
		return -1;
	/* the rename itself must be durable before records go to the new file: otherwise a power
	 * loss could bring back the old file without them */
	char *dup = strdup(j->path);
	int dfd = dup ? open(dirname(dup), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	free(dup);
	if (dfd < 0 || fsync(dfd) < 0) {
		int e = errno;
		if (dfd >= 0)
			close(dfd);
		return nx_err(err, errlen, "journal %s: syncing its directory: %s", j->path, strerror(e));
	}
	close(dfd);
	int fd = open(j->path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return nx_err(err, errlen, "journal %s: %s", j->path, strerror(errno));
	if (j->fd >= 0)
		close(j->fd);
	j->fd = fd;
	j->records = (size_t)j->n;
	return 0;
}

int nx_journal_open(struct nx_journal **jp, const char *path, int max_ids, char *err,
                    size_t errlen)
{
	*jp = NULL;
	struct nx_journal *j = calloc(1, sizeof *j);
	if (!j || !(j->path = strdup(path))) {
		free(j);
		return nx_err(err, errlen, "journal: out of memory");
	}
	j->fd = -1;
	j->max_ids = max_ids > 0 ? max_ids : 1024;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		nx_err(err, errlen, "journal %s: %s", path, strerror(errno));
		nx_journal_close(j);
		return -1;
	}
	char *buf = NULL;
	size_t len = 0, torn = 0;
	/* 64 MiB: far more than max_ids records can take after compaction */
	int rc = nx_read_fd(fd, 64u << 20, &buf, &len, err, errlen);
	close(fd);
	if (rc < 0) {
		nx_journal_close(j);
		return -1;
	}
	nx_journal_scan(buf, len, load_cb, j, &j->skipped, &torn);
	if (torn)
		j->skipped++;
	free(buf);
	if (compact(j, err, errlen) < 0) {
		nx_journal_close(j);
		return -1;
	}
	*jp = j;
	return 0;
}

void nx_journal_close(struct nx_journal *j)
{
	if (!j)
		return;
	if (j->fd >= 0)
		close(j->fd);
	for (int i = 0; i < j->n; i++)
		free(j->e[i].ack);
	free(j->e);
	free(j->path);
	free(j);
}

size_t nx_journal_skipped(const struct nx_journal *j) { return j->skipped; }

const struct nx_jrec *nx_journal_find(struct nx_journal *j, const char *id)
{
	return find(j, id);
}

void nx_journal_each_running(struct nx_journal *j, void (*cb)(void *arg, const struct nx_jrec *r),
                             void *arg)
{
	for (int i = 0; i < j->n; i++)
		if (j->e[i].st == NX_J_RUN)
			cb(arg, &j->e[i]);
}

static int maybe_compact(struct nx_journal *j, char *err, size_t errlen)
{
	if (j->records > (size_t)j->max_ids * 4 + 64)
		return compact(j, err, errlen);
	return 0;
}

int nx_journal_begin(struct nx_journal *j, const char *id, const char *rt, const void *cd,
                     size_t cdlen, char *err, size_t errlen)
{
	struct nx_jrec r = {.st = NX_J_RUN};
	if (strlen(id) > NX_CMD_ID_MAX || (rt && strlen(rt) > NX_JOURNAL_RT_MAX) ||
	    cdlen > NX_JOURNAL_CD_MAX)
		return nx_err(err, errlen, "journal: id, response topic or correlation data too long");
	strcpy(r.id, id);
	if (rt)
		strcpy(r.rt, rt);
	if (cdlen)
		memcpy(r.cd, cd, cdlen);
	r.cdlen = cdlen;
	if (append(j, &r, err, errlen) < 0)
		return -1;
	if (put(j, &r) < 0)
		return nx_err(err, errlen, "journal: out of memory");
	return maybe_compact(j, err, errlen);
}

int nx_journal_finish(struct nx_journal *j, const char *id, const char *ack, char *err,
                      size_t errlen)
{
	struct nx_jrec r = {.st = NX_J_DONE};
	if (strlen(id) > NX_CMD_ID_MAX)
		return nx_err(err, errlen, "journal: id too long");
	strcpy(r.id, id);
	r.ack = (char *)ack;
	if (append(j, &r, err, errlen) < 0)
		return -1;
	r.ack = strdup(ack);
	if (!r.ack || put(j, &r) < 0)
		return nx_err(err, errlen, "journal: out of memory");
	return maybe_compact(j, err, errlen);
}
