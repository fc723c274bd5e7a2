/* relay_acme.c — the HTTP-01 answers (RFC 8555 §8.3) for the hub's own names: the ACME
 * client (lib/acme, in nexus-hub) writes the key authorization into a file named by the
 * token; the CA's validation request arrives on the relay's plain-HTTP port and is
 * answered here. Only GET/HEAD /.well-known/acme-challenge/<base64url token> for a name
 * in cfg.acme_hosts; anything else (other paths, other names: backends that run their own
 * ACME) routes as before. */
#include "acme/acme.h"
#include "core/hostname.h"
#include "relay/relay_int.h"
#include "wire/http_req.h"
#include "wire/sniff.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define PREFIX "/.well-known/acme-challenge/"
#define KEYAUTH_MAX 512 /* token + "." + thumbprint is well under this */

static int our_name(const struct nx_relay *r, const char *key)
{
	char err[NX_ERRLEN], h[NX_HOSTNAME_MAX + 1];
	for (size_t i = 0; i < r->cfg.n_acme_hosts; i++)
		if (nx_hostname_normalize(r->cfg.acme_hosts[i], strlen(r->cfg.acme_hosts[i]), h,
		                          sizeof h, 0, err, sizeof err) == 0 &&
		    strcmp(h, key) == 0)
			return 1;
	return 0;
}

/* The file's content when it is a regular file (not a symlink) of at most KEYAUTH_MAX
 * bytes; -1 otherwise. */
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
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= KEYAUTH_MAX)
		n = read(fd, out, KEYAUTH_MAX);
	close(fd);
	return n;
}

int relay_acme_try(struct conn *c, const struct nx_sniff *s)
{
	struct nx_relay *r = c->r;
	char key[256], err[NX_ERRLEN];
	if (!r->cfg.acme_challenge_dir ||
	    nx_hostname_normalize(s->name, s->name_len, key, sizeof key, 0, err, sizeof err) < 0 ||
	    !our_name(r, key))
		return 0;
	static struct nx_http_req q; /* large; the loop is single-threaded */
	if (nx_http_req_parse((const char *)c->in, c->inlen, &q) != NX_HTTP_DONE)
		return 0;
	int head = nx_http_slice_is(q.method, "HEAD");
	size_t pl = strlen(PREFIX);
	if ((!head && !nx_http_slice_is(q.method, "GET")) || q.path.n <= pl ||
	    memcmp(q.path.p, PREFIX, pl) != 0)
		return 0;
	memcpy(c->key, key, strlen(key) + 1);
	c->via = "acme-challenge";
	const char *tok = q.path.p + pl;
	size_t tl = q.path.n - pl;
	char token[NX_ACME_TOKEN_MAX + 1], body[KEYAUTH_MAX];
	ssize_t n = -1;
	if (nx_acme_token_ok(tok, tl) && q.query.n == 0) {
		memcpy(token, tok, tl);
		token[tl] = 0;
		n = read_answer(r->cfg.acme_challenge_dir, token, body);
	}
	char resp[KEYAUTH_MAX + 256];
	int hl;
	if (n < 0) {
		c->why = "no such challenge";
		static const char nf[] = "no such challenge\n";
		hl = snprintf(resp, sizeof resp,
		              "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
		              "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		              sizeof nf - 1, head ? "" : nf);
	} else {
		hl = snprintf(resp, sizeof resp,
		              "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
		              "Content-Length: %zd\r\nConnection: close\r\n\r\n",
		              n);
		if (!head && (size_t)hl + (size_t)n <= sizeof resp) {
			memcpy(resp + hl, body, (size_t)n);
			hl += (int)n;
		}
	}
	ssize_t w = send(c->fd, resp, (size_t)hl, MSG_NOSIGNAL);
	if (w > 0)
		c->down += (uint64_t)w;
	conn_answer(c, n < 0 ? "acme-404" : "acme", 0, 0);
	return 1;
}
