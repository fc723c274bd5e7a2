/* acme_answer.c — serving HTTP-01 answers (RFC 8555 §8.3): GET/HEAD
 * /.well-known/acme-challenge/<token> answered from the file the client wrote into its
 * challenge directory. Shared by nexus-relay (the hub's names) and the gate in
 * nexus-tunnel (a device's own names). */
#include "acme/acme.h"
#include "wire/http_req.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PREFIX "/.well-known/acme-challenge/"

/* The file's content when it is a regular file (not a symlink) of at most
 * NX_ACME_KEYAUTH_MAX bytes; -1 otherwise. */
static ssize_t read_answer(const char *dir, const char *token, char *out)
{
	char path[4096];
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, token) >= sizeof path)
		return -1;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	ssize_t n = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= NX_ACME_KEYAUTH_MAX)
		n = read(fd, out, NX_ACME_KEYAUTH_MAX);
	close(fd);
	return n;
}

int nx_acme_http01_reply(const char *dir, const struct nx_http_req *q, char *resp, size_t cap,
                         int *found)
{
	int head = nx_http_slice_is(q->method, "HEAD");
	size_t pl = strlen(PREFIX);
	if ((!head && !nx_http_slice_is(q->method, "GET")) || q->path.n <= pl ||
	    memcmp(q->path.p, PREFIX, pl) != 0)
		return -1;
	const char *tok = q->path.p + pl;
	size_t tl = q->path.n - pl;
	char token[NX_ACME_TOKEN_MAX + 1], body[NX_ACME_KEYAUTH_MAX];
	ssize_t n = -1;
	if (nx_acme_token_ok(tok, tl) && q->query.n == 0) {
		memcpy(token, tok, tl);
		token[tl] = 0;
		n = read_answer(dir, token, body);
	}
	*found = n >= 0;
	int hl;
	if (n < 0) {
		static const char nf[] = "no such challenge\n";
		hl = snprintf(resp, cap,
		              "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
		              "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		              sizeof nf - 1, head ? "" : nf);
	} else {
		hl = snprintf(resp, cap,
		              "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
		              "Content-Length: %zd\r\nConnection: close\r\n\r\n",
		              n);
		if (hl > 0 && !head && (size_t)hl + (size_t)n <= cap) {
			memcpy(resp + hl, body, (size_t)n);
			hl += (int)n;
		}
	}
	return hl < 0 || (size_t)hl >= cap ? -1 : hl;
}
