/* hub_acme.c — the hub's own certificate from ACME (--acme-directory): obtained at start
 * when --acme-dir holds none that is valid, renewed at ~2/3 of its life (with jitter),
 * installed without a restart: new backend connections get the new certificate, existing
 * sessions keep theirs (the creds are counted, hub_creds in hub_reload.c).
 *
 * The ACME flow (lib/acme) blocks on libcurl, so it runs in a child process forked for
 * each attempt; the loop only watches a pipe on which the child writes one result record
 * and then exits. The child dies with the hub (PR_SET_PDEATHSIG) and is killed at
 * nx_hub_free. A failure keeps the certificate the hub has (an earlier one, or --cert),
 * logs the reason and tries again later (backoff, or the server's rateLimited time). */
#include "acme/acme.h"
#include "core/log.h"
#include "core/random.h"
#include "core/util.h"
#include "hub/hub_int.h"
#include "wire/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define RENEW_MIN_S 1

struct acme_msg {
	int rc;
	struct nx_acme_result res;
	char err[NX_ERRLEN];
};

struct hub_acme {
	char cert_path[4096];
	char chal_dir[4096];
	pid_t pid;
	int fd; /* the child's result pipe */
	struct acme_msg msg;
	size_t got;
	struct nx_timer timer;
	unsigned failures;
	int installed; /* hub->creds is an ACME certificate (a SIGHUP keeps it) */
};

static void run(struct nx_loop *loop, void *arg);

static void schedule(struct nx_hub *hub, int64_t at)
{
	int64_t d = at - nx_unix_time();
	if (d < 0)
		d = 0;
	nx_timer_start(hub->loop, &hub->acme->timer, (uint64_t)d * 1000, run, hub);
}

/* Load cert.pem (chain + key) and make it the one new connections get. */
static int install(struct nx_hub *hub, const char *why)
{
	struct hub_acme *a = hub->acme;
	char err[NX_ERRLEN], serial[80], q[600];
	int64_t na, at;
	struct nx_tls_server_creds *c =
	    nx_acme_cert_load(a->cert_path, serial, &na, &at, err, sizeof err);
	if (!c)
		goto bad;
	struct hub_creds *hc = hub_creds_new(c); /* takes c */
	if (!hc) {
		nx_err(err, sizeof err, "out of memory");
		goto bad;
	}
	hub_creds_drop(hub->creds); /* sessions made with it keep their reference */
	hub->creds = hc;
	hub->acme->installed = 1;
	if (at < nx_unix_time() + RENEW_MIN_S)
		at = nx_unix_time() + RENEW_MIN_S;
	hub_log(hub, NX_LOG_INFO, why, "file=%s serial=%s not_after=%lld renew_in_s=%lld",
	        nx_log_q(q, sizeof q, a->cert_path), serial, (long long)na,
	        (long long)(at - nx_unix_time()));
	a->failures = 0;
	schedule(hub, at);
	return 0;
bad:
	hub_log(hub, NX_LOG_WARN, "acme certificate not usable", "error=%s",
	        nx_log_q(q, sizeof q, err));
	return -1;
}

static void failed(struct nx_hub *hub, const char *err, int64_t retry_at)
{
	struct hub_acme *a = hub->acme;
	char q[NX_ERRLEN + 40];
	int64_t at = nx_acme_retry_at(&a->failures, retry_at);
	hub_log(hub, NX_LOG_ERROR, "acme failed", "error=%s retry_in_s=%lld certificate=%s",
	        nx_log_q(q, sizeof q, err), (long long)(at - nx_unix_time()),
	        hub->creds ? "kept" : "none");
	schedule(hub, at);
}

static void child_done(struct nx_loop *loop, int fd, unsigned events, void *arg)
{
	struct nx_hub *hub = arg;
	struct hub_acme *a = hub->acme;
	ssize_t n = read(fd, (char *)&a->msg + a->got, sizeof a->msg - a->got);
	if (n > 0) {
		a->got += (size_t)n;
		if (a->got < sizeof a->msg)
			return;
	} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		return;
	}
	nx_loop_del(loop, fd);
	close(fd);
	a->fd = -1;
	int st;
	while (waitpid(a->pid, &st, 0) < 0 && errno == EINTR)
		;
	a->pid = 0;
	if (a->got < sizeof a->msg)
		return failed(hub, "the ACME process ended without a result", 0);
	a->msg.err[sizeof a->msg.err - 1] = 0;
	if (a->msg.rc < 0)
		return failed(hub, a->msg.err, a->msg.res.retry_at);
	if (install(hub, "acme certificate installed") < 0)
		failed(hub, "the new certificate does not load", 0);
}

