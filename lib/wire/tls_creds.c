/* tls_creds.c — PEM certificate chains, private keys and trust anchors for BearSSL. */
#include <bearssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/tls_int.h"
#include "core/pem.h"
#include "core/util.h"

#define PEM_FILE_MAX (4u << 20) /* the system bundle is ~200 KiB */

/* ---- PEM ------------------------------------------------------------------------------- */

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static void buf_append(void *ctx, const void *data, size_t len)
{
	struct buf *b = ctx;
	if (!b->p && b->cap == SIZE_MAX)
		return; /* earlier allocation failure: keep failing */
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		while (cap < b->len + len)
			cap *= 2;
		unsigned char *p = realloc(b->p, cap);
		if (!p) {
			free(b->p);
			b->p = NULL;
			b->cap = SIZE_MAX;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

struct pem_obj {
	char name[128];
	unsigned char *der;
	size_t len;
};

static void pem_free(struct pem_obj *objs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		nx_free_secret(objs[i].der, objs[i].len);
	free(objs);
}

struct pem_all {
	struct pem_obj *objs;
	size_t n;
};

static int keep_obj(void *arg, const char *name, const unsigned char *der, size_t len)
{
	struct pem_all *all = arg;
	struct pem_obj *o = realloc(all->objs, (all->n + 1) * sizeof *o);
	if (!o)
		return NX_PEM_NOMEM;
	all->objs = o;
	o += all->n;
	memset(o, 0, sizeof *o);
	if (!(o->der = malloc(len ? len : 1)))
		return NX_PEM_NOMEM;
	memcpy(o->der, der, len);
	o->len = len;
	snprintf(o->name, sizeof o->name, "%s", name);
	all->n++;
	return 0;
}

/* All PEM objects of a file. */
static int pem_load(const char *path, struct pem_obj **out, size_t *nout, char *err,
                    size_t errlen)
{
	char *text;
	size_t len;
	*out = NULL;
	*nout = 0;
	if (nx_read_file(path, PEM_FILE_MAX, &text, &len, err, errlen) < 0)
		return -1;
	struct pem_all all = {NULL, 0};
	int rc = nx_pem_each(text, len, keep_obj, &all);
	nx_free_secret(text, len);
	if (rc < 0) {
		pem_free(all.objs, all.n);
		return nx_err(err, errlen, "%s: %s", path, nx_pem_strerror(rc));
	}
	*out = all.objs;
	*nout = all.n;
	return 0;
}

/* ---- server credentials ---------------------------------------------------------------- */

static void dn_append(void *ctx, const void *data, size_t len) { buf_append(ctx, data, len); }

/* Does the private key belong to the certificate's public key? */
static int key_matches_cert(const struct nx_tls_server_creds *c, const br_x509_pkey *pk)
{
	if (c->key_type == BR_KEYTYPE_RSA) {
		if (pk->key_type != BR_KEYTYPE_RSA)
			return 0;
		const br_rsa_private_key *sk = br_skey_decoder_get_rsa(&c->skey);
		br_rsa_compute_modulus modulus = br_rsa_compute_modulus_get_default();
		size_t nlen = modulus(NULL, sk);
		unsigned char *n = malloc(nlen ? nlen : 1);
		if (!n || !nlen || modulus(n, sk) != nlen) {
			free(n);
			return 0;
		}
		const unsigned char *cn = pk->key.rsa.n;
		size_t cl = pk->key.rsa.nlen;
		while (cl && *cn == 0) {
			cn++;
			cl--;
		}
		const unsigned char *kn = n;
		size_t kl = nlen;
		while (kl && *kn == 0) {
			kn++;
			kl--;
		}
		int ok = cl == kl && memcmp(cn, kn, kl) == 0;
		free(n);
		return ok;
	}
	if (pk->key_type != BR_KEYTYPE_EC)
		return 0;
	const br_ec_private_key *sk = br_skey_decoder_get_ec(&c->skey);
	unsigned char q[BR_EC_KBUF_PUB_MAX_SIZE];
	br_ec_public_key pub;
	size_t ql = br_ec_compute_pub(br_ec_get_default(), &pub, q, sk);
	return ql && pk->key.ec.curve == sk->curve && pk->key.ec.qlen == ql &&
	       memcmp(pk->key.ec.q, q, ql) == 0;
}

struct nx_tls_server_creds *nx_tls_server_creds_load(const char *cert_file,
                                                     const char *key_file, char *err,
                                                     size_t errlen)
{
	struct pem_obj *objs = NULL;
	size_t n = 0;
	struct nx_tls_server_creds *c = calloc(1, sizeof *c);
	if (!c) {
		nx_err(err, errlen, "out of memory");
		return NULL;
	}
	if (pem_load(cert_file, &objs, &n, err, errlen) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(objs[i].name, "CERTIFICATE") && strcmp(objs[i].name, "X509 CERTIFICATE"))
			continue;
		br_x509_certificate *ch = realloc(c->chain, (c->chain_len + 1) * sizeof *ch);
		if (!ch) {
			nx_err(err, errlen, "out of memory");
			goto fail;
		}
		c->chain = ch;
		ch[c->chain_len].data = objs[i].der;
		ch[c->chain_len].data_len = objs[i].len;
		objs[i].der = NULL;
		c->chain_len++;
	}
	pem_free(objs, n);
	objs = NULL;
	n = 0;
	if (c->chain_len == 0) {
		nx_err(err, errlen, "%s: no certificate found", cert_file);
		goto fail;
	}
	/* the leaf: its key type, and who signed it (BearSSL wants that for EC keys) */
	struct buf dn = {0};
	br_x509_decoder_context dc;
	br_x509_decoder_init(&dc, dn_append, &dn);
	br_x509_decoder_push(&dc, c->chain[0].data, c->chain[0].data_len);
	free(dn.p);
	const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
	if (!pk) {
		nx_err(err, errlen, "%s: cannot decode the certificate (error %d)", cert_file,
		       br_x509_decoder_last_error(&dc));
		goto fail;
	}
	c->issuer_key_type = br_x509_decoder_get_signer_key_type(&dc);

	if (pem_load(key_file, &objs, &n, err, errlen) < 0)
		goto fail;
	int found = 0;
	for (size_t i = 0; i < n && !found; i++) {
		if (strcmp(objs[i].name, "PRIVATE KEY") && strcmp(objs[i].name, "RSA PRIVATE KEY") &&
		    strcmp(objs[i].name, "EC PRIVATE KEY"))
			continue;
		br_skey_decoder_init(&c->skey);
		br_skey_decoder_push(&c->skey, objs[i].der, objs[i].len);
		int e = br_skey_decoder_last_error(&c->skey);
		if (e) {
			nx_err(err, errlen, "%s: cannot decode the private key (BearSSL error %d)",
			       key_file, e);
			goto fail;
		}
		c->key_type = br_skey_decoder_key_type(&c->skey);
		found = 1;
	}
	pem_free(objs, n);
	objs = NULL;
	n = 0;
	if (!found) {
		nx_err(err, errlen, "%s: no private key found (PRIVATE KEY, RSA PRIVATE KEY or EC "
		       "PRIVATE KEY)", key_file);
		goto fail;
	}
	if (c->key_type != BR_KEYTYPE_RSA && c->key_type != BR_KEYTYPE_EC) {
		nx_err(err, errlen, "%s: unsupported key type", key_file);
		goto fail;
	}
	if (!key_matches_cert(c, pk)) {
		nx_err(err, errlen, "%s does not match the certificate in %s", key_file, cert_file);
		goto fail;
	}
	return c;
fail:
	pem_free(objs, n);
	nx_tls_server_creds_free(c);
	return NULL;
}

void nx_tls_server_creds_free(struct nx_tls_server_creds *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->chain_len; i++)
		free(c->chain[i].data);
	free(c->chain);
	nx_wipe(&c->skey, sizeof c->skey);
	free(c);
}

