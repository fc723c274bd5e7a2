/* pump.c — see pump.h. */
#include "wire/pump.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void on_io(struct nx_loop *loop, int fd, unsigned events, void *arg);

void nx_pump_init(struct nx_pump *p, struct nx_loop *loop, int a, int b, nx_pump_done_cb done,
                  void *arg)
{
	/* The buffers are not cleared: 128 KiB of memset per connection buys nothing. */
	for (int i = 0; i < 2; i++) {
		p->dir[i].start = p->dir[i].end = 0;
		p->dir[i].bytes = 0;
		p->dir[i].eof = p->dir[i].shut = 0;
		p->dir[i].spliced = p->dir[i].pipe_full = 0;
		p->dir[i].pipe[0] = p->dir[i].pipe[1] = -1;
		p->dir[i].in_pipe = 0;
	}
	p->use_splice = 0;
	p->loop = loop;
	p->fd[0] = a;
	p->fd[1] = b;
	p->done = done;
	p->arg = arg;
	p->idle_ms = 0;
	p->last_active = 0;
	memset(&p->idle, 0, sizeof p->idle);
	p->running = 0;
	p->error_where = NULL;
}

int nx_pump_preload(struct nx_pump *p, int dir, const void *data, size_t len)
{
	struct nx_pump_dir *d = &p->dir[dir & 1];
	if (p->running || len > NX_PUMP_BUFSZ - d->end)
		return -1;
	memcpy(d->buf + d->end, data, len);
	d->end += len;
	return 0;
}

/* The pipe's capacity is counted in pages, not bytes: stop filling at the default 64 KiB and
 * also whenever the kernel says it is full (pipe_full). */
#define PIPE_BYTES (64 * 1024)

static int dir_has_room(const struct nx_pump_dir *d)
{
	if (d->spliced)
		return d->in_pipe < PIPE_BYTES && !d->pipe_full;
	return d->end < NX_PUMP_BUFSZ;
}

static int dir_pending(const struct nx_pump_dir *d)
{
	return d->spliced ? d->in_pipe > 0 : d->start < d->end;
}

static unsigned interest(const struct nx_pump *p, int i)
{
	const struct nx_pump_dir *in = &p->dir[i], *out = &p->dir[1 - i];
	unsigned ev = 0;
	if (!in->eof && dir_has_room(in))
		ev |= NX_EV_READ;
	if (dir_pending(out))
		ev |= NX_EV_WRITE;
	return ev;
}

static void close_pipes(struct nx_pump *p)
{
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < 2; k++)
			if (p->dir[i].pipe[k] >= 0) {
				close(p->dir[i].pipe[k]);
				p->dir[i].pipe[k] = -1;
			}
}

static void update_interest(struct nx_pump *p)
{
	for (int i = 0; i < 2; i++) {
		unsigned want = interest(p, i);
		if (nx_loop_events(p->loop, p->fd[i]) != want)
			nx_loop_mod(p->loop, p->fd[i], want);
	}
}

void nx_pump_stop(struct nx_pump *p)
{
	if (!p->running)
		return;
	p->running = 0;
	nx_loop_del(p->loop, p->fd[0]);
	nx_loop_del(p->loop, p->fd[1]);
	nx_timer_stop(p->loop, &p->idle);
	close_pipes(p);
}

static void finish(struct nx_pump *p, int error, const char *where)
{
	nx_pump_stop(p);
	p->error_where = error ? where : NULL;
	p->done(p, error, p->arg); /* may free p */
}

/* Write what dir[i] holds to fd[1 - i]. Returns 0, or an errno. */
static int flush_dir(struct nx_pump *p, int i)
{
	struct nx_pump_dir *d = &p->dir[i];
	while (d->spliced && d->in_pipe > 0) {
		ssize_t n = splice(d->pipe[0], NULL, p->fd[1 - i], NULL, d->in_pipe,
		                   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return errno;
		}
		d->in_pipe -= (size_t)n;
		d->bytes += (uint64_t)n;
		d->pipe_full = 0;
		p->last_active = nx_loop_now(p->loop);
	}
	while (d->start < d->end) {
		ssize_t n = send(p->fd[1 - i], d->buf + d->start, d->end - d->start, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return errno;
		}
		d->start += (size_t)n;
		d->bytes += (uint64_t)n;
		p->last_active = nx_loop_now(p->loop);
	}
	if (d->start == d->end)
		d->start = d->end = 0;
	/* Forward the EOF only once every byte read before it is out. */
	if (d->eof && d->start == d->end && d->in_pipe == 0 && !d->shut) {
		shutdown(p->fd[1 - i], SHUT_WR);
		d->shut = 1;
	}
	return 0;
}

