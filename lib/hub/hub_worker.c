/* hub_worker.c — nexus-hub --workers N: N threads carry the live backend sessions and their
 * streams, so the data path (TLS records, WebSocket frames, end-user sockets) uses N cores.
 *
 * The main thread keeps everything before a session is live and everything shared: the
 * listeners and their fd guard, the pre-authentication caps, TLS handshakes, the upgrade,
 * both token stages, the relay socket, --metrics, reload, ACME, mesh and UDP ports. Once a
 * session is authenticated it goes, with its TLS engine and the bytes read behind its token,
 * to the worker carrying the fewest sessions; the worker registers its routes in the one
 * route table (WRR and --exclusive-hostnames see every worker's sessions) and serves it.
 *
 * A relay handoff is read on the main thread: the route is picked under the table's lock,
 * the session's refs taken so it outlives the trip, the fd posted to the session's worker
 * and the relay told OK at once (no second wake-up of the main thread per connection). If
 * the stream cannot be opened after all (its session ended on the way, its grant's
 * streams= is reached), the worker answers the client busy itself, as the relay would. A
 * worker with HANDOFF_PAUSE handoffs waiting makes the main thread stop reading the relay
 * until it is below HANDOFF_RESUME again.
 *
 * Locks: each worker holds its own `mu` except while it sleeps in epoll_wait; the main
 * thread takes every worker's `mu` (hub_workers_lock) to touch their sessions — reload, the
 * backends file, metrics — and hands them the new keys and settings as it lets go. Order:
 * a worker's mu before the routes lock; the inbox lock and the routes lock are leaves.
 * Sessions of mesh hubs, of hubs with --verify-url, and sessions that claim UDP ports stay
 * on the main thread: those paths reach state only it has. */
#include "hub/hub_int.h"
#include "core/log.h"
#include "core/util.h"
#include "wire/handoff.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum msg_kind { MSG_ADOPT, MSG_HANDOFF, MSG_STOP };

struct hub_msg {
	struct hub_msg *next;
	enum msg_kind kind;
	struct hub_session *s;
	int fd;
	struct nx_handoff h;
};

#define HANDOFF_PAUSE 1024 /* handoffs waiting in one worker's inbox: stop reading relays */
#define HANDOFF_RESUME 256 /* and go on below this */

struct hub_worker {
	struct nx_hub *hub;     /* its own: loop, sessions, streams, counters */
	struct nx_hub *main;
	pthread_t thread;
	int started;
	pthread_mutex_t mu;     /* held by the thread except while it sleeps */
	pthread_mutex_t in_mu;  /* the inbox */
	struct hub_msg *in_head, *in_tail;
	int efd;                /* eventfd: the inbox has something */
	size_t load;            /* sessions assigned to it and not dead (atomic) */
	size_t backlog;         /* handoffs posted, not yet taken (atomic) */
	int main_waits;         /* the main thread paused relays for it (atomic) */
	int running;            /* the thread holds mu and runs its loop (atomic) */
};

static void poke(int efd)
{
	uint64_t one = 1;
	ssize_t w = write(efd, &one, sizeof one); /* a full counter is a wake-up already */
	(void)w;
}

static void drain(int efd)
{
	uint64_t n;
	ssize_t r = read(efd, &n, sizeof n);
	(void)r;
}

/* ---- relays paused for a busy worker -------------------------------------------------- */

static void on_resume(struct nx_loop *loop, int fd, unsigned events, void *arg)
{
	drain(fd);
	hub_relay_resume_all(arg);
}

/* ---- the inbox ------------------------------------------------------------------------- */

static void post(struct hub_worker *w, struct hub_msg *m)
{
	m->next = NULL;
	pthread_mutex_lock(&w->in_mu);
	int was_empty = !w->in_tail;
	if (w->in_tail)
		w->in_tail->next = m;
	else
		w->in_head = m;
	w->in_tail = m;
	pthread_mutex_unlock(&w->in_mu);
	/* A non-empty inbox has a wake-up on the way already: on_inbox drains the eventfd
	 * before it takes the list, so it takes this one too (a write saved per handoff in
	 * a burst). */
	if (was_empty)
		poke(w->efd);
}