/* ---- trust anchors --------------------------------------------------------------------- */

static void anchor_free(br_x509_trust_anchor *ta)
{
	free(ta->dn.data);
	if (ta->pkey.key_type == BR_KEYTYPE_RSA) {
		free(ta->pkey.key.rsa.n);
		free(ta->pkey.key.rsa.e);
	} else if (ta->pkey.key_type == BR_KEYTYPE_EC) {
		free(ta->pkey.key.ec.q);
	}
}

static unsigned char *dup_bytes(const unsigned char *p, size_t n)
{
	unsigned char *d = malloc(n ? n : 1);
	if (d && n)
		memcpy(d, p, n);
	return d;
}

/* One CA certificate → a trust anchor with its own copies of DN and key. */
static int anchor_from_der(const unsigned char *der, size_t len, br_x509_trust_anchor *ta)
{
	struct buf dn = {0};
	br_x509_decoder_context dc;
	memset(ta, 0, sizeof *ta);
	br_x509_decoder_init(&dc, dn_append, &dn);
	br_x509_decoder_push(&dc, der, len);
	const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
	if (!pk || (!dn.p && dn.cap == SIZE_MAX)) {
		free(dn.p);
		return -1;
	}
	ta->dn.data = dn.p ? dn.p : malloc(1);
	ta->dn.len = dn.len;
	ta->flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
	ta->pkey.key_type = pk->key_type;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		ta->pkey.key.rsa.n = dup_bytes(pk->key.rsa.n, pk->key.rsa.nlen);
		ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
		ta->pkey.key.rsa.e = dup_bytes(pk->key.rsa.e, pk->key.rsa.elen);
		ta->pkey.key.rsa.elen = pk->key.rsa.elen;
		if (!ta->pkey.key.rsa.n || !ta->pkey.key.rsa.e || !ta->dn.data) {
			anchor_free(ta);
			return -1;
		}
	} else if (pk->key_type == BR_KEYTYPE_EC) {
		ta->pkey.key.ec.curve = pk->key.ec.curve;
		ta->pkey.key.ec.q = dup_bytes(pk->key.ec.q, pk->key.ec.qlen);
		ta->pkey.key.ec.qlen = pk->key.ec.qlen;
		if (!ta->pkey.key.ec.q || !ta->dn.data) {
			anchor_free(ta);
			return -1;
		}
	} else {
		free(dn.p);
		return -1;
	}
	return 0;
}

