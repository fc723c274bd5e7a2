/* loop.h — the event loop: epoll (level-triggered), timers, signals. Single-threaded.
 *
 * File descriptors: register once with the events you want (NX_EV_READ / NX_EV_WRITE), change
 * the interest with nx_loop_mod() as buffers fill and drain (a reader leaves the poll set
 * while its buffer is full — that is all backpressure is), remove before close(). Errors and
 * hang-ups are reported as readable and writable, so the handler finds them with read/write.
 * A callback may add, modify or remove any fd, including its own; an fd removed during a
 * dispatch round gets no further callbacks in that round.
 *
 * Timers are owned by the caller (embed a struct nx_timer in your object): no allocation, no
 * stale handles. nx_timer_stop() on an inactive timer is a no-op; a timer may be restarted
 * from its own callback. */
#ifndef NEXUS_LOOP_H
#define NEXUS_LOOP_H
#include <stddef.h>
#include <stdint.h>

struct nx_loop;

/* NX_EV_HUP: only the peer's hang-up (FIN, reset), for an fd whose reading is paused; it
 * stays reported while the condition lasts (level-triggered), so drop it once noticed. */
enum { NX_EV_READ = 1u, NX_EV_WRITE = 2u, NX_EV_HUP = 4u };

typedef void (*nx_io_cb)(struct nx_loop *loop, int fd, unsigned events, void *arg);
typedef void (*nx_timer_cb)(struct nx_loop *loop, void *arg);
typedef void (*nx_signal_cb)(struct nx_loop *loop, int signo, void *arg);

struct nx_timer {
	uint64_t deadline; /* monotonic ms */
	size_t heap_idx;   /* 0 = inactive; else 1-based index in the loop's heap */
	nx_timer_cb cb;
	void *arg;
};

struct nx_loop *nx_loop_new(char *err, size_t errlen);
void nx_loop_free(struct nx_loop *loop);

int nx_loop_add(struct nx_loop *loop, int fd, unsigned events, nx_io_cb cb, void *arg);
int nx_loop_mod(struct nx_loop *loop, int fd, unsigned events);
void nx_loop_del(struct nx_loop *loop, int fd);
/* 1 while fd is known to the loop with this callback and argument (watched or not). */
int nx_loop_watches(const struct nx_loop *loop, int fd, nx_io_cb cb, const void *arg);
/* The interest currently registered for fd (0 if none or not registered). */
unsigned nx_loop_events(const struct nx_loop *loop, int fd);

void nx_timer_start(struct nx_loop *loop, struct nx_timer *t, uint64_t delay_ms, nx_timer_cb cb,
                    void *arg);
void nx_timer_stop(struct nx_loop *loop, struct nx_timer *t);
static inline int nx_timer_active(const struct nx_timer *t) { return t->heap_idx != 0; }

/* Block these signals and deliver them through the loop (signalfd). Once per loop. */
int nx_loop_signals(struct nx_loop *loop, const int *signals, int n, nx_signal_cb cb, void *arg,
                    char *err, size_t errlen);

/* A loop run by a thread whose objects another thread may touch: unlock(arg) just before
 * it blocks in epoll_wait, lock(arg) right after, so the other thread takes the lock only
 * while this one sleeps (or between its rounds). NULL hooks: none (the default). */
void nx_loop_set_lock(struct nx_loop *loop, void (*lock)(void *), void (*unlock)(void *),
                      void *arg);

/* cb(loop, arg) once per round in which epoll_wait returned events, before their callbacks
 * (an fd it removes gets none): a place to look at what was left unwatched on purpose
 * since the last round. One per loop; NULL removes it. */
void nx_loop_on_wake(struct nx_loop *loop, nx_timer_cb cb, void *arg);

/* Run until nx_loop_stop(). Returns 0, or -1 if epoll itself failed. */
int nx_loop_run(struct nx_loop *loop);
void nx_loop_stop(struct nx_loop *loop);

/* The loop's cached monotonic time in ms (updated once per round). */
uint64_t nx_loop_now(const struct nx_loop *loop);

#endif
