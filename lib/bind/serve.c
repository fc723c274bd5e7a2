/* serve.c — see serve.h. */
#include "bind/serve.h"
#include "core/accept.h"
#include "core/sock.h"
#include "core/util.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(struct nx_serve *s, int level, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void say(struct nx_serve *s, int level, const char *msg, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	nx_log_vemit(s->log, s->log_arg, level, msg, fmt, ap);
	va_end(ap);
}

/* Read more into buf[*have..cap): 1 got bytes, 0 EOF, -1 error, -2 timeout. */
static int read_more(int fd, char *buf, size_t *have, size_t cap, int idle_ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	for (;;) {
		int rc = poll(&p, 1, idle_ms);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -1;
		if (rc == 0)
			return -2;
		ssize_t n = read(fd, buf + *have, cap - *have);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return errno == ECONNRESET ? 0 : -1;
		if (n == 0)
			return 0;
		*have += (size_t)n;
		return 1;
	}
}

/* One write per response: a head and a body in two segments would meet Nagle's algorithm
 * and the peer's delayed ACK, 40 ms per keep-alive request. */
static int send_resp(int out, const struct nx_api_resp *r, int keep, int head_only)
{
	char hdr[1024];
	int n = snprintf(hdr, sizeof hdr,
	                 "HTTP/1.1 %d %s\r\n%s%s%sContent-Length: %zu\r\n%sConnection: %s\r\n\r\n",
	                 r->status, nx_http_reason(r->status), r->ctype ? "Content-Type: " : "",
	                 r->ctype ? r->ctype : "", r->ctype ? "\r\n" : "", r->body ? r->len + 1 : 0,
	                 r->headers, keep ? "keep-alive" : "close");
	if (n < 0 || (size_t)n >= sizeof hdr)
		return -1;
	size_t blen = r->body && !head_only ? r->len + 1 : 0;
	char *all = malloc((size_t)n + blen);
	if (!all)
		return -1;
	memcpy(all, hdr, (size_t)n);
	if (blen) {
		memcpy(all + n, r->body, r->len);
		all[(size_t)n + r->len] = '\n';
	}
	int rc = nx_write_all(out, all, (size_t)n + blen);
	free(all);
	return rc;
}

static void log_req(struct nx_serve *s, const struct nx_http_req *q, const struct nx_api_resp *r)
{
	char m[24], p[160], w[220];
	char mm[16], pp[128];
	nx_sanitize(mm, sizeof mm, q->method.p, q->method.n);
	nx_sanitize(pp, sizeof pp, q->path.p, q->path.n);
	nx_log_q(m, sizeof m, mm);
	nx_log_q(p, sizeof p, pp);
	nx_log_q(w, sizeof w, r->who[0] ? r->who : "-");
	if (r->note[0]) {
		char note[NX_ERRLEN + 8];
		nx_log_q(note, sizeof note, r->note);
		say(s, NX_LOG_ERROR, "request failed", "method=%s path=%s status=%d who=%s error=%s", m,
		    p, r->status, w, note);
	} else
		say(s, NX_LOG_INFO, "request", "method=%s path=%s status=%d who=%s", m, p, r->status, w);
}

/* Answer a framing problem and end the connection. The peer may still be sending (an
 * oversized body): closing with unread bytes would reset the connection and could destroy
 * the answer before it is read, so half-close and swallow a bounded amount first. */
static int send_problem(int out, int status, const char *why)
{
	struct nx_api_resp r = {0};
	nx_api_problem(&r, status, why);
	int rc = send_resp(out, &r, 0, 0);
	nx_api_resp_free(&r);
	return rc;
}

static int refuse(struct nx_serve *s, int in, int out, int status, const char *why)
{
	int rc = send_problem(out, status, why);
	say(s, NX_LOG_INFO, "refused", "status=%d why=\"%s\"", status, why);
	if (rc == 0 && shutdown(out, SHUT_WR) == 0) {
		char sink[4096];
		size_t total = 0;
		uint64_t until = nx_now_ms() + 1000;
		while (total < (1u << 20) && nx_now_ms() < until) {
			struct pollfd p = {in, POLLIN, 0};
			if (poll(&p, 1, 100) <= 0)
				continue;
			ssize_t n = read(in, sink, sizeof sink);
			if (n <= 0)
				break;
			total += (size_t)n;
		}
	}
	return rc;
}