struct nx_tls_trust *nx_tls_trust_load(const char *ca_file, char *err, size_t errlen)
{
	const char *path = ca_file ? ca_file : NX_TLS_SYSTEM_CA_FILE;
	struct pem_obj *objs;
	size_t n;
	if (pem_load(path, &objs, &n, err, errlen) < 0)
		return NULL;
	struct nx_tls_trust *t = calloc(1, sizeof *t);
	if (!t || !(t->anchors = calloc(n ? n : 1, sizeof *t->anchors))) {
		free(t);
		pem_free(objs, n);
		nx_err(err, errlen, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(objs[i].name, "CERTIFICATE") && strcmp(objs[i].name, "X509 CERTIFICATE") &&
		    strcmp(objs[i].name, "TRUSTED CERTIFICATE"))
			continue;
		if (anchor_from_der(objs[i].der, objs[i].len, &t->anchors[t->n]) == 0)
			t->n++;
	}
	pem_free(objs, n);
	if (t->n == 0) {
		nx_tls_trust_free(t);
		nx_err(err, errlen, "%s: no usable CA certificate", path);
		return NULL;
	}
	return t;
}

void nx_tls_trust_free(struct nx_tls_trust *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		anchor_free(&t->anchors[i]);
	free(t->anchors);
	free(t);
}

size_t nx_tls_trust_count(const struct nx_tls_trust *t) { return t ? t->n : 0; }
