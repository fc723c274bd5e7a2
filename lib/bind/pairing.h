/* pairing.h — pairing codes: generation, the forgiving parse of what a person typed, and
 * the keyed hash the database stores instead of the code.
 *
 * A code is 8 characters of Crockford base32 (0-9 A-Z without I L O U: nothing that reads
 * like another character), 40 bits, shown as "XXXX-XXXX". Typing is forgiving: case,
 * spaces and dashes are ignored, I and L read as 1, O as 0.
 *
 * The first NX_PAIR_SELECTOR_CHARS characters are the code's *selector*: stored in the
 * clear so a wrong guess can be counted against the live code it names (5 failures lock
 * it). The whole code is stored only as HMAC-SHA256 under a key kept outside the
 * database, so a leaked database alone does not reveal live codes, not even by trying
 * all 2^40 of them. */
#ifndef NEXUS_PAIRING_H
#define NEXUS_PAIRING_H
#include <stddef.h>
#include <stdint.h>

#define NX_PAIR_CODE_CHARS 8
#define NX_PAIR_SELECTOR_CHARS 3
#define NX_PAIR_KEY_BYTES 32
#define NX_PAIR_HASH_HEX 65 /* 64 hex digits and a NUL */

/* A new code: canonical form (8 chars + NUL) into canon. */
int nx_pair_code_new(char canon[NX_PAIR_CODE_CHARS + 1], char *err, size_t errlen);

/* "ABCD-EFGH" from the canonical form (10 bytes with the NUL). */
void nx_pair_code_display(const char *canon, char out[NX_PAIR_CODE_CHARS + 2]);

/* What a person typed (buf, len) → canonical form. -1 with a message saying what is
 * wrong (length, a character outside the alphabet). */
int nx_pair_code_parse(const char *buf, size_t len, char canon[NX_PAIR_CODE_CHARS + 1],
                       char *err, size_t errlen);

/* Lower-case hex HMAC-SHA256(key, "nexus-bind code v1:" canon). */
void nx_pair_code_hash(const uint8_t *key, size_t keylen, const char *canon,
                       char hex[NX_PAIR_HASH_HEX]);

/* A fresh token id: a random UUID (random.h), as nexus-token issue --jti auto makes. */
#define NX_PAIR_JTI_LEN 36
int nx_pair_jti_new(char out[NX_PAIR_JTI_LEN + 1], char *err, size_t errlen);

/* Load the pairing key from `path`, creating it (0600, NX_PAIR_KEY_BYTES random bytes)
 * when it does not exist. */
int nx_pair_key_load(const char *path, uint8_t key[NX_PAIR_KEY_BYTES], char *err,
                     size_t errlen);

#endif
