/* mqttmap.c — see mqttmap.h. */
#include "bridge/mqttmap.h"
#include "core/units.h"
#include "core/util.h"

#include <string.h>

int nx_topic_filter_check(const char *f, size_t len, char *err, size_t errlen)
{
	if (len == 0)
		return nx_err(err, errlen, "empty topic filter");
	if (len > NX_MAP_FILTER_MAX)
		return nx_err(err, errlen, "topic filter longer than %d bytes", NX_MAP_FILTER_MAX);
	size_t level = 0; /* start of the current level */
	for (size_t i = 0; i < len; i++) {
		char c = f[i];
		if (c == '\0')
			return nx_err(err, errlen, "NUL byte in topic filter");
		if (c == '/') {
			level = i + 1;
			continue;
		}
		if (c == '+' || c == '#') {
			int alone = i == level && (i + 1 == len || f[i + 1] == '/');
			if (!alone)
				return nx_err(err, errlen, "'%c' must be a whole level of the filter", c);
			if (c == '#' && i + 1 != len)
				return nx_err(err, errlen, "'#' must be the last level of the filter");
		}
	}
	return 0;
}

/* Next level of s[*pos..len): sets *lv and *lvlen, advances *pos past the '/'. Returns 0 when
 * there is no level left (pos beyond the end). A trailing '/' yields a final empty level. */
static int next_level(const char *s, size_t len, size_t *pos, const char **lv, size_t *lvlen)
{
	if (*pos > len)
		return 0;
	const char *p = s + *pos;
	const char *slash = memchr(p, '/', len - *pos);
	size_t n = slash ? (size_t)(slash - p) : len - *pos;
	*lv = p;
	*lvlen = n;
	*pos += n + 1;
	return 1;
}

int nx_topic_match(const char *f, size_t flen, const char *topic, size_t tlen, int plus_index,
                   const char **seg, size_t *seglen)
{
	if (tlen > 0 && topic[0] == '$' && flen > 0 && (f[0] == '+' || f[0] == '#'))
		return 0;
	size_t fp = 0, tp = 0;
	int plus = 0;
	const char *fl, *tl;
	size_t fll, tll;
	while (next_level(f, flen, &fp, &fl, &fll)) {
		if (fll == 1 && fl[0] == '#') {
			if (plus_index == -1 && seg) {
				*seg = tp <= tlen ? topic + tp : topic + tlen;
				*seglen = tp <= tlen ? tlen - tp : 0;
			}
			return 1;
		}
		if (!next_level(topic, tlen, &tp, &tl, &tll))
			return 0;
		if (fll == 1 && fl[0] == '+') {
			if (++plus == plus_index && seg) {
				*seg = tl;
				*seglen = tll;
			}
			continue;
		}
		if (fll != tll || memcmp(fl, tl, fll) != 0)
			return 0;
	}
	return tp > tlen; /* the topic must be used up too */
}

/* Length of the "$share/GROUP/" prefix of f, 0 when it is not a shared subscription,
 * -1 when it is a malformed one. */
static long share_prefix(const char *f, size_t len)
{
	static const char pfx[] = "$share/";
	if (len < sizeof pfx - 1 || memcmp(f, pfx, sizeof pfx - 1) != 0)
		return 0;
	const char *g = f + sizeof pfx - 1;
	const char *slash = memchr(g, '/', len - (size_t)(g - f));
	if (!slash || slash == g)
		return -1;
	for (const char *p = g; p < slash; p++)
		if (*p == '+' || *p == '#')
			return -1;
	return (long)(slash + 1 - f);
}

static int kafka_topic_ok(const char *s, size_t n)
{
	if (n == 0 || n > NX_KAFKA_TOPIC_MAX || (n == 1 && s[0] == '.') ||
	    (n == 2 && s[0] == '.' && s[1] == '.'))
		return 0;
	return nx_name_chars_ok(s, n);
}

static int count_plus(const char *f, size_t len)
{
	int n = 0;
	for (size_t i = 0; i < len; i++)
		if (f[i] == '+')
			n++;
	return n;
}

