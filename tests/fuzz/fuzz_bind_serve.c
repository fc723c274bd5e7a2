/* libFuzzer: nexus-bind serve's HTTP side (bind/serve.h → bind/api.h) as any network client
 * reaches it: the bytes of one connection (pipelined requests, bodies, chunked framing) are
 * read from a pipe and answered into /dev/null, against an empty SQLite database with the
 * schema. Unauthenticated routes (claim) run to the store; the rest answer 401. Invariant:
 * no sanitizer report, whatever the bytes. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bind/pairing.h"
#include "bind/serve.h"
#include "fuzz_store.h"

static uint8_t key[NX_PAIR_KEY_BYTES];
static struct nx_bind b;
static struct nx_api api;
static struct nx_serve s;
static int devnull = -1;

static int setup(void)
{
	struct nx_store *st = fuzz_store_get();
	memset(key, 0x5a, sizeof key);
	b = (struct nx_bind){.st = st, .key = key, .actor = "fuzz", .origin = "fuzz", .fail_rate = 1000000};
	api = (struct nx_api){.b = &b, .rate = 1000000, .max_body = 8192, .origin = "fuzz"};
	s = (struct nx_serve){.api = &api, .idle_ms = 50};
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	return devnull < 0 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		if (setup() < 0)
			abort();
		ready = 1;
	}
	if (size > 60000) /* what one pipe holds without a reader */
		return 0;
	int p[2];
	if (pipe(p) < 0)
		abort();
	if (size && write(p[1], data, size) != (ssize_t)size)
		abort();
	close(p[1]);
	nx_serve_conn(&s, p[0], devnull);
	close(p[0]);
	nx_api_reset(&api);
	return 0;
}
