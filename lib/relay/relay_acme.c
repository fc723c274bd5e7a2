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
	char resp[NX_ACME_REPLY_MAX];
	int found;
	int hl = nx_acme_http01_reply(r->cfg.acme_challenge_dir, &q, resp, sizeof resp, &found);
	if (hl < 0)
		return 0;
	memcpy(c->key, key, strlen(key) + 1);
	c->via = "acme-challenge";
	if (!found)
		c->why = "no such challenge";
	ssize_t w = send(c->fd, resp, (size_t)hl, MSG_NOSIGNAL);
	if (w > 0)
		c->down += (uint64_t)w;
	conn_answer(c, found ? "acme" : "acme-404", 0, 0);
	return 1;
}
