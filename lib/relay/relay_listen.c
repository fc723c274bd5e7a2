/* relay_listen.c — the relay's listeners: accept while there is room (--max-conns, the fd
 * reserve), pause and retry on a timer when fds run short (core/accept.h, the helper the hub
 * uses too), and hold each source address to --max-conns-per-source. */
#include "relay/relay_int.h"
#include "core/accept.h"
#include "core/log.h"
#include "core/sock.h"
#include "core/util.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- listeners ---------------------------------------------------------------------------- */

static void accept_pause(struct nx_relay *r)
{
	if (!r->accepting)
		return;
	r->ctr.accept_pauses++;
	for (size_t i = 0; i < r->nlisteners; i++)
		nx_loop_mod(r->loop, r->listeners[i], 0);
	r->accepting = 0;
}

void relay_accept_resume(struct nx_relay *r)
{
	if (r->accepting || r->stopping || r->nconns >= r->cfg.max_conns)
		return;
	for (size_t i = 0; i < r->nlisteners; i++)
		nx_loop_mod(r->loop, r->listeners[i], NX_EV_READ);
	r->accepting = 1;
}

static void accept_retry(struct nx_loop *loop, void *arg)
{
	struct nx_relay *r = arg;
	if (r->nlisteners && !nx_accept_guard_room(&r->fdg, r->listeners[0])) {
		nx_timer_start(loop, &r->accept_retry, NX_ACCEPT_RETRY_MS, accept_retry, r);
		return;
	}
	relay_accept_resume(r);
}

/* Out of fds (or memory), or into the fd reserve kept for dialling --route addresses: stop
 * watching the listeners (a closing connection or the timer resumes), say so once a second. */
static void accept_short(struct nx_relay *r, const char *why)
{
	accept_pause(r);
	if (!nx_timer_active(&r->accept_retry))
		nx_timer_start(r->loop, &r->accept_retry, NX_ACCEPT_RETRY_MS, accept_retry, r);
	uint64_t n = nx_accept_guard_note(&r->fdg, nx_loop_now(r->loop));
	if (n)
		relay_log(r, NX_LOG_WARN, "not accepting for now",
		          "reason=\"%s\" times=%llu fd_limit=%lu fd_reserve=%lu", why,
		          (unsigned long long)n, r->fdg.limit, r->fdg.reserve);
}

/* One source may hold at most max_conns_per_source of the max_conns slots. */
static int source_full(struct nx_relay *r, const struct sockaddr *peer, struct nx_src *src,
                       int *has_src)
{
	*has_src = nx_src_of_sockaddr(peer, src) == 0;
	if (!*has_src || nx_srcmap_get(r->srcmap, src) < r->cfg.max_conns_per_source)
		return 0;
	r->ctr.source_refused++;
	uint64_t n = nx_rate_note(&r->src_rate, nx_loop_now(r->loop), NX_ACCEPT_REPORT_MS);
	if (n) {
		char q[64];
		relay_log(r, NX_LOG_WARN, "too many connections from one source, closing new ones",
		          "client=%s max_per_source=%zu times=%llu",
		          nx_fmt_addr(peer, q, sizeof q, NULL, NULL), r->cfg.max_conns_per_source,
		          (unsigned long long)n);
	}
	return 1;
}

static void on_accept(struct nx_loop *loop, int lfd, unsigned events, void *arg)
{
	struct nx_relay *r = arg;
	char err[NX_ERRLEN];
	uint16_t port = 0;
	unsigned flags = RELAY_CONN_READ_NOW;
	for (size_t l = 0; l < r->nlisteners; l++)
		if (r->listeners[l] == lfd) {
			port = r->listener_port[l];
			flags |= r->listener_opts[l] ? RELAY_CONN_SOCKOPTS : 0;
		}
	for (int i = 0; i < 64; i++) {
		if (r->nconns >= r->cfg.max_conns) {
			accept_pause(r); /* the kernel's backlog holds the rest */
			return;
		}
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (nx_accept_shortage(errno))
				accept_short(r, strerror(errno));
			return;
		}
		struct nx_src src;
		int has_src;
		const struct sockaddr *peer = (const struct sockaddr *)&ss;
		if (source_full(r, peer, &src, &has_src)) {
			close(fd);
			continue;
		}
		size_t held = r->nconns;
		if (relay_conn_start(r, fd, peer, port, has_src ? &src : NULL, flags, err,
		                     sizeof err) < 0)
			return;
		/* Into the reserve: pause, while the connection holds its fd (its end resumes us).
		 * One that ended within relay_conn_start gave the fd back: pausing for it would
		 * wait for an end that has come already. */
		if (r->nconns > held && nx_accept_guard_low(&r->fdg, fd)) {
			accept_short(r, "fd reserve reached");
			return;
		}
	}
}

int nx_relay_add_listener(struct nx_relay *r, int fd, char *err, size_t errlen)
{
	if (r->nlisteners == MAX_LISTENERS)
		return nx_err(err, errlen, "more than %d listeners", MAX_LISTENERS);
	nx_set_nonblock(fd, 1);
	if (nx_loop_add(r->loop, fd, r->accepting ? NX_EV_READ : 0, on_accept, r) < 0)
		return nx_err(err, errlen, "epoll: %s", strerror(errno));
	r->listener_port[r->nlisteners] = nx_local_port(fd);
	/* set once here, inherited by every accepted socket: system calls per connection saved */
	r->listener_opts[r->nlisteners] = relay_sockopts(fd) == 0;
	r->listeners[r->nlisteners++] = fd;
	return 0;
}