static void handoff(struct hub_worker *w, struct hub_msg *m)
{
	struct hub_session *s = m->s;
	/* The relay was told OK: a stream that cannot be had is ours to say no to. */
	if (s->dead || s->state != SESS_LIVE || !hub_backends_stream_allowed(s)) {
		w->hub->ctr.handoff_busy++;
		hub_streams_release(w->hub, m->h.client_addr); /* take_client counted it */
		hub_answer_client(w->hub, m->fd, &m->h, NX_HANDOFF_BUSY);
	} else {
		hub_take_stream(s, m->fd, &m->h); /* only out of memory fails here now */
	}
	free(m->h.prelude);
	if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0 && s->dead)
		hub_schedule_reap(w->hub);
	if (__atomic_sub_fetch(&w->backlog, 1, __ATOMIC_SEQ_CST) < HANDOFF_RESUME &&
	    __atomic_exchange_n(&w->main_waits, 0, __ATOMIC_SEQ_CST))
		poke(w->main->resume_efd);
}

static void on_inbox(struct nx_loop *loop, int fd, unsigned events, void *arg)
{
	struct hub_worker *w = arg;
	drain(fd);
	pthread_mutex_lock(&w->in_mu);
	struct hub_msg *m = w->in_head;
	w->in_head = w->in_tail = NULL;
	pthread_mutex_unlock(&w->in_mu);
	while (m) {
		struct hub_msg *next = m->next;
		switch (m->kind) {
		case MSG_ADOPT:
			hub_session_adopt(w->hub, m->s);
			break;
		case MSG_HANDOFF:
			handoff(w, m);
			break;
		case MSG_STOP:
			nx_loop_stop(loop);
			break;
		}
		free(m);
		m = next;
	}
}

/* ---- moving sessions ------------------------------------------------------------------- */

static struct hub_worker *least_loaded(struct nx_hub *hub)
{
	struct hub_worker *best = NULL;
	size_t best_load = SIZE_MAX;
	for (size_t i = 0; i < hub->n_workers; i++) {
		size_t l = __atomic_load_n(&hub->workers[i]->load, __ATOMIC_RELAXED);
		if (l < best_load) {
			best = hub->workers[i];
			best_load = l;
		}
	}
	return best;
}

/* On the main loop, after the round that authenticated s: nothing of the main thread
 * refers to it any more, then it goes. */
static void move_now(struct nx_loop *loop, void *arg)
{
	struct hub_session *s = arg;
	struct nx_hub *hub = s->hub;
	if (s->dead)
		return;
	struct hub_msg *m = calloc(1, sizeof *m);
	if (!m) {
		hub_session_kill(s, "out of memory");
		return;
	}
	nx_loop_del(loop, s->fd);
	nx_timer_stop(loop, &s->auth_timer);
	nx_timer_stop(loop, &s->ping_timer);
	nx_timer_stop(loop, &s->idle_timer);
	nx_timer_stop(loop, &s->reauth_timer);
	nx_timer_stop(loop, &s->read_timer);
	nx_timer_stop(loop, &s->flush_timer);
	hub_sessions_remove(hub, s);
	m->kind = MSG_ADOPT;
	m->s = s;
	post(s->worker, m);
}

int hub_worker_move(struct hub_session *s)
{
	struct nx_hub *hub = s->hub;
	if (!hub->n_workers || hub->main_hub || s->mesh || s->claims.n_udp_routes)
		return 0;
	struct hub_worker *w = least_loaded(hub);
	s->worker = w;
	__atomic_add_fetch(&w->load, 1, __ATOMIC_RELAXED);
	s->moving = 1;
	hub_session_unpend(s);
	nx_timer_stop(hub->loop, &s->auth_timer);
	nx_timer_start(hub->loop, &s->read_timer, 0, move_now, s);
	return 1;
}

void hub_worker_session_gone(struct hub_session *s)
{
	if (s->worker)
		__atomic_sub_fetch(&s->worker->load, 1, __ATOMIC_RELAXED);
}

