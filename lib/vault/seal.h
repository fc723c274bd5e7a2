/* seal.h — nexus-vault's encryption at rest: a 32-byte master key, AES-256-GCM (BearSSL),
 * and the stored record format.
 *
 * A sealed record is  "nxv1" | nonce (12) | ciphertext | tag (16).  The nonce is fresh
 * from lib/core/random for every write; the additional authenticated data binds the
 * ciphertext to where it belongs:  "nexus-vault/1" 0x00 NAME 0x00 VERSION(4, big endian),
 * so a record copied to another name, or relabelled with another key version, is refused
 * exactly like a flipped bit. Key versions are proved by a sealed check value under the
 * reserved name "" (an empty name is never a record's). */
#ifndef NEXUS_VAULT_SEAL_H
#define NEXUS_VAULT_SEAL_H
#include <stddef.h>
#include <stdint.h>

#define NX_VAULT_KEY_BYTES 32
#define NX_VAULT_NONCE 12
#define NX_VAULT_TAG 16
#define NX_VAULT_MAGIC "nxv1"
#define NX_VAULT_OVERHEAD (4 + NX_VAULT_NONCE + NX_VAULT_TAG)
#define NX_VAULT_PLAIN_MAX (64u * 1024)

/* The master key from a file's bytes or an environment value: exactly 32 raw bytes, or
 * their base64url text (43 characters, surrounding white space ignored). */
int nx_vault_key_parse(const void *buf, size_t len, uint8_t key[NX_VAULT_KEY_BYTES],
                       char *err, size_t errlen);

/* The master key from a file (as nx_vault_key_parse); *loose set when group or others may
 * read it. The file's bytes are wiped. */
int nx_vault_key_read(const char *path, uint8_t key[NX_VAULT_KEY_BYTES], int *loose,
                      char *err, size_t errlen);

/* The three parts of a sealed record, pointing into buf (a pure parser of stored bytes):
 * 0, or -1 with a reason (too short, bad magic, too long). */
struct nx_vault_rec {
	const uint8_t *nonce, *ct, *tag;
	size_t ctlen;
};
int nx_vault_rec_split(const uint8_t *buf, size_t len, struct nx_vault_rec *r, char *err,
                       size_t errlen);

/* Seal `plain` for record `name` under key version `version`: *out is malloc'd,
 * NX_VAULT_OVERHEAD + plen bytes. */
int nx_vault_seal(const uint8_t key[NX_VAULT_KEY_BYTES], uint32_t version, const char *name,
                  const void *plain, size_t plen, uint8_t **out, size_t *outlen, char *err,
                  size_t errlen);

/* Unseal a record: *plain is malloc'd (NUL-terminated, *plen bytes before the NUL;
 * wipe it with nx_free_secret(*plain, *plen + 1)). -1 when the bytes are not a record or
 * the tag does not match this key, name and version ("does not authenticate"). */
int nx_vault_unseal(const uint8_t key[NX_VAULT_KEY_BYTES], uint32_t version, const char *name,
                  const uint8_t *rec, size_t reclen, uint8_t **plain, size_t *plen, char *err,
                  size_t errlen);

/* The "gcm backend" in use: "aes_x86ni+pclmul" or the portable "aes_ct+ctmul64". */
const char *nx_vault_backend(void);

#endif
