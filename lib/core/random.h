/* random.h — the CSPRNG: a BearSSL HMAC-DRBG (SHA-256) seeded from getrandom().
 *
 * One generator per thread (no locks, no shared state); it reseeds itself after fork(), so a
 * parent and child never produce the same bytes, and every 64 KiB of output. */
#ifndef NEXUS_RANDOM_H
#define NEXUS_RANDOM_H
#include <bearssl.h>
#include <stddef.h>

/* Fill buf with n cryptographically strong random bytes. Returns 0, or -1 when the kernel
 * would not give entropy (getrandom failed), with a reason in err. */
int nx_random_bytes(void *buf, size_t n, char *err, size_t errlen);

/* A WebSocket masking key (RFC 6455 5.3: unpredictable, fresh per frame): 4 bytes of the
 * same generator, served from a per-thread pool so a frame does not pay a DRBG call. */
int nx_random_mask(unsigned char mask[4]);

/* n <= NX_RANDOM_SMALL_MAX bytes from that pool (a stream id): not for keys, which
 * should not sit in a pool beside other bytes. Larger n go to nx_random_bytes. */
#define NX_RANDOM_SMALL_MAX 32
int nx_random_small(void *buf, size_t n);

/* 32 random bytes as base64url without padding: 43 characters + NUL (the hub's
 * handshake nonce, shared/protocol.md §2). */
#define NX_NONCE_LEN 43
int nx_random_nonce(char out[NX_NONCE_LEN + 1], char *err, size_t errlen);

/* A random (version 4, RFC 9562) UUID: 16 raw bytes, and its canonical lowercase
 * 8-4-4-4-12 text (36 characters + NUL). Either pointer may be NULL. */
#define NX_UUID_TEXT_LEN 36
int nx_random_uuid4(unsigned char raw[16], char text[NX_UUID_TEXT_LEN + 1], char *err,
                    size_t errlen);

/* This thread's seeded generator, for BearSSL calls that take a br_prng_class ** (key
 * generation). NULL when seeding failed, with a reason in err. */
const br_prng_class **nx_random_prng(char *err, size_t errlen);

#endif