int hub_worker_handoff(struct hub_session *s, int fd, struct nx_handoff *h)
{
	struct hub_worker *w = s->worker;
	struct hub_msg *m = calloc(1, sizeof *m);
	if (!m) {
		close(fd);
		hub_streams_release(w->main, h->client_addr);
		/* a session that died meanwhile goes with its worker's next reap */
		__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
		w->main->ctr.handoff_busy++; /* we are on the main thread */
		return NX_HANDOFF_BUSY;
	}
	m->kind = MSG_HANDOFF;
	m->s = s;
	m->fd = fd;
	m->h = *h;
	h->prelude = NULL; /* the worker frees it */
	__atomic_add_fetch(&w->backlog, 1, __ATOMIC_SEQ_CST);
	post(w, m);
	return NX_HANDOFF_OK;
}

int hub_worker_behind(struct hub_session *s)
{
	struct hub_worker *w = s->worker;
	if (__atomic_load_n(&w->backlog, __ATOMIC_SEQ_CST) < HANDOFF_PAUSE)
		return 0;
	/* say we wait, then look again: a worker that got below the mark before it could see
	 * the flag must not leave the relays paused for ever */
	__atomic_store_n(&w->main_waits, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&w->backlog, __ATOMIC_SEQ_CST) >= HANDOFF_RESUME)
		return 1;
	/* below again: pause only if the worker took the flag (its poke is on the way) */
	return !__atomic_exchange_n(&w->main_waits, 0, __ATOMIC_SEQ_CST);
}

/* ---- locks ----------------------------------------------------------------------------- */

static void lock_mu(void *arg) { pthread_mutex_lock(arg); }
static void unlock_mu(void *arg) { pthread_mutex_unlock(arg); }

void hub_workers_lock(struct nx_hub *hub)
{
	for (size_t i = 0; i < hub->n_workers; i++)
		pthread_mutex_lock(&hub->workers[i]->mu);
}

void hub_workers_unlock(struct nx_hub *hub)
{
	for (size_t i = 0; i < hub->n_workers; i++) {
		struct hub_worker *w = hub->workers[i];
		struct nx_hub *wh = w->hub;
		/* what a reload may have changed: the settings, the key, the backends file */
		wh->cfg = hub->cfg;
		wh->key = hub->key;
		wh->backends = hub->backends;
		pthread_mutex_unlock(&w->mu);
		poke(w->efd); /* it may have new timers to wait for */
	}
}

/* fork() with every worker parked in epoll_wait (or waiting for its mu), so none holds a
 * lock of the allocator, the C library or ours that the child would find taken forever.
 * The child must not use the workers (it inherits their mutexes locked). */
pid_t hub_fork(struct nx_hub *hub)
{
	hub_workers_lock(hub);
	pid_t pid = fork();
	if (pid != 0)
		hub_workers_unlock(hub);
	return pid;
}

struct nx_hub *hub_each(struct nx_hub *hub, size_t i)
{
	if (!i)
		return hub;
	return i <= hub->n_workers ? hub->workers[i - 1]->hub : NULL;
}

/* ---- start and stop -------------------------------------------------------------------- */

