/* ingest.c — see ingest.h. */
#include "bind/ingest.h"
#include "core/util.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int nx_ingest_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > NX_DEVICE_ID_MAX)
		return 0;
	/* Printable ASCII only: ids end up in SQL text columns of both backends, in JSON,
	 * in tokens and in log lines, and must read the same everywhere. */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static json_t *walk(json_t *obj, const char *path)
{
	const char *p = path;
	json_t *v = obj;
	while (v) {
		size_t n = strcspn(p, ".");
		if (!json_is_object(v))
			return NULL;
		v = json_object_getn(v, p, n);
		if (p[n] == '\0')
			return v;
		p += n + 1;
	}
	return NULL;
}

int nx_ingest_parse_line(const char *buf, size_t len, const char *id_path,
                         char id[NX_DEVICE_ID_MAX + 1], const char **json, size_t *jsonlen,
                         char *err, size_t errlen)
{
	if (!id_path || !*id_path)
		id_path = "id";
	while (len > 0 && is_space(buf[len - 1]))
		len--;
	const char *key = NULL;
	size_t keylen = 0;
	size_t i = 0;
	while (i < len && (buf[i] == ' ' || buf[i] == '\r'))
		i++;
	if (i < len && buf[i] != '{') {
		const char *tab = memchr(buf, '\t', len);
		if (!tab)
			return nx_err(err, errlen, "not a JSON object");
		key = buf;
		keylen = (size_t)(tab - buf);
		i = keylen + 1;
		while (i < len && is_space(buf[i]))
			i++;
	}
	if (i >= len)
		return nx_err(err, errlen, "empty line");
	const char *text = buf + i;
	size_t tlen = len - i;
	json_error_t jerr;
	json_t *root = json_loadb(text, tlen, 0, &jerr);
	if (!root)
		return nx_err(err, errlen, "bad JSON at column %d: %s", jerr.column, jerr.text);
	int rc = NX_INGEST_OK;
	if (!json_is_object(root)) {
		rc = nx_err(err, errlen, "not a JSON object");
		goto out;
	}
	json_t *v = walk(root, id_path);
	if (json_is_string(v)) {
		size_t n = json_string_length(v);
		if (!nx_ingest_name_ok(json_string_value(v), n)) {
			rc = nx_err(err, errlen, "device id must be 1-%d printable ASCII characters",
			            NX_DEVICE_ID_MAX);
			goto out;
		}
		memcpy(id, json_string_value(v), n);
		id[n] = '\0';
	} else if (json_is_integer(v)) {
		snprintf(id, NX_DEVICE_ID_MAX + 1, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	} else if (v) {
		rc = nx_err(err, errlen, "device id field '%.64s' is not a string or integer", id_path);
		goto out;
	} else if (key && keylen > 0) {
		if (!nx_ingest_name_ok(key, keylen)) {
			rc = nx_err(err, errlen, "key must be 1-%d printable ASCII characters",
			            NX_DEVICE_ID_MAX);
			goto out;
		}
		memcpy(id, key, keylen);
		id[keylen] = '\0';
	} else {
		rc = nx_err(err, errlen, "no device id (no field '%.64s', no key)", id_path);
		goto out;
	}
	*json = text;
	*jsonlen = tlen;
out:
	json_decref(root);
	return rc;
}

/* A batch also ends when its states fill this much memory: 5000 lines of up to 1 MiB each
 * must not mean 5 GB in flight. */
#define BATCH_BYTES_MAX (32u << 20)

/* One batch: ids and states packed in an arena, then written in one transaction. */
struct item {
	size_t id, idlen, st, stlen;
	int superseded;
};

struct batch {
	char *arena;
	size_t used, cap;
	struct item *items;
	size_t n, ncap;
	uint64_t first_ms;
	char *sqlbuf; /* PostgreSQL: the batch as one JSON array parameter */
	size_t sqlcap;
	size_t *slots;
	size_t nslots;
	uint64_t lineno; /* of the input, blank lines included, for messages */
};

static int arena_put(struct batch *b, const char *s, size_t n, size_t *off)
{
	if (b->used + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 1 << 16;
		while (ncap < b->used + n + 1)
			ncap *= 2;
		char *na = realloc(b->arena, ncap);
		if (!na)
			return -1;
		b->arena = na;
		b->cap = ncap;
	}
	memcpy(b->arena + b->used, s, n);
	b->arena[b->used + n] = '\0';
	*off = b->used;
	b->used += n + 1;
	return 0;
}

static int batch_add(struct batch *b, const char *id, const char *st, size_t stlen)
{
	if (b->n == b->ncap) {
		size_t ncap = b->ncap ? b->ncap * 2 : 1024;
		struct item *ni = realloc(b->items, ncap * sizeof *ni);
		if (!ni)
			return -1;
		b->items = ni;
		b->ncap = ncap;
	}
	struct item *it = &b->items[b->n];
	it->idlen = strlen(id);
	it->stlen = stlen;
	it->superseded = 0;
	if (arena_put(b, id, it->idlen, &it->id) < 0 || arena_put(b, st, stlen, &it->st) < 0)
		return -1;
	if (b->n == 0)
		b->first_ms = nx_now_ms();
	b->n++;
	return 0;
}

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

/* Mark every line but a device's last in this batch as superseded: the last one wins
 * anyway, and PostgreSQL refuses to upsert one row twice in a statement. */
static int batch_dedupe(struct batch *b)
{
	size_t want = 16;
	while (want < b->n * 2)
		want *= 2;
	if (want > b->nslots) {
		size_t *ns = realloc(b->slots, want * sizeof *ns);
		if (!ns)
			return -1;
		b->slots = ns;
		b->nslots = want;
	}
	for (size_t i = 0; i < want; i++)
		b->slots[i] = SIZE_MAX;
	for (size_t i = 0; i < b->n; i++) {
		struct item *it = &b->items[i];
		const char *id = b->arena + it->id;
		size_t h = (size_t)fnv1a(id, it->idlen) & (want - 1);
		for (;; h = (h + 1) & (want - 1)) {
			size_t j = b->slots[h];
			if (j == SIZE_MAX) {
				b->slots[h] = i;
				break;
			}
			struct item *o = &b->items[j];
			if (o->idlen == it->idlen && memcmp(b->arena + o->id, id, it->idlen) == 0) {
				o->superseded = 1;
				b->slots[h] = i;
				break;
			}
		}
	}
	return 0;
}

static int sql_put(struct batch *b, size_t *len, const char *s, size_t n)
{
	if (*len + n + 1 > b->sqlcap) {
		size_t ncap = b->sqlcap ? b->sqlcap : 1 << 16;
		while (ncap < *len + n + 1)
			ncap *= 2;
		char *nb = realloc(b->sqlbuf, ncap);
		if (!nb)
			return -1;
		b->sqlbuf = nb;
		b->sqlcap = ncap;
	}
	memcpy(b->sqlbuf + *len, s, n);
	*len += n;
	b->sqlbuf[*len] = '\0';
	return 0;
}

static const char upsert_sqlite[] =
    "INSERT INTO device_state(device, state, last_seen) VALUES($1, $2, $3) "
    "ON CONFLICT(device) DO UPDATE SET state = excluded.state, last_seen = excluded.last_seen";

/* The whole batch as one statement: one round trip instead of one per line. The states
 * travel as json values, whose text PostgreSQL keeps verbatim. */
static const char upsert_pg[] =
    "INSERT INTO device_state(device, state, last_seen) "
    "SELECT x.d, x.s::text, $2 FROM json_to_recordset($1::json) AS x(d text, s json) "
    "ON CONFLICT (device) DO UPDATE SET state = excluded.state, last_seen = excluded.last_seen";

static int batch_write(struct nx_store *st, struct batch *b, struct nx_ingest_stats *stats,
                       char *err, size_t errlen)
{
	if (b->n == 0)
		return 0;
	if (batch_dedupe(b) < 0)
		return nx_err(err, errlen, "out of memory");
	char now[24];
	snprintf(now, sizeof now, "%lld", (long long)nx_unix_time() * 1000);
	if (nx_store_begin(st, err, errlen) < 0)
		return -1;
	uint64_t written = 0;
	if (nx_store_kind(st) == NX_STORE_SQLITE) {
		for (size_t i = 0; i < b->n; i++) {
			struct item *it = &b->items[i];
			if (it->superseded)
				continue;
			const char *p[3] = {b->arena + it->id, b->arena + it->st, now};
			if (nx_store_exec(st, upsert_sqlite, 3, p, NULL, err, errlen) < 0)
				goto fail;
			written++;
		}
	} else {
		size_t len = 0;
		int first = 1;
		if (sql_put(b, &len, "[", 1) < 0)
			goto oom;
		for (size_t i = 0; i < b->n; i++) {
			struct item *it = &b->items[i];
			if (it->superseded)
				continue;
			if (sql_put(b, &len, first ? "{\"d\":\"" : ",{\"d\":\"", first ? 6 : 7) < 0)
				goto oom;
			first = 0;
			/* ids are printable ASCII; only " and \ need escaping in a JSON string */
			const char *id = b->arena + it->id;
			for (size_t k = 0; k < it->idlen; k++) {
				char e[2] = {'\\', id[k]};
				int esc = id[k] == '"' || id[k] == '\\';
				if (sql_put(b, &len, esc ? e : e + 1, esc ? 2 : 1) < 0)
					goto oom;
			}
			if (sql_put(b, &len, "\",\"s\":", 6) < 0 ||
			    sql_put(b, &len, b->arena + it->st, it->stlen) < 0 ||
			    sql_put(b, &len, "}", 1) < 0)
				goto oom;
			written++;
		}
		if (sql_put(b, &len, "]", 1) < 0)
			goto oom;
		const char *p[2] = {b->sqlbuf, now};
		if (nx_store_exec(st, upsert_pg, 2, p, NULL, err, errlen) < 0)
			goto fail;
	}
	if (nx_store_commit(st, err, errlen) < 0)
		goto fail;
	stats->batches++;
	stats->written += written;
	b->n = 0;
	b->used = 0;
	return 0;
oom:
	nx_err(err, errlen, "out of memory");
fail:
	nx_store_rollback(st);
	return -1;
}

static int take_line(struct batch *b, const char *line, size_t len,
                     const struct nx_ingest_opts *o, struct nx_ingest_stats *stats,
                     char *err, size_t errlen)
{
	b->lineno++;
	size_t k = 0;
	while (k < len && is_space(line[k]))
		k++;
	if (k == len) /* blank lines are not telemetry, and not errors either */
		return 0;
	stats->lines++;
	char id[NX_DEVICE_ID_MAX + 1], why[NX_ERRLEN];
	const char *json;
	size_t jlen;
	if (nx_ingest_parse_line(line, len, o->id_path, id, &json, &jlen, why, sizeof why) < 0) {
		stats->bad++;
		if (o->on_bad)
			o->on_bad(o->arg, b->lineno, why);
		return 0;
	}
	if (batch_add(b, id, json, jlen) < 0)
		return nx_err(err, errlen, "out of memory");
	return 0;
}

int nx_ingest_run(struct nx_store *st, int fd, const struct nx_ingest_opts *o,
                  struct nx_ingest_stats *stats, char *err, size_t errlen)
{
	struct batch b = {0};
	unsigned batch_max = o->batch ? o->batch : 5000;
	uint64_t flush_ms = o->flush_ms ? o->flush_ms : 1000;
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	int rc = 0, skipping = 0; /* skipping: inside a line longer than the limit */
	memset(stats, 0, sizeof *stats);
	if (!buf)
		return nx_err(err, errlen, "out of memory");
	for (;;) {
		if (o->stop && *o->stop)
			break;
		/* Always poll with a timeout: a partial batch commits after flush_ms of quiet
		 * input, and a stop request that lands just before a blocking read is still
		 * seen within a second. */
		int wait = 1000;
		if (b.n > 0) {
			uint64_t age = nx_now_ms() - b.first_ms;
			wait = age >= flush_ms ? 0 : (int)(flush_ms - age);
		}
		struct pollfd pfd = {fd, POLLIN, 0};
		int pr = poll(&pfd, 1, wait);
		if (pr < 0 && errno != EINTR) {
			rc = nx_err(err, errlen, "poll: %s", strerror(errno));
			break;
		}
		if (pr <= 0) {
			if (b.n > 0 && pr == 0 && (rc = batch_write(st, &b, stats, err, errlen)) < 0)
				break;
			continue;
		}
		if (len == cap) {
			if (cap >= NX_INGEST_LINE_MAX) {
				/* A line longer than the limit: count it once, drop it up to its newline. */
				if (!skipping) {
					stats->lines++;
					b.lineno++;
					stats->bad++;
					if (o->on_bad)
						o->on_bad(o->arg, b.lineno, "line too long");
				}
				skipping = 1;
				len = 0;
			} else {
				char *nb = realloc(buf, cap * 2);
				if (!nb) {
					rc = nx_err(err, errlen, "out of memory");
					break;
				}
				buf = nb;
				cap *= 2;
			}
		}
		ssize_t r = read(fd, buf + len, cap - len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = nx_err(err, errlen, "read: %s", strerror(errno));
			break;
		}
		if (r == 0) {
			if (len > 0 && !skipping &&
			    (rc = take_line(&b, buf, len, o, stats, err, errlen)) < 0)
				break;
			len = 0;
			break;
		}
		size_t scan = len; /* bytes before this were already searched for '\n' */
		len += (size_t)r;
		size_t start = 0;
		char *nl;
		while ((nl = memchr(buf + scan, '\n', len - scan)) != NULL) {
			size_t end = (size_t)(nl - buf);
			if (skipping)
				skipping = 0;
			else if ((rc = take_line(&b, buf + start, end - start, o, stats, err, errlen)) < 0)
				break;
			start = scan = end + 1;
			int full = b.n >= batch_max || b.used >= BATCH_BYTES_MAX;
			if (full && (rc = batch_write(st, &b, stats, err, errlen)) < 0)
				break;
		}
		if (rc < 0)
			break;
		memmove(buf, buf + start, len - start);
		len -= start;
	}
	if (rc == 0)
		rc = batch_write(st, &b, stats, err, errlen);
	free(buf);
	free(b.arena);
	free(b.items);
	free(b.sqlbuf);
	free(b.slots);
	return rc;
}