/* Read from fd[i] into dir[i] while there is room. Returns 0, or an errno. */
static int fill_dir(struct nx_pump *p, int i)
{
	struct nx_pump_dir *d = &p->dir[i];
	if (d->eof)
		return 0;
	/* Userland buffer empty: from now on this direction splices (if asked to and pipes can
	 * be had; without them it just stays in userland). */
	if (p->use_splice && !d->spliced && d->start == d->end &&
	    pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) == 0)
		d->spliced = 1;
	if (d->spliced) {
		if (!dir_has_room(d))
			return 0;
		ssize_t n;
		do
			n = splice(p->fd[i], NULL, d->pipe[1], NULL, PIPE_BYTES - d->in_pipe,
			           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return errno;
			/* EAGAIN with bytes already in the pipe: the pipe is what is full (its slots
			 * hold partial pages). With an empty pipe it is the socket that has nothing. */
			if (d->in_pipe > 0)
				d->pipe_full = 1;
			return 0;
		}
		if (n == 0)
			d->eof = 1;
		d->in_pipe += (size_t)n;
		p->last_active = nx_loop_now(p->loop);
		return 0;
	}
	if (d->end == NX_PUMP_BUFSZ && d->start > 0) {
		memmove(d->buf, d->buf + d->start, d->end - d->start);
		d->end -= d->start;
		d->start = 0;
	}
	/* One read per event: a fast sender must not starve the other direction. */
	if (d->end < NX_PUMP_BUFSZ) {
		ssize_t n;
		do
			n = read(p->fd[i], d->buf + d->end, NX_PUMP_BUFSZ - d->end);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : errno;
		if (n == 0)
			d->eof = 1;
		d->end += (size_t)n;
		p->last_active = nx_loop_now(p->loop);
	}
	return 0;
}

static const char *where_names[2][2] = {{"read a", "write b"}, {"read b", "write a"}};

static void on_io(struct nx_loop *loop, int fd, unsigned events, void *arg)
{
	struct nx_pump *p = arg;
	int i = fd == p->fd[0] ? 0 : 1;
	int e;
	if (events & NX_EV_WRITE) {
		/* fd[i] is writable: it is the destination of dir[1 - i] */
		if ((e = flush_dir(p, 1 - i)) != 0)
			return finish(p, e, where_names[1 - i][1]);
	}
	if (events & NX_EV_READ) {
		if ((e = fill_dir(p, i)) != 0)
			return finish(p, e, where_names[i][0]);
		/* optimistic write: usually the destination has room, saving a poll round */
		if ((e = flush_dir(p, i)) != 0)
			return finish(p, e, where_names[i][1]);
	}
	if (p->dir[0].shut && p->dir[1].shut)
		return finish(p, 0, NULL);
	update_interest(p);
}

static void on_idle(struct nx_loop *loop, void *arg)
{
	struct nx_pump *p = arg;
	uint64_t now = nx_loop_now(loop), quiet = now - p->last_active;
	if (quiet >= p->idle_ms)
		return finish(p, ETIMEDOUT, "idle");
	nx_timer_start(loop, &p->idle, p->idle_ms - quiet, on_idle, p);
}

void nx_pump_set_idle(struct nx_pump *p, uint64_t idle_ms) { p->idle_ms = idle_ms; }

void nx_pump_set_splice(struct nx_pump *p, int on) { p->use_splice = on; }

int nx_pump_start(struct nx_pump *p, char *err, size_t errlen)
{
	for (int i = 0; i < 2; i++) {
		if (nx_loop_add(p->loop, p->fd[i], interest(p, i), on_io, p) < 0) {
			if (i)
				nx_loop_del(p->loop, p->fd[0]);
			return nx_err(err, errlen, "pump: cannot watch fd %d: %s", p->fd[i],
			              strerror(errno));
		}
	}
	p->running = 1;
	p->last_active = nx_loop_now(p->loop);
	if (p->idle_ms)
		nx_timer_start(p->loop, &p->idle, p->idle_ms, on_idle, p);
	return 0;
}
