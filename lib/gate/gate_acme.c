/* gate_acme.c — the device's own certificate for its gated hosts from ACME
 * (nexus-tunnel --gate-acme-directory): the same client as the hub's (lib/acme), run by a
 * thread of its own since the gate's work is in threads anyway and the flow blocks on
 * libcurl. The CA's HTTP-01 validation comes the way every browser does — relay (plain
 * HTTP port) → hub → this tunnel — as a plain-HTTP stream for a gated host, answered here
 * from the challenge files; any other plain-HTTP request to a gated host is told to use
 * https (421). A new certificate is swapped in for new connections (gate_creds_set);
 * connections made with the old one keep it. Renewal at ~2/3 of the life, with jitter; a
 * failure keeps what the gate has and retries with backoff or at the CA's rateLimited time. */
#include "acme/acme.h"
#include "core/random.h"
#include "core/sock.h"
#include "core/util.h"
#include "gate/gate_int.h"
#include "wire/http_req.h"
#include "wire/tls.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define PLAIN_HEAD_MAX 8192
#define PLAIN_TIMEOUT_MS 10000

struct gate_acme {
	char cert_path[4096];
	char chal_dir[4096];
	struct nx_acme_config c;
};

#define LQ(s) nx_log_q((char[600]){0}, 600, (s))

/* Load cert.pem and make it the certificate of new connections; the time to renew it. */
static int install(struct nx_gate *g, const char *why, int64_t *renew_at)
{
	struct gate_acme *a = g->acme;
	char err[NX_ERRLEN], serial[80];
	int64_t na;
	struct nx_tls_server_creds *c =
	    nx_acme_cert_load(a->cert_path, serial, &na, renew_at, err, sizeof err);
	if (!c)
		goto bad;
	gate_creds_set(g, c);
	gate_log(g, NX_LOG_INFO, why, "file=%s serial=%s not_after=%lld renew_in_s=%lld",
	         LQ(a->cert_path), serial, (long long)na, (long long)(*renew_at - nx_unix_time()));
	return 0;
bad:
	gate_log(g, NX_LOG_WARN, "gate: acme certificate not usable", "error=%s", LQ(err));
	return -1;
}

static void sleep_until(int64_t at)
{
	for (int64_t now = nx_unix_time(); now < at; now = nx_unix_time())
		sleep((unsigned)(at - now > 60 ? 60 : at - now));
}

static void *acme_main(void *arg)
{
	struct nx_gate *g = arg;
	struct gate_acme *a = g->acme;
	unsigned failures = 0;
	int64_t at = 0; /* now */
	char err[NX_ERRLEN];
	if (access(a->cert_path, F_OK) == 0 &&
	    nx_acme_cert_covers(a->cert_path, a->c.hostnames, a->c.nhostnames, err, sizeof err) == 1 &&
	    install(g, "gate: acme certificate loaded", &at) < 0)
		at = 0;
	for (;;) {
		sleep_until(at);
		gate_log(g, NX_LOG_INFO, "gate: acme ordering a certificate", "directory=%s name=%s",
		         LQ(a->c.directory_url), a->c.hostnames[0]);
		struct nx_acme_result res;
		memset(&res, 0, sizeof res);
		if (nx_acme_obtain(&a->c, &res, err, sizeof err) == 0 &&
		    install(g, "gate: acme certificate installed", &at) == 0) {
			failures = 0;
			if (at < nx_unix_time() + 1)
				at = nx_unix_time() + 1;
			continue;
		}
		at = nx_acme_retry_at(&failures, res.retry_at);
		struct gate_creds *gc = gate_creds_hold(g);
		gate_log(g, NX_LOG_ERROR, "gate: acme failed", "error=%s retry_in_s=%lld certificate=%s",
		         LQ(err), (long long)(at - nx_unix_time()), gc ? "kept" : "none");
		if (gc)
			gate_creds_drop(g, gc);
	}
	return NULL;
}