static void child(struct nx_hub *hub, int wfd)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* keep only stdio and the result pipe: a copy of a session's socket held here would keep
	 * that TCP connection open after the hub closes it (no FIN until we exit) */
	if (wfd != 3) {
		if (dup2(wfd, 3) < 0)
			_exit(1);
		wfd = 3;
	}
	close_range(4, ~0U, 0);
	const struct nx_hub_config *h = &hub->cfg;
	struct nx_acme_config c = {
	    .directory_url = h->acme_directory,
	    .email = h->acme_email,
	    .state_dir = h->acme_dir,
	    .challenge_dir = hub->acme->chal_dir,
	    .ca_file = h->acme_ca,
	    .poll_ms = h->acme_poll_ms,
	    .log = h->log,
	    .log_arg = h->log_arg,
	};
	for (size_t i = 0; i < h->n_hostnames && i < NX_ACME_MAX_NAMES; i++)
		c.hostnames[c.nhostnames++] = h->hostnames[i];
	struct acme_msg m;
	memset(&m, 0, sizeof m);
	m.rc = nx_acme_obtain(&c, &m.res, m.err, sizeof m.err);
	nx_write_all(wfd, &m, sizeof m);
	_exit(0);
}

static void run(struct nx_loop *loop, void *arg)
{
	struct nx_hub *hub = arg;
	struct hub_acme *a = hub->acme;
	if (a->pid > 0)
		return;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return failed(hub, strerror(errno), 0);
	char q[300];
	hub_log(hub, NX_LOG_INFO, "acme ordering a certificate", "directory=%s name=%s",
	        nx_log_q(q, sizeof q, hub->cfg.acme_directory), hub->cfg.hostnames[0]);
	pid_t pid = hub_fork(hub);
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return failed(hub, strerror(errno), 0);
	}
	if (pid == 0) {
		close(p[0]);
		child(hub, p[1]);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
	a->pid = pid;
	a->fd = p[0];
	a->got = 0;
	if (nx_loop_add(loop, p[0], NX_EV_READ, child_done, hub) < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(p[0]);
		a->pid = 0, a->fd = -1;
		failed(hub, "cannot watch the ACME process", 0);
	}
}

int hub_acme_open(struct nx_hub *hub, char *err, size_t errlen)
{
	const struct nx_hub_config *c = &hub->cfg;
	if (!c->acme_directory)
		return 0;
	if (!c->acme_dir || !c->n_hostnames)
		return nx_err(err, errlen, "ACME needs --acme-dir and --hub-hostname");
	struct hub_acme *a = calloc(1, sizeof *a);
	if (!a)
		return nx_err(err, errlen, "out of memory");
	a->fd = -1;
	hub->acme = a;
	snprintf(a->cert_path, sizeof a->cert_path, "%s/%s", c->acme_dir, NX_ACME_CERT_FILE);
	if (c->acme_challenge_dir)
		snprintf(a->chal_dir, sizeof a->chal_dir, "%s", c->acme_challenge_dir);
	else
		snprintf(a->chal_dir, sizeof a->chal_dir, "%s/challenges", c->acme_dir);
	if (mkdir(c->acme_dir, 0700) < 0 && errno != EEXIST)
		return nx_err(err, errlen, "--acme-dir %s: %s", c->acme_dir, strerror(errno));
	/* the relay (another user, maybe) reads the answers: the directory is world-readable,
	 * the files in it hold nothing secret (token.thumbprint, served to anyone anyway) */
	if (mkdir(a->chal_dir, 0755) < 0 && errno != EEXIST)
		return nx_err(err, errlen, "%s: %s", a->chal_dir, strerror(errno));
	if (access(a->cert_path, F_OK) == 0 && install(hub, "acme certificate loaded") == 0) {
		char e2[NX_ERRLEN], q[600];
		if (nx_acme_cert_covers(a->cert_path, c->hostnames, c->n_hostnames, e2, sizeof e2) == 1)
			return 0; /* renewal scheduled */
		/* --hub-hostname changed: serve the old one until the new order is done */
		hub_log(hub, NX_LOG_INFO, "acme certificate lacks a --hub-hostname, ordering now",
		        "file=%s", nx_log_q(q, sizeof q, a->cert_path));
	}
	schedule(hub, 0);
	return 0;
}

int hub_acme_installed(const struct nx_hub *hub) { return hub->acme && hub->acme->installed; }

void hub_acme_close(struct nx_hub *hub)
{
	struct hub_acme *a = hub->acme;
	if (!a)
		return;
	nx_timer_stop(hub->loop, &a->timer);
	if (a->fd >= 0) {
		nx_loop_del(hub->loop, a->fd);
		close(a->fd);
	}
	if (a->pid > 0) {
		kill(a->pid, SIGKILL);
		waitpid(a->pid, NULL, 0);
	}
	free(a);
	hub->acme = NULL;
}