static int parse_key(const char *v, size_t n, struct nx_map_rule *r, char *err, size_t errlen)
{
	const char *f = r->filter + r->match_off;
	size_t flen = strlen(f);
	if (n == 4 && memcmp(v, "none", 4) == 0) {
		r->key = NX_MAP_KEY_NONE;
		return 0;
	}
	if (n == 5 && memcmp(v, "topic", 5) == 0) {
		r->key = NX_MAP_KEY_TOPIC;
		return 0;
	}
	if (n == 1 && v[0] == '#') {
		if (flen == 0 || f[flen - 1] != '#')
			return nx_err(err, errlen, "key=# but the filter has no trailing '#'");
		r->key = NX_MAP_KEY_HASH;
		return 0;
	}
	if (n >= 1 && v[0] == '+') {
		long long idx = 1;
		if (n > 1) {
			char num[8];
			if (n - 1 >= sizeof num)
				return nx_err(err, errlen, "bad key '%.*s'", (int)n, v);
			memcpy(num, v + 1, n - 1);
			num[n - 1] = '\0';
			if (nx_parse_int(num, 1, 64, &idx, NULL, 0) < 0)
				return nx_err(err, errlen, "bad key '%.*s': want +N with N from 1", (int)n, v);
		}
		if (idx > count_plus(f, flen))
			return nx_err(err, errlen, "key=%.*s but the filter has %d '+' wildcard(s)", (int)n,
			              v, count_plus(f, flen));
		r->key = NX_MAP_KEY_PLUS;
		r->key_plus = (int)idx;
		return 0;
	}
	return nx_err(err, errlen, "bad key '%.*s': want +, +N, #, topic or none", (int)n, v);
}

int nx_map_rule_parse(const char *s, size_t len, struct nx_map_rule *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	const char *eq = memchr(s, '=', len);
	if (!eq)
		return nx_err(err, errlen, "map rule needs FILTER=KAFKA_TOPIC");
	size_t flen = (size_t)(eq - s);
	if (flen == 0)
		return nx_err(err, errlen, "map rule has an empty filter");
	if (flen > NX_MAP_FILTER_MAX)
		return nx_err(err, errlen, "topic filter longer than %d bytes", NX_MAP_FILTER_MAX);
	long sp = share_prefix(s, flen);
	if (sp < 0)
		return nx_err(err, errlen, "bad shared subscription: want $share/GROUP/FILTER");
	char ferr[NX_ERRLEN];
	if (nx_topic_filter_check(s + sp, flen - (size_t)sp, ferr, sizeof ferr) < 0)
		return nx_err(err, errlen, "bad filter '%.*s': %s", (int)flen, s, ferr);
	memcpy(r->filter, s, flen);
	r->filter[flen] = '\0';
	r->match_off = (size_t)sp;

	const char *rest = eq + 1, *end = s + len;
	const char *comma = memchr(rest, ',', (size_t)(end - rest));
	const char *tend = comma ? comma : end;
	if (!kafka_topic_ok(rest, (size_t)(tend - rest)))
		return nx_err(err, errlen,
		              "bad Kafka topic '%.*s': want 1-249 of [A-Za-z0-9._-]", (int)(tend - rest),
		              rest);
	memcpy(r->kafka_topic, rest, (size_t)(tend - rest));
	r->kafka_topic[tend - rest] = '\0';

	int have_plus = count_plus(r->filter + sp, flen - (size_t)sp) > 0;
	r->key = have_plus ? NX_MAP_KEY_PLUS : NX_MAP_KEY_TOPIC;
	r->key_plus = have_plus ? 1 : 0;
	int seen_key = 0;
	while (comma) {
		const char *o = comma + 1;
		comma = memchr(o, ',', (size_t)(end - o));
		const char *oend = comma ? comma : end;
		size_t on = (size_t)(oend - o);
		if (on > 4 && memcmp(o, "key=", 4) == 0 && !seen_key) {
			if (parse_key(o + 4, on - 4, r, err, errlen) < 0)
				return -1;
			seen_key = 1;
			continue;
		}
		if (on >= 4 && memcmp(o, "key=", 4) == 0)
			return nx_err(err, errlen, seen_key ? "key given twice" : "empty key");
		return nx_err(err, errlen, "unknown map option '%.*s' (want key=EXPR)", (int)on, o);
	}
	return 0;
}

int nx_map_route(const struct nx_map_rule *rules, int nrules, const char *topic, size_t tlen,
                 const char **key, size_t *keylen)
{
	for (int i = 0; i < nrules; i++) {
		const struct nx_map_rule *r = &rules[i];
		const char *f = r->filter + r->match_off;
		int want = r->key == NX_MAP_KEY_PLUS ? r->key_plus : r->key == NX_MAP_KEY_HASH ? -1 : 0;
		const char *seg = NULL;
		size_t seglen = 0;
		if (!nx_topic_match(f, strlen(f), topic, tlen, want, &seg, &seglen))
			continue;
		switch (r->key) {
		case NX_MAP_KEY_NONE: *key = NULL; *keylen = 0; break;
		case NX_MAP_KEY_TOPIC: *key = topic; *keylen = tlen; break;
		default: *key = seg; *keylen = seglen; break;
		}
		return i;
	}
	return -1;
}