int gate_acme_start(struct nx_gate *g, char *err, size_t errlen)
{
	const struct nx_gate_cfg *cfg = &g->cfg;
	if (!cfg->acme_dir)
		return nx_err(err, errlen, "ACME for the gate needs its directory (--gate-acme-dir)");
	struct gate_acme *a = calloc(1, sizeof *a);
	if (!a)
		return nx_err(err, errlen, "out of memory");
	g->acme = a;
	snprintf(a->cert_path, sizeof a->cert_path, "%s/%s", cfg->acme_dir, NX_ACME_CERT_FILE);
	snprintf(a->chal_dir, sizeof a->chal_dir, "%s/challenges", cfg->acme_dir);
	if (mkdir(cfg->acme_dir, 0700) < 0 && errno != EEXIST)
		return nx_err(err, errlen, "%s: %s", cfg->acme_dir, strerror(errno));
	if (mkdir(a->chal_dir, 0700) < 0 && errno != EEXIST)
		return nx_err(err, errlen, "%s: %s", a->chal_dir, strerror(errno));
	a->c.directory_url = cfg->acme_directory;
	a->c.email = cfg->acme_email;
	a->c.state_dir = cfg->acme_dir;
	a->c.challenge_dir = a->chal_dir;
	a->c.ca_file = cfg->acme_ca;
	a->c.log = cfg->log;
	a->c.log_arg = cfg->log_arg;
	for (size_t i = 0; i < g->n_hosts && i < NX_ACME_MAX_NAMES; i++)
		a->c.hostnames[a->c.nhostnames++] = g->hosts[i];
	pthread_attr_t at;
	pthread_t th;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&th, &at, acme_main, g);
	pthread_attr_destroy(&at);
	if (rc != 0)
		return nx_err(err, errlen, "cannot start the ACME thread: %s", strerror(rc));
	return 0;
}

/* ---- plain HTTP to a gated host ----------------------------------------------------------- */

struct plain {
	struct nx_gate *g;
	struct gate_slot slot;
	int fd;
	char host[NX_HOSTNAME_MAX + 1];
};

static void *plain_main(void *arg)
{
	struct plain *p = arg;
	struct nx_gate *g = p->g;
	char head[PLAIN_HEAD_MAX];
	size_t n = 0;
	static __thread struct nx_http_req q;
	int st = NX_HTTP_MORE;
	while (n < sizeof head && st == NX_HTTP_MORE) {
		struct pollfd pf = {.fd = p->fd, .events = POLLIN};
		if (poll(&pf, 1, PLAIN_TIMEOUT_MS) <= 0)
			break;
		ssize_t r = read(p->fd, head + n, sizeof head - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		st = nx_http_req_parse(head, n, &q);
	}
	char resp[NX_ACME_REPLY_MAX];
	int found = 0, hl = -1;
	if (st == NX_HTTP_DONE && g->acme)
		hl = nx_acme_http01_reply(g->acme->chal_dir, &q, resp, sizeof resp, &found);
	if (st == NX_HTTP_DONE && hl >= 0) {
		gate_log_remote(g, NX_LOG_INFO, "gate: acme challenge", "host=%s found=%d", p->host, found);
	} else if (st == NX_HTTP_DONE) {
		static const char b[] = "this host is served over https only\n";
		hl = snprintf(resp, sizeof resp,
		              "HTTP/1.1 421 Misdirected Request\r\nContent-Type: text/plain\r\n"
		              "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		              sizeof b - 1, b);
	}
	if (hl > 0) {
		nx_set_nonblock(p->fd, 0);
		nx_write_all(p->fd, resp, (size_t)hl);
		shutdown(p->fd, SHUT_WR);
	}
	close(p->fd);
	gate_slot_release(g, &p->slot);
	free(p);
	return NULL;
}

int gate_plain_open(struct nx_gate *g, const char *hostname, const char *client, char *err,
                    size_t errlen)
{
	struct plain *p = calloc(1, sizeof *p);
	if (!p)
		return nx_err(err, errlen, "gate: out of memory");
	p->g = g;
	snprintf(p->host, sizeof p->host, "%s", hostname);
	int fd = gate_thread_open(g, &p->slot, client, plain_main, p, &p->fd, 256 * 1024, err, errlen);
	if (fd < 0)
		free(p);
	return fd;
}
