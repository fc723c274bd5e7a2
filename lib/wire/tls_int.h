/* tls_int.h — what tls.c, tls_peer.c and tls_creds.c share; not for other modules. */
#ifndef NEXUS_TLS_INT_H
#define NEXUS_TLS_INT_H
#include <bearssl.h>

#include "wire/tls.h"

struct nx_tls_server_creds {
	br_x509_certificate *chain; /* leaf first; data owned */
	size_t chain_len;
	br_skey_decoder_context skey; /* holds the private key (wiped on free) */
	int key_type;                 /* BR_KEYTYPE_RSA / BR_KEYTYPE_EC */
	unsigned issuer_key_type;     /* key type of the CA that signed the leaf */
};

struct nx_tls_trust {
	br_x509_trust_anchor *anchors; /* DN and keys owned */
	size_t n;
};

#define NC_CERT_MAX 65536 /* bytes of the end-entity certificate kept for name checks */
#define ALPN_MAX 4

/* Wraps BearSSL's minimal X.509 validator, which matches the server name only against
 * dNSName SANs (or the CN), for two things it cannot do: match an IP literal against the
 * iPAddress SANs (exact bytes; dNSName and CN never match an IP), and say which names a
 * certificate that does not match has. Both need the end-entity certificate's DER, which
 * the wrapper keeps (up to NC_CERT_MAX bytes) while the chain is being checked. */
struct name_check {
	const br_x509_class *vtable;
	const br_x509_class **inner;
	const char *name;
	unsigned char ip[16];
	size_t ip_len; /* 4 or 16 when name is an IP literal, else 0 */
	unsigned char *ee;
	size_t ee_len, ee_cap;
	unsigned certs; /* certificates started in this chain */
	char names[200]; /* the certificate's names, after a mismatch */
	int keep;        /* server asking for client certificates: keep the leaf for its names */
	int verified;    /* the chain validated (server side: a client certificate was shown) */
};

#define NX_TLS_READAHEAD 2048 /* small records come in whole with one recv */

struct nx_tls {
	int fd;
	int is_client;
	int hs_done;
	int eof;
	int failed;
	int wfailed; /* sending failed (peer gone): what it sent before may still be read */
	int br_err;
	char err[600];
	char werr[120];
	char server_name[256];
	const char *alpn[ALPN_MAX];
	char alpn_buf[ALPN_MAX][32];
	br_ssl_engine_context *eng;
	br_x509_minimal_context *xc; /* validates the peer: a client, or a server asking */
	struct name_check nc;
	union {
		br_ssl_client_context cc;
		br_ssl_server_context sc;
	} u;
	/* Read-ahead: BearSSL asks for a record's 5-byte header, then its body; small records
	 * come in with one recv into ra instead of two. drained: the last recv came back short,
	 * so the socket was empty then; the next read says AGAIN without asking the kernel
	 * (once: level-triggered epoll or poll reports what arrives after). That saves the
	 * EAGAIN recv of a read-until-AGAIN loop; a caller that stops reading earlier gets one
	 * early AGAIN on its next read, and one more round from its poller. */
	uint16_t ra_off, ra_len;
	int drained;
	unsigned char ra[NX_TLS_READAHEAD];
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
};

/* Verify the peer's certificate through the name check (tls_peer.c): name is the server
 * name or IP literal to match (NULL: none, a server checking client certificates); keep:
 * hold the verified leaf for nx_tls_peer_cert_names(). c->xc must be set. Returns 1 when
 * name is an IP literal. */
int nx_tls_check_names(struct nx_tls *c, const char *name, int keep);

#endif
