/* tls_peer.c — checking the peer's certificate: the name-check wrapper around BearSSL's
 * X.509 validator (IP literals, the names of a certificate that does not match) and client
 * certificates both ways. */
#include <arpa/inet.h>
#include <bearssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "wire/tls_int.h"
#include "wire/x509_names.h"

/* ---- name check wrapper ---------------------------------------------------------------- */

static void nc_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct name_check *nc = (struct name_check *)ctx;
	free(nc->ee);
	nc->ee = NULL;
	nc->ee_len = nc->ee_cap = 0;
	nc->certs = 0;
	nc->names[0] = 0;
	/* NULL: the inner engine checks the chain but no name; we check the IP at the end */
	(*nc->inner)->start_chain(nc->inner, nc->ip_len ? NULL : nc->name);
}
static void nc_start_cert(const br_x509_class **ctx, uint32_t len)
{
	struct name_check *nc = (struct name_check *)ctx;
	if (nc->certs++ == 0 && len > 0 && len <= NC_CERT_MAX) {
		nc->ee = malloc(len);
		nc->ee_cap = nc->ee ? len : 0;
	}
	(*nc->inner)->start_cert(nc->inner, len);
}
static void nc_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct name_check *nc = (struct name_check *)ctx;
	if (nc->certs == 1 && nc->ee) {
		size_t n = len < nc->ee_cap - nc->ee_len ? len : nc->ee_cap - nc->ee_len;
		memcpy(nc->ee + nc->ee_len, buf, n);
		nc->ee_len += n;
	}
	(*nc->inner)->append(nc->inner, buf, len);
}
static void nc_end_cert(const br_x509_class **ctx)
{
	struct name_check *nc = (struct name_check *)ctx;
	(*nc->inner)->end_cert(nc->inner);
}
static unsigned nc_end_chain(const br_x509_class **ctx)
{
	struct name_check *nc = (struct name_check *)ctx;
	unsigned r = (*nc->inner)->end_chain(nc->inner);
	if (r == 0 && nc->ip_len && nx_x509_has_ip(nc->ee, nc->ee_len, nc->ip, nc->ip_len) != 1)
		r = BR_ERR_X509_BAD_SERVER_NAME;
	if (r == BR_ERR_X509_BAD_SERVER_NAME) {
		if (nc->ee)
			nx_x509_names_text(nc->ee, nc->ee_len, nc->names, sizeof nc->names);
		else
			snprintf(nc->names, sizeof nc->names, "names not read (certificate over %d bytes)",
			         NC_CERT_MAX);
	}
	nc->verified = r == 0;
	if (nc->keep && r == 0)
		return r; /* the leaf stays for nx_tls_peer_cert_names() */
	free(nc->ee);
	nc->ee = NULL;
	nc->ee_len = nc->ee_cap = 0;
	return r;
}
static const br_x509_pkey *nc_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	const struct name_check *nc = (const struct name_check *)ctx;
	return (*nc->inner)->get_pkey(nc->inner, usages);
}
static const br_x509_class name_check_vtable = {
	sizeof(struct name_check), nc_start_chain, nc_start_cert, nc_append,
	nc_end_cert, nc_end_chain, nc_get_pkey,
};

/* Fills ip with the address bytes of an IPv4 or IPv6 literal; returns 4, 16 or 0. */
static size_t ip_literal(const char *s, unsigned char ip[16])
{
	if (inet_pton(AF_INET, s, ip) == 1)
		return 4;
	if (inet_pton(AF_INET6, s, ip) == 1)
		return 16;
	return 0;
}

int nx_tls_check_names(struct nx_tls *c, const char *name, int keep)
{
	c->nc.vtable = &name_check_vtable;
	c->nc.inner = &c->xc->vtable;
	c->nc.name = name;
	c->nc.ip_len = name ? ip_literal(name, c->nc.ip) : 0;
	c->nc.keep = keep;
	br_ssl_engine_set_x509(c->eng, &c->nc.vtable);
	return c->nc.ip_len > 0;
}

/* ---- client certificates ------------------------------------------------------------- */

int nx_tls_server_ask_client_cert(struct nx_tls *c, const struct nx_tls_trust *trust, char *err,
                                  size_t errlen)
{
	if (c->is_client || c->xc)
		return nx_err(err, errlen, "not a fresh server connection");
	if (!(c->xc = calloc(1, sizeof *c->xc)))
		return nx_err(err, errlen, "out of memory for a TLS connection");
	br_x509_minimal_init_full(c->xc, trust->anchors, trust->n);
	br_ssl_server_context *sc = &c->u.sc;
	br_ssl_server_set_trust_anchor_names_alt(sc, trust->anchors, trust->n);
	br_ssl_engine_set_default_rsavrfy(c->eng);
	br_ssl_engine_set_default_ecdsa(c->eng);
	/* asked, not required: backends on /connect show none; /mesh checks for one */
	br_ssl_engine_add_flags(c->eng, BR_OPT_TOLERATE_NO_CLIENT_AUTH);
	nx_tls_check_names(c, NULL, 1);
	return 0;
}

int nx_tls_client_cert(struct nx_tls *c, const struct nx_tls_server_creds *creds, char *err,
                       size_t errlen)
{
	if (!c->is_client)
		return nx_err(err, errlen, "not a client connection");
	br_ssl_client_context *cc = &c->u.cc;
	if (creds->key_type == BR_KEYTYPE_RSA)
		br_ssl_client_set_single_rsa(cc, creds->chain, creds->chain_len,
		                             br_skey_decoder_get_rsa(&creds->skey),
		                             br_rsa_pkcs1_sign_get_default());
	else
		br_ssl_client_set_single_ec(cc, creds->chain, creds->chain_len,
		                            br_skey_decoder_get_ec(&creds->skey),
		                            BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN, creds->issuer_key_type,
		                            br_ec_get_default(), br_ecdsa_sign_asn1_get_default());
	return 0;
}

int nx_tls_peer_cert_verified(const struct nx_tls *c)
{
	return c->nc.keep && c->nc.verified && c->nc.ee;
}

int nx_tls_peer_cert_names(const struct nx_tls *c, nx_x509_name_fn fn, void *arg)
{
	if (!nx_tls_peer_cert_verified(c))
		return -1;
	return nx_x509_names(c->nc.ee, c->nc.ee_len, fn, arg);
}