static void *worker_main(void *arg)
{
	struct hub_worker *w = arg;
	pthread_mutex_lock(&w->mu);
	__atomic_store_n(&w->running, 1, __ATOMIC_RELEASE);
	nx_loop_run(w->hub->loop);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void worker_free(struct hub_worker *w)
{
	if (!w)
		return;
	if (w->started) {
		struct hub_msg *m = calloc(1, sizeof *m);
		if (m) {
			m->kind = MSG_STOP;
			post(w, m);
		} else { /* no memory for the message: the flag is read once a round */
			pthread_mutex_lock(&w->mu);
			nx_loop_stop(w->hub->loop);
			pthread_mutex_unlock(&w->mu);
			poke(w->efd);
		}
		pthread_join(w->thread, NULL); /* it ran every message before STOP */
	}
	if (w->hub) {
		struct nx_loop *loop = w->hub->loop;
		if (w->efd >= 0)
			nx_loop_del(loop, w->efd);
		nx_hub_free(w->hub); /* its sessions end, leaving the route table */
		nx_loop_free(loop);
	}
	if (w->efd >= 0)
		close(w->efd);
	pthread_mutex_destroy(&w->mu);
	pthread_mutex_destroy(&w->in_mu);
	free(w);
}

static struct hub_worker *worker_new(struct nx_hub *main, unsigned index, char *err,
                                     size_t errlen)
{
	struct hub_worker *w = calloc(1, sizeof *w);
	if (!w) {
		nx_err(err, errlen, "out of memory");
		return NULL;
	}
	w->main = main;
	w->efd = -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_mutex_init(&w->in_mu, NULL);
	struct nx_hub *h = calloc(1, sizeof *h);
	struct nx_loop *loop = h ? nx_loop_new(err, errlen) : NULL;
	if (!loop) {
		free(h);
		if (!h)
			nx_err(err, errlen, "out of memory");
		worker_free(w);
		return NULL;
	}
	w->hub = h;
	h->loop = loop;
	h->cfg = main->cfg;
	h->main_hub = main;
	h->worker_index = index;
	h->routes = main->routes;
	h->routes_mu = main->routes_mu;
	h->key = main->key;
	h->backends = main->backends;
	h->backend_l.fd = h->relay_l.fd = -1;
	h->resume_efd = -1;
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0 || nx_loop_add(loop, w->efd, NX_EV_READ, on_inbox, w) < 0) {
		nx_err(err, errlen, "worker %u: eventfd: %s", index, strerror(errno));
		worker_free(w);
		return NULL;
	}
	nx_loop_set_lock(loop, lock_mu, unlock_mu, &w->mu);
	/* The thread takes no signals: the main loop reads them through its signalfd. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		nx_err(err, errlen, "worker %u: cannot start a thread: %s", index, strerror(rc));
		worker_free(w);
		return NULL;
	}
	w->started = 1;
	/* Past its start-up (the C library's and a sanitizer's allocations for a new thread),
	 * a worker touches nothing shared without its mu: what hub_fork relies on. */
	while (!__atomic_load_n(&w->running, __ATOMIC_ACQUIRE))
		sched_yield();
	char name[16]; /* for top -H, ps -L and /proc/PID/task/TID/comm */
	snprintf(name, sizeof name, "nexus-hub/w%u", index % 1000);
	pthread_setname_np(w->thread, name);
	return w;
}

int hub_workers_open(struct nx_hub *hub, char *err, size_t errlen)
{
	unsigned n = hub->cfg.workers;
	if (n <= 1)
		return 0;
	const char *why = hub->cfg.n_peers || hub->cfg.peer_secret_file ? "mesh"
	                  : hub->cfg.verify_url                         ? "--verify-url"
	                                                                : NULL;
	if (why) {
		hub_log(hub, NX_LOG_WARN, "workers not used", "workers=%u reason=\"%s: sessions stay on "
		        "the main thread\"", n, why);
		return 0;
	}
	hub->resume_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (hub->resume_efd < 0 || nx_loop_add(hub->loop, hub->resume_efd, NX_EV_READ, on_resume,
	                                       hub) < 0)
		return nx_err(err, errlen, "workers: eventfd: %s", strerror(errno));
	hub->workers = calloc(n, sizeof *hub->workers);
	if (!hub->workers)
		return nx_err(err, errlen, "out of memory");
	for (unsigned i = 0; i < n; i++) {
		if (!(hub->workers[i] = worker_new(hub, i + 1, err, errlen)))
			return -1;
		hub->n_workers++;
	}
	return 0;
}

void hub_workers_close(struct nx_hub *hub)
{
	for (size_t i = 0; i < hub->n_workers; i++)
		worker_free(hub->workers[i]);
	free(hub->workers);
	hub->workers = NULL;
	hub->n_workers = 0;
	if (hub->resume_efd >= 0) {
		nx_loop_del(hub->loop, hub->resume_efd);
		close(hub->resume_efd);
		hub->resume_efd = -1;
	}
}
