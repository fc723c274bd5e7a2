/* seal.c — AES-256-GCM records for nexus-vault (seal.h). */
#include "vault/seal.h"

#include <bearssl.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64url.h"
#include "core/random.h"
#include "core/util.h"

int nx_vault_key_parse(const void *buf, size_t len, uint8_t key[NX_VAULT_KEY_BYTES],
                       char *err, size_t errlen)
{
	if (len == NX_VAULT_KEY_BYTES) {
		memcpy(key, buf, NX_VAULT_KEY_BYTES);
		return 0;
	}
	const char *s = buf;
	while (len && isspace((unsigned char)s[0]))
		s++, len--;
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	size_t n = 0;
	uint8_t tmp[NX_B64URL_DECLEN(64)];
	if (len != NX_B64URL_ENCLEN(NX_VAULT_KEY_BYTES) ||
	    nx_b64url_decode(s, len, tmp, sizeof tmp, &n, NULL, 0) < 0 || n != NX_VAULT_KEY_BYTES) {
		nx_wipe(tmp, sizeof tmp);
		return nx_err(err, errlen, "not a master key (want 32 bytes, raw or as 43 base64url "
		                           "characters)");
	}
	memcpy(key, tmp, NX_VAULT_KEY_BYTES);
	nx_wipe(tmp, sizeof tmp);
	return 0;
}

int nx_vault_key_read(const char *path, uint8_t key[NX_VAULT_KEY_BYTES], int *loose,
                      char *err, size_t errlen)
{
	char *buf, why[NX_ERRLEN];
	size_t len;
	if (nx_read_file(path, 4096, &buf, &len, err, errlen) < 0)
		return -1;
	int rc = nx_vault_key_parse(buf, len, key, why, sizeof why);
	nx_free_secret(buf, len);
	if (rc < 0)
		return nx_err(err, errlen, "%s: %s", path, why);
	*loose = nx_file_is_loose(path);
	return 0;
}

int nx_vault_rec_split(const uint8_t *buf, size_t len, struct nx_vault_rec *r, char *err,
                       size_t errlen)
{
	if (len < NX_VAULT_OVERHEAD)
		return nx_err(err, errlen, "stored record too short (%zu bytes)", len);
	if (memcmp(buf, NX_VAULT_MAGIC, 4) != 0)
		return nx_err(err, errlen, "stored record has an unknown format");
	if (len - NX_VAULT_OVERHEAD > NX_VAULT_PLAIN_MAX)
		return nx_err(err, errlen, "stored record too long (%zu bytes)", len);
	r->nonce = buf + 4;
	r->ct = buf + 4 + NX_VAULT_NONCE;
	r->ctlen = len - NX_VAULT_OVERHEAD;
	r->tag = r->ct + r->ctlen;
	return 0;
}

/* The AES-CTR key schedule on AES-NI when the CPU has it, else the constant-time one. */
union ctr_keys {
	br_aes_x86ni_ctr_keys ni;
	br_aes_ct_ctr_keys ct;
};

static void gcm_setup(br_gcm_context *gc, union ctr_keys *k, const uint8_t key[32])
{
	const br_block_ctr_class *ni = br_aes_x86ni_ctr_get_vtable();
	br_ghash gh = br_ghash_pclmul_get();
	if (ni && gh) {
		ni->init(&k->ni.vtable, key, NX_VAULT_KEY_BYTES);
		br_gcm_init(gc, &k->ni.vtable, gh);
	} else {
		br_aes_ct_ctr_init(&k->ct, key, NX_VAULT_KEY_BYTES);
		br_gcm_init(gc, &k->ct.vtable, br_ghash_ctmul64);
	}
}

const char *nx_vault_backend(void)
{
	return br_aes_x86ni_ctr_get_vtable() && br_ghash_pclmul_get() ? "aes_x86ni+pclmul"
	                                                                : "aes_ct+ctmul64";
}

static void gcm_start(br_gcm_context *gc, const uint8_t *nonce, const char *name,
                      uint32_t version)
{
	static const char label[] = "nexus-vault/1"; /* with its NUL as the separator */
	uint8_t v[5] = {0, (uint8_t)(version >> 24), (uint8_t)(version >> 16),
	                (uint8_t)(version >> 8), (uint8_t)version};
	br_gcm_reset(gc, nonce, NX_VAULT_NONCE);
	br_gcm_aad_inject(gc, label, sizeof label);
	br_gcm_aad_inject(gc, name, strlen(name));
	br_gcm_aad_inject(gc, v, sizeof v);
	br_gcm_flip(gc);
}

int nx_vault_seal(const uint8_t key[NX_VAULT_KEY_BYTES], uint32_t version, const char *name,
                  const void *plain, size_t plen, uint8_t **out, size_t *outlen, char *err,
                  size_t errlen)
{
	if (plen > NX_VAULT_PLAIN_MAX)
		return nx_err(err, errlen, "credential too long (%zu bytes, at most %u)", plen,
		              NX_VAULT_PLAIN_MAX);
	uint8_t *b = malloc(NX_VAULT_OVERHEAD + plen);
	if (!b)
		return nx_err(err, errlen, "out of memory");
	memcpy(b, NX_VAULT_MAGIC, 4);
	if (nx_random_bytes(b + 4, NX_VAULT_NONCE, err, errlen) < 0) {
		free(b);
		return -1;
	}
	uint8_t *ct = b + 4 + NX_VAULT_NONCE;
	memcpy(ct, plain, plen);
	br_gcm_context gc;
	union ctr_keys k;
	gcm_setup(&gc, &k, key);
	gcm_start(&gc, b + 4, name, version);
	br_gcm_run(&gc, 1, ct, plen);
	br_gcm_get_tag(&gc, ct + plen);
	nx_wipe(&k, sizeof k);
	nx_wipe(&gc, sizeof gc);
	*out = b;
	*outlen = NX_VAULT_OVERHEAD + plen;
	return 0;
}

int nx_vault_unseal(const uint8_t key[NX_VAULT_KEY_BYTES], uint32_t version, const char *name,
                  const uint8_t *rec, size_t reclen, uint8_t **plain, size_t *plen, char *err,
                  size_t errlen)
{
	struct nx_vault_rec r;
	if (nx_vault_rec_split(rec, reclen, &r, err, errlen) < 0)
		return -1;
	uint8_t *p = malloc(r.ctlen + 1);
	if (!p)
		return nx_err(err, errlen, "out of memory");
	memcpy(p, r.ct, r.ctlen);
	p[r.ctlen] = '\0';
	br_gcm_context gc;
	union ctr_keys k;
	gcm_setup(&gc, &k, key);
	gcm_start(&gc, r.nonce, name, version);
	br_gcm_run(&gc, 0, p, r.ctlen);
	uint32_t ok = br_gcm_check_tag(&gc, r.tag);
	nx_wipe(&k, sizeof k);
	nx_wipe(&gc, sizeof gc);
	if (!ok) {
		nx_free_secret(p, r.ctlen + 1);
		return nx_err(err, errlen, "does not authenticate (wrong key, a record moved or "
		                           "altered)");
	}
	*plain = p;
	*plen = r.ctlen;
	return 0;
}
