/* pump.h — copy bytes both ways between two connected sockets, driven by lib/loop.
 *
 * In the spirit of OpenBSD nc's readwrite(): one fixed buffer per direction inside the
 * struct (no heap once it is set up), a reader leaves the poll set while its buffer is full
 * (that is all backpressure is: the kernel's window then pushes back on the sender), and an
 * EOF is forwarded as shutdown(SHUT_WR) once everything read before it has been written, so
 * a client that half-closes after its request still gets the whole reply.
 *
 *   struct nx_pump *p = malloc(sizeof *p);          // ~128 KiB: allocate once per connection
 *   nx_pump_init(p, loop, client_fd, backend_fd, on_done, ctx);
 *   nx_pump_preload(p, 0, prelude, prelude_len);    // optional: bytes already read from fd a
 *   nx_pump_start(p, err, sizeof err);
 *   ...  on_done(p, error, ctx) runs once, after both fds have left the loop: close them and
 *        free p there (the pump never closes the fds it was given).
 *
 * With nx_pump_set_splice(p, 1), a direction whose userland buffer is empty switches to
 * splice(2) through a pipe of its own (socket → pipe → socket, the bytes never enter user
 * space), like relayd. Same backpressure and half-close rules; costs two fds per direction.
 *
 * Direction 0 is a → b, direction 1 is b → a. The pump is done when both directions have
 * seen EOF and forwarded it, on the first read/write error (error = errno), or when the idle
 * timeout passes with no bytes moving either way (error = ETIMEDOUT). */
#ifndef NEXUS_PUMP_H
#define NEXUS_PUMP_H
#include <stddef.h>
#include <stdint.h>

#include "core/loop.h"

#define NX_PUMP_BUFSZ (64 * 1024)

struct nx_pump;
typedef void (*nx_pump_done_cb)(struct nx_pump *p, int error, void *arg);

struct nx_pump_dir {
	unsigned char buf[NX_PUMP_BUFSZ];
	size_t start, end; /* pending bytes: buf[start..end) */
	uint64_t bytes;    /* bytes written to the destination so far */
	uint8_t eof;       /* the source gave EOF: read no more */
	uint8_t shut;      /* EOF forwarded: shutdown(dest, SHUT_WR) done */
	uint8_t spliced;   /* moving bytes with splice(2) through pipe[] */
	uint8_t pipe_full; /* the pipe took nothing more: stop reading until it drains */
	int pipe[2];
	size_t in_pipe;    /* bytes in the pipe, not yet written to the destination */
};

struct nx_pump {
	struct nx_loop *loop;
	int fd[2];
	struct nx_pump_dir dir[2]; /* dir[i] reads fd[i] and writes fd[1 - i] */
	nx_pump_done_cb done;
	void *arg;
	uint64_t idle_ms, last_active;
	struct nx_timer idle;
	int running;
	int use_splice;
	const char *error_where; /* on error: "read a", "write b", ... */
};

void nx_pump_init(struct nx_pump *p, struct nx_loop *loop, int a, int b, nx_pump_done_cb done,
                  void *arg);
/* Queue bytes to be written in direction dir (0: to b, 1: to a) before anything read.
 * Only before nx_pump_start. Returns 0, or -1 when they do not fit in NX_PUMP_BUFSZ. */
int nx_pump_preload(struct nx_pump *p, int dir, const void *data, size_t len);
/* Finish the pump with ETIMEDOUT after idle_ms without traffic (0 = never, the default). */
void nx_pump_set_idle(struct nx_pump *p, uint64_t idle_ms);
/* Use splice(2) once a direction's userland buffer is empty (default off). */
void nx_pump_set_splice(struct nx_pump *p, int on);
/* Register both fds with the loop. Returns 0 or -1 (err filled). */
int nx_pump_start(struct nx_pump *p, char *err, size_t errlen);
/* Take both fds out of the loop without calling done (e.g. at shutdown). Idempotent. */
void nx_pump_stop(struct nx_pump *p);

#endif
