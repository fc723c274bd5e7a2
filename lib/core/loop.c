/* loop.c — see loop.h. An fd table indexed by fd carries a generation number that also rides
 * in each epoll event, so an event for an fd that was removed (and perhaps reused) earlier
 * in the same round is recognised and dropped. Timers live in a binary min-heap of pointers. */
#include "core/loop.h"
#include "core/util.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

struct fd_slot {
	nx_io_cb cb;
	void *arg;
	unsigned events;
	uint32_t gen;
};

struct nx_loop {
	int epfd;
	int stop;
	uint64_t now;
	struct fd_slot *fds;
	int nfds;
	struct nx_timer **heap; /* 1-based */
	size_t heap_len, heap_cap;
	int sigfd;
	nx_signal_cb sig_cb;
	void *sig_arg;
	void (*lock)(void *), (*unlock)(void *);
	void *lock_arg;
	nx_timer_cb wake_cb; /* nx_loop_on_wake */
	void *wake_arg;
};

struct nx_loop *nx_loop_new(char *err, size_t errlen)
{
	struct nx_loop *l = calloc(1, sizeof *l);
	if (!l) {
		nx_err(err, errlen, "out of memory");
		return NULL;
	}
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		nx_err(err, errlen, "epoll_create1: %s", strerror(errno));
		free(l);
		return NULL;
	}
	l->sigfd = -1;
	l->now = nx_now_ms();
	return l;
}

void nx_loop_free(struct nx_loop *l)
{
	if (!l)
		return;
	close(l->epfd);
	if (l->sigfd >= 0)
		close(l->sigfd);
	free(l->fds);
	free(l->heap);
	free(l);
}

static uint32_t ep_events(unsigned ev)
{
	return (ev & NX_EV_READ ? EPOLLIN | EPOLLRDHUP : 0) | (ev & NX_EV_WRITE ? EPOLLOUT : 0) |
	       (ev & NX_EV_HUP ? EPOLLRDHUP : 0);
}

static int grow_fds(struct nx_loop *l, int fd)
{
	if (fd < l->nfds)
		return 0;
	int n = l->nfds ? l->nfds : 64;
	while (n <= fd)
		n *= 2;
	struct fd_slot *nf = realloc(l->fds, (size_t)n * sizeof *nf);
	if (!nf)
		return -1;
	memset(nf + l->nfds, 0, (size_t)(n - l->nfds) * sizeof *nf);
	l->fds = nf;
	l->nfds = n;
	return 0;
}

