/* libFuzzer target: the HTTP response header callback of nx_oauth_fetch (oauth/http.c), which
 * reads the header lines an identity provider or ACME server sends. The input is split into
 * lines at LF, each kept with its line end (the last may have none) and fed in order into one
 * struct, as libcurl would, each in a buffer of exactly its length. Checks its promises:
 * every line is taken whole (curl aborts the transfer otherwise), every field stays
 * NUL-terminated within its buffer, a line changes only the field its name (case-insensitive)
 * says and nothing else of the struct, and a field holds the start of the line's value with
 * the blanks before it skipped. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "oauth/http.h"
#include "oauth/http_int.h"

static const struct {
	const char *name;
	size_t off, cap;
} fields[] = {
	{"content-type", offsetof(struct nx_http_fetch, content_type_in),
	 sizeof ((struct nx_http_fetch *)0)->content_type_in},
	{"replay-nonce", offsetof(struct nx_http_fetch, replay_nonce),
	 sizeof ((struct nx_http_fetch *)0)->replay_nonce},
	{"location", offsetof(struct nx_http_fetch, location),
	 sizeof ((struct nx_http_fetch *)0)->location},
	{"retry-after", offsetof(struct nx_http_fetch, retry_after),
	 sizeof ((struct nx_http_fetch *)0)->retry_after},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

/* The line's header name is `name` (bytes before the first colon, any case). */
static int names(const char *line, size_t n, const char *name)
{
	const char *colon = memchr(line, ':', n);
	size_t l = strlen(name);
	return colon && (size_t)(colon - line) == l && strncasecmp(line, name, l) == 0;
}

static void check_line(const struct nx_http_fetch *before, const struct nx_http_fetch *after,
                       const char *line, size_t n)
{
	const char *a = (const char *)after, *b = (const char *)before;
	/* the request fields, the answer's status and body: not the callback's to touch */
	if (memcmp(a, b, offsetof(struct nx_http_fetch, content_type_in)) != 0)
		abort();
	for (size_t i = 0; i < NFIELDS; i++) {
		const char *f = a + fields[i].off;
		size_t len = strnlen(f, fields[i].cap);
		if (len == fields[i].cap)
			abort();
		if (memcmp(f, b + fields[i].off, fields[i].cap) == 0)
			continue;
		if (!names(line, n, fields[i].name))
			abort();
		if (f[0] == ' ' || f[0] == '\t')
			abort();
		const char *v = (const char *)memchr(line, ':', n) + 1, *e = line + n;
		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		if (len > (size_t)(e - v) || memcmp(f, v, len) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nx_http_fetch *f = calloc(1, sizeof *f), before;
	if (!f)
		abort();
	f->method = "GET";
	f->url = "https://acme.example/dir";
	f->status = 200;
	size_t off = 0;
	while (off < size) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);
		size_t n = nl ? (size_t)(nl - (data + off)) + 1 : size - off;
		char *line = malloc(n);
		if (!line)
			abort();
		memcpy(line, data + off, n);
		before = *f;
		if (oauth_http_on_header(line, 1, n, f) != n)
			abort();
		check_line(&before, f, line, n);
		free(line);
		off += n;
	}
	free(f);
	return 0;
}