int nx_serve_conn(struct nx_serve *s, int in, int out)
{
	size_t cap = NX_HTTP_HEAD_MAX + s->api->max_body, have = 0;
	char *buf = malloc(cap);
	if (!buf)
		return -1;
	/* A peer that stops reading must not hold this process forever. */
	struct timeval tv = {s->idle_ms / 1000, (s->idle_ms % 1000) * 1000};
	setsockopt(out, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	int rc = 0;
	static struct nx_http_req req; /* large; one connection per process */
	for (;;) {
		int pr = nx_http_req_parse(buf, have, &req);
		if (pr == NX_HTTP_MORE) {
			int m = read_more(in, buf, &have, cap, s->idle_ms);
			if (m == 1)
				continue;
			if (m == -2 && have)
				refuse(s, in, out, 408, "request not received in time");
			rc = m == -1 ? -1 : 0;
			break;
		}
		if (pr == NX_HTTP_INVALID) {
			refuse(s, in, out, req.status, req.why);
			break;
		}
		if (req.chunked) {
			refuse(s, in, out, 411, "chunked bodies are not accepted: send a Content-Length");
			break;
		}
		size_t cl = req.content_length < 0 ? 0 : (size_t)req.content_length;
		if (req.content_length > (int64_t)s->api->max_body) {
			char why[80];
			snprintf(why, sizeof why, "request body over %zu bytes", s->api->max_body);
			refuse(s, in, out, 413, why);
			break;
		}
		while (have < req.head_len + cl) {
			int m = read_more(in, buf, &have, cap, s->idle_ms);
			if (m != 1) {
				if (m == -2)
					refuse(s, in, out, 408, "request body not received in time");
				rc = m == -1 ? -1 : 0;
				goto done;
			}
			nx_http_req_parse(buf, have, &req); /* buf may not move, but be exact */
		}
		struct nx_api_resp r;
		nx_api_handle(s->api, &req, buf + req.head_len, cl, &r);
		int head_only = nx_http_slice_is(req.method, "HEAD");
		log_req(s, &req, &r);
		int keep = req.keep_alive;
		rc = send_resp(out, &r, keep, head_only);
		nx_api_resp_free(&r);
		if (rc < 0 || !keep)
			break;
		size_t used = req.head_len + cl;
		memmove(buf, buf + used, have - used);
		have -= used;
	}
done:
	free(buf);
	nx_api_reset(s->api);
	return rc;
}

struct child {
	pid_t pid;
	struct nx_src src; /* the peer's address (an IPv6 /64) */
};

/* Connections refused by the listener, answered and half-closed: what they still send is
 * swallowed for a second (so the answer is not destroyed by a reset) without the accepting
 * process ever waiting on one. At most LINGER_MAX; the oldest goes first. */
#define LINGER_MAX 64
#define LINGER_MS 1000
struct lingering {
	int fd[LINGER_MAX];
	uint64_t until[LINGER_MAX];
	int n;
};

static void linger_drop(struct lingering *lg, int i)
{
	close(lg->fd[i]);
	lg->n--;
	memmove(&lg->fd[i], &lg->fd[i + 1], (size_t)(lg->n - i) * sizeof *lg->fd);
	memmove(&lg->until[i], &lg->until[i + 1], (size_t)(lg->n - i) * sizeof *lg->until);
}

static void linger_add(struct lingering *lg, int fd)
{
	if (lg->n == LINGER_MAX)
		linger_drop(lg, 0);
	lg->fd[lg->n] = fd;
	lg->until[lg->n] = nx_now_ms() + LINGER_MS;
	lg->n++;
}

/* Poll the listener (p[0]) and the lingering connections; swallow, and close the done. */
static int linger_poll(struct lingering *lg, int lfd, int timeout_ms)
{
	struct pollfd p[1 + LINGER_MAX];
	p[0] = (struct pollfd){lfd, POLLIN, 0};
	for (int i = 0; i < lg->n; i++)
		p[1 + i] = (struct pollfd){lg->fd[i], POLLIN, 0};
	int rc = poll(p, (nfds_t)(1 + lg->n), timeout_ms);
	uint64_t now = nx_now_ms();
	for (int i = lg->n - 1; i >= 0; i--) {
		int done = now >= lg->until[i];
		if (!done && rc > 0 && p[1 + i].revents) {
			char sink[4096];
			ssize_t n;
			while ((n = recv(lg->fd[i], sink, sizeof sink, MSG_DONTWAIT)) > 0)
				;
			done = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
		}
		if (done)
			linger_drop(lg, i);
	}
	return rc > 0 && (p[0].revents & POLLIN);
}

int nx_serve_listen(struct nx_serve *s, int lfd, volatile int *stop, char *err, size_t errlen)
{
	struct child *kids = calloc((size_t)s->max_conns, sizeof *kids);
	if (!kids)
		return nx_err(err, errlen, "out of memory");
	int nkids = 0;
	struct nx_rate refused = {0};
	struct lingering lg = {.n = 0};
	while (!*stop) {
		pid_t pid;
		while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
			for (int i = 0; i < nkids; i++)
				if (kids[i].pid == pid) {
					kids[i] = kids[--nkids];
					break;
				}
		if (!linger_poll(&lg, lfd, 200))
			continue;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (nx_accept_shortage(errno))
				usleep(NX_ACCEPT_RETRY_MS * 1000); /* the backlog waits; do not spin */
			continue;
		}
		char addr[64], ip[48] = "?";
		nx_peer_addr(fd, addr, sizeof addr, ip, NULL);
		struct nx_src src;
		nx_src_of_fd(fd, &src);
		int same = 0;
		for (int i = 0; i < nkids; i++)
			same += memcmp(&kids[i].src, &src, sizeof src) == 0;
		if (nkids >= s->max_conns || same >= s->per_source) {
			/* Answered here, in the one process that accepts and reaps, so never waiting
			 * on the peer: a 503 fits the empty send buffer, the rest of its request is
			 * swallowed while it lingers; logged once a second with a count. */
			const char *why = nkids >= s->max_conns ? "too many connections"
			                                        : "too many connections from this address";
			uint64_t n = nx_rate_note(&refused, nx_now_ms(), NX_ACCEPT_REPORT_MS);
			if (n)
				say(s, NX_LOG_INFO, "refused", "status=503 why=\"%s\" peer=%s times=%llu", why,
				    addr, (unsigned long long)n);
			struct timeval tv = {0, 100000};
			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
			if (send_problem(fd, 503, why) == 0 && shutdown(fd, SHUT_WR) == 0)
				linger_add(&lg, fd);
			else
				close(fd);
			continue;
		}
		pid = fork();
		if (pid < 0) {
			close(fd);
			continue;
		}
		if (pid == 0) {
			close(lfd);
			for (int i = 0; i < lg.n; i++) /* the parent's to finish */
				close(lg.fd[i]);
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			struct nx_store *st;
			char e[NX_ERRLEN];
			if (nx_store_open(s->db, &st, e, sizeof e) < 0) {
				say(s, NX_LOG_ERROR, "store", "error=\"%s\"", e);
				refuse(s, fd, fd, 503, "store unavailable");
				_exit(1);
			}
			s->api->b->st = st;
			s->api->b->origin = ip;
			s->api->origin = ip;
			int rc = nx_serve_conn(s, fd, fd);
			close(fd);
			nx_store_close(st);
			_exit(rc < 0 ? 1 : 0);
		}
		close(fd);
		kids[nkids].pid = pid;
		kids[nkids].src = src;
		nkids++;
	}
	while (lg.n)
		linger_drop(&lg, 0);
	free(kids);
	return 0;
}