int nx_loop_add(struct nx_loop *l, int fd, unsigned events, nx_io_cb cb, void *arg)
{
	if (fd < 0 || grow_fds(l, fd) < 0) {
		errno = fd < 0 ? EBADF : ENOMEM;
		return -1;
	}
	struct fd_slot *s = &l->fds[fd];
	s->gen++;
	struct epoll_event ev = {.events = ep_events(events),
	                         .data.u64 = (uint64_t)(uint32_t)fd | ((uint64_t)s->gen << 32)};
	if (events && epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -1;
	s->cb = cb;
	s->arg = arg;
	s->events = events;
	return 0;
}

int nx_loop_mod(struct nx_loop *l, int fd, unsigned events)
{
	if (fd < 0 || fd >= l->nfds || !l->fds[fd].cb) {
		errno = EBADF;
		return -1;
	}
	struct fd_slot *s = &l->fds[fd];
	if (s->events == events)
		return 0;
	/* No interest at all: leave the epoll set, or a hung-up peer (EPOLLHUP is always
	 * reported) would wake a level-triggered loop forever. */
	struct epoll_event ev = {.events = ep_events(events),
	                         .data.u64 = (uint64_t)(uint32_t)fd | ((uint64_t)s->gen << 32)};
	int op = !events ? EPOLL_CTL_DEL : !s->events ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	if (epoll_ctl(l->epfd, op, fd, &ev) < 0)
		return -1;
	s->events = events;
	return 0;
}

void nx_loop_del(struct nx_loop *l, int fd)
{
	if (fd < 0 || fd >= l->nfds || !l->fds[fd].cb)
		return;
	if (l->fds[fd].events)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	l->fds[fd].cb = NULL;
	l->fds[fd].arg = NULL;
	l->fds[fd].events = 0;
	l->fds[fd].gen++;
}

int nx_loop_watches(const struct nx_loop *l, int fd, nx_io_cb cb, const void *arg)
{
	return fd >= 0 && fd < l->nfds && l->fds[fd].cb == cb && l->fds[fd].arg == arg;
}

unsigned nx_loop_events(const struct nx_loop *l, int fd)
{
	if (fd < 0 || fd >= l->nfds || !l->fds[fd].cb)
		return 0;
	return l->fds[fd].events;
}

/* ---- timers: binary min-heap on deadline ---- */

static void heap_set(struct nx_loop *l, size_t i, struct nx_timer *t)
{
	l->heap[i] = t;
	t->heap_idx = i;
}

static void heap_up(struct nx_loop *l, size_t i)
{
	struct nx_timer *t = l->heap[i];
	while (i > 1 && l->heap[i / 2]->deadline > t->deadline) {
		heap_set(l, i, l->heap[i / 2]);
		i /= 2;
	}
	heap_set(l, i, t);
}

static void heap_down(struct nx_loop *l, size_t i)
{
	struct nx_timer *t = l->heap[i];
	for (;;) {
		size_t c = i * 2;
		if (c > l->heap_len)
			break;
		if (c + 1 <= l->heap_len && l->heap[c + 1]->deadline < l->heap[c]->deadline)
			c++;
		if (l->heap[c]->deadline >= t->deadline)
			break;
		heap_set(l, i, l->heap[c]);
		i = c;
	}
	heap_set(l, i, t);
}

void nx_timer_stop(struct nx_loop *l, struct nx_timer *t)
{
	size_t i = t->heap_idx;
	if (!i)
		return;
	t->heap_idx = 0;
	struct nx_timer *last = l->heap[l->heap_len--];
	if (last == t)
		return;
	heap_set(l, i, last);
	heap_up(l, i);
	heap_down(l, last->heap_idx);
}

void nx_timer_start(struct nx_loop *l, struct nx_timer *t, uint64_t delay_ms, nx_timer_cb cb,
                    void *arg)
{
	nx_timer_stop(l, t);
	if (l->heap_len + 1 >= l->heap_cap) {
		size_t ncap = l->heap_cap ? l->heap_cap * 2 : 64;
		struct nx_timer **nh = realloc(l->heap, ncap * sizeof *nh);
		if (!nh)
			abort(); /* a timer that silently never fires is worse than dying */
		l->heap = nh;
		l->heap_cap = ncap;
	}
	t->deadline = nx_now_ms() + delay_ms;
	t->cb = cb;
	t->arg = arg;
	l->heap[++l->heap_len] = t;
	heap_up(l, l->heap_len);
}

static void run_timers(struct nx_loop *l)
{
	while (l->heap_len && l->heap[1]->deadline <= l->now && !l->stop) {
		struct nx_timer *t = l->heap[1];
		nx_timer_stop(l, t);
		t->cb(l, t->arg);
	}
}

/* ---- signals ---- */

static void on_signalfd(struct nx_loop *l, int fd, unsigned ev, void *arg)
{
	struct signalfd_siginfo si;
	while (read(fd, &si, sizeof si) == (ssize_t)sizeof si)
		l->sig_cb(l, (int)si.ssi_signo, l->sig_arg);
}

int nx_loop_signals(struct nx_loop *l, const int *signals, int n, nx_signal_cb cb, void *arg,
                    char *err, size_t errlen)
{
	sigset_t set;
	sigemptyset(&set);
	for (int i = 0; i < n; i++)
		sigaddset(&set, signals[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return nx_err(err, errlen, "sigprocmask: %s", strerror(errno));
	l->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (l->sigfd < 0)
		return nx_err(err, errlen, "signalfd: %s", strerror(errno));
	l->sig_cb = cb;
	l->sig_arg = arg;
	if (nx_loop_add(l, l->sigfd, NX_EV_READ, on_signalfd, NULL) < 0)
		return nx_err(err, errlen, "epoll: %s", strerror(errno));
	return 0;
}

/* ---- the loop ---- */

int nx_loop_run(struct nx_loop *l)
{
	struct epoll_event evs[256];
	l->stop = 0;
	while (!l->stop) {
		l->now = nx_now_ms();
		int timeout = -1;
		if (l->heap_len) {
			uint64_t d = l->heap[1]->deadline;
			timeout = d <= l->now ? 0 : (int)(d - l->now > 3600000 ? 3600000 : d - l->now);
		}
		if (l->unlock)
			l->unlock(l->lock_arg);
		int n = epoll_wait(l->epfd, evs, 256, timeout);
		int e = errno;
		if (l->lock)
			l->lock(l->lock_arg);
		if (n < 0 && e != EINTR)
			return -1;
		l->now = nx_now_ms();
		if (n > 0 && l->wake_cb)
			l->wake_cb(l, l->wake_arg);
		for (int i = 0; i < n && !l->stop; i++) {
			int fd = (int)(uint32_t)evs[i].data.u64;
			uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
			if (fd >= l->nfds || !l->fds[fd].cb || l->fds[fd].gen != gen)
				continue;
			uint32_t e = evs[i].events;
			unsigned got = 0;
			if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
				got |= NX_EV_READ;
			if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
				got |= NX_EV_WRITE;
			if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
				got |= NX_EV_HUP;
			got &= l->fds[fd].events;
			if (got)
				l->fds[fd].cb(l, fd, got, l->fds[fd].arg);
		}
		/* A "soon" (0 ms) timer set by this batch is due now, even if the clock passed a
		 * millisecond meanwhile: without this it cost an extra epoll_wait round. */
		if (n > 0)
			l->now = nx_now_ms();
		run_timers(l);
	}
	return 0;
}

void nx_loop_stop(struct nx_loop *l) { l->stop = 1; }

void nx_loop_set_lock(struct nx_loop *l, void (*lock)(void *), void (*unlock)(void *), void *arg)
{
	l->lock = lock;
	l->unlock = unlock;
	l->lock_arg = arg;
}

void nx_loop_on_wake(struct nx_loop *l, nx_timer_cb cb, void *arg)
{
	l->wake_cb = cb;
	l->wake_arg = arg;
}

uint64_t nx_loop_now(const struct nx_loop *l) { return l->now; }
