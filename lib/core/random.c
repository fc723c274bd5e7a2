/* random.c — see random.h. */
#include "core/random.h"
#include "core/b64url.h"
#include "core/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define RESEED_AFTER (64u * 1024u)

static _Thread_local br_hmac_drbg_context drbg;
static _Thread_local unsigned drbg_gen; /* 0: never seeded; else the fork_gen it was seeded in */
static _Thread_local size_t drbg_out;   /* bytes produced since the last (re)seed */

/* Bumped in the child of every fork(): state seeded before it is stale there. (Comparing
 * getpid() did the same with a system call for every WebSocket mask.) */
static unsigned fork_gen = 1;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static void on_fork_child(void) { __atomic_add_fetch(&fork_gen, 1, __ATOMIC_RELAXED); }
static void watch_forks(void) { pthread_atfork(NULL, NULL, on_fork_child); }

static unsigned current_gen(void)
{
	pthread_once(&fork_once, watch_forks);
	unsigned g = __atomic_load_n(&fork_gen, __ATOMIC_RELAXED);
	return g ? g : 1; /* 0 means "never seeded" */
}

static int kernel_entropy(unsigned char *buf, size_t n, char *err, size_t errlen)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom(buf + got, n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return nx_err(err, errlen, "getrandom: %s", strerror(errno));
		got += (size_t)r;
	}
	return 0;
}

/* Seed on first use, after a fork (same state in two processes must never happen), and
 * every RESEED_AFTER bytes so a leaked state exposes little. */
static int ensure_seeded(char *err, size_t errlen)
{
	unsigned gen = current_gen();
	if (drbg_gen == gen && drbg_out < RESEED_AFTER)
		return 0;
	unsigned char seed[48];
	if (kernel_entropy(seed, sizeof seed, err, errlen) < 0)
		return -1;
	if (drbg_gen == 0)
		br_hmac_drbg_init(&drbg, &br_sha256_vtable, seed, sizeof seed);
	else
		br_hmac_drbg_update(&drbg, seed, sizeof seed);
	nx_wipe(seed, sizeof seed);
	drbg_gen = gen;
	drbg_out = 0;
	return 0;
}

int nx_random_bytes(void *buf, size_t n, char *err, size_t errlen)
{
	unsigned char *p = buf;
	while (n > 0) {
		if (ensure_seeded(err, errlen) < 0)
			return -1;
		size_t chunk = n < RESEED_AFTER - drbg_out ? n : RESEED_AFTER - drbg_out;
		br_hmac_drbg_generate(&drbg, p, chunk);
		drbg_out += chunk;
		p += chunk;
		n -= chunk;
	}
	return 0;
}

/* Small draws (masks, stream ids) come from a pool filled by one DRBG call: the HMAC-DRBG
 * costs the same three HMAC-SHA256 runs for 4 bytes as for 512, and a frame needs only 4.
 * The pool belongs to the process that filled it (refilled after fork, like the
 * generator); bytes handed out are wiped from it. */
#define POOL 512
static _Thread_local unsigned char pool[POOL];
static _Thread_local size_t pool_left;
static _Thread_local unsigned pool_gen;

int nx_random_small(void *buf, size_t n)
{
	if (n > NX_RANDOM_SMALL_MAX)
		return nx_random_bytes(buf, n, NULL, 0);
	unsigned gen = current_gen();
	if (pool_left < n || pool_gen != gen) {
		if (nx_random_bytes(pool, sizeof pool, NULL, 0) < 0)
			return -1;
		pool_left = sizeof pool;
		pool_gen = gen;
	}
	pool_left -= n;
	memcpy(buf, pool + pool_left, n);
	nx_wipe(pool + pool_left, n); /* each byte is handed out once */
	return 0;
}

int nx_random_mask(unsigned char mask[4]) { return nx_random_small(mask, 4); }

int nx_random_nonce(char out[NX_NONCE_LEN + 1], char *err, size_t errlen)
{
	unsigned char raw[32];
	if (nx_random_bytes(raw, sizeof raw, err, errlen) < 0)
		return -1;
	nx_b64url_encode(out, raw, sizeof raw);
	nx_wipe(raw, sizeof raw);
	return 0;
}

int nx_random_uuid4(unsigned char raw[16], char text[NX_UUID_TEXT_LEN + 1], char *err,
                    size_t errlen)
{
	unsigned char u[16];
	if (nx_random_bytes(u, sizeof u, err, errlen) < 0)
		return -1;
	u[6] = (unsigned char)((u[6] & 0x0f) | 0x40); /* version 4 */
	u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* RFC 9562 variant */
	if (raw)
		memcpy(raw, u, 16);
	if (text)
		snprintf(text, NX_UUID_TEXT_LEN + 1,
		         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		         u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
		         u[12], u[13], u[14], u[15]);
	return 0;
}

const br_prng_class **nx_random_prng(char *err, size_t errlen)
{
	if (ensure_seeded(err, errlen) < 0)
		return NULL;
	return &drbg.vtable;
}
