/* tls.c — a BearSSL engine on a non-blocking fd; the poll set follows the engine state. */
#include <bearssl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/loop.h"
#include "core/util.h"
#include "wire/tls_int.h"

/* ---- error texts ----------------------------------------------------------------------- */

static const char *alert_name(int a)
{
	switch (a) {
	case 0: return "close_notify";
	case 10: return "unexpected_message";
	case 20: return "bad_record_mac";
	case 40: return "handshake_failure";
	case 42: return "bad_certificate";
	case 43: return "unsupported_certificate";
	case 44: return "certificate_revoked";
	case 45: return "certificate_expired";
	case 46: return "certificate_unknown";
	case 47: return "illegal_parameter";
	case 48: return "unknown_ca";
	case 50: return "decode_error";
	case 51: return "decrypt_error";
	case 70: return "protocol_version";
	case 71: return "insufficient_security";
	case 80: return "internal_error";
	case 90: return "user_canceled";
	case 109: return "missing_extension";
	case 112: return "unrecognized_name";
	case 120: return "no_application_protocol";
	default: return "alert";
	}
}

const char *nx_tls_strerror(int e)
{
	static __thread char buf[96];
	if (e >= BR_ERR_SEND_FATAL_ALERT) {
		snprintf(buf, sizeof buf, "we sent TLS alert %d (%s)", e - BR_ERR_SEND_FATAL_ALERT,
		         alert_name(e - BR_ERR_SEND_FATAL_ALERT));
		return buf;
	}
	if (e >= BR_ERR_RECV_FATAL_ALERT) {
		snprintf(buf, sizeof buf, "peer sent TLS alert %d (%s)", e - BR_ERR_RECV_FATAL_ALERT,
		         alert_name(e - BR_ERR_RECV_FATAL_ALERT));
		return buf;
	}
	switch (e) {
	case BR_ERR_OK: return "no error";
	case BR_ERR_UNSUPPORTED_VERSION: return "peer does not support TLS 1.2";
	case BR_ERR_BAD_VERSION: return "bad TLS version";
	case BR_ERR_BAD_LENGTH: case BR_ERR_TOO_LARGE: return "malformed TLS record";
	case BR_ERR_BAD_MAC: return "bad record MAC (corrupted or tampered data)";
	case BR_ERR_NO_RANDOM: return "no random source";
	case BR_ERR_UNKNOWN_TYPE: case BR_ERR_UNEXPECTED: return "unexpected TLS message (not TLS?)";
	case BR_ERR_BAD_HANDSHAKE: return "malformed TLS handshake";
	case BR_ERR_BAD_CIPHER_SUITE: return "no common cipher suite";
	case BR_ERR_BAD_SNI: return "bad server name indication";
	case BR_ERR_BAD_SIGNATURE: return "bad handshake signature";
	case BR_ERR_WRONG_KEY_USAGE: return "certificate key usage does not allow this";
	case BR_ERR_NO_CLIENT_AUTH: return "client certificate required";
	case BR_ERR_IO: return "I/O error";
	case BR_ERR_X509_EXPIRED: return "certificate expired or not yet valid";
	case BR_ERR_X509_BAD_SERVER_NAME: return "certificate does not match host";
	case BR_ERR_X509_NOT_TRUSTED: return "certificate is not trusted (unknown CA)";
	case BR_ERR_X509_NOT_CA: return "certificate chain has a non-CA issuer";
	case BR_ERR_X509_BAD_SIGNATURE: return "certificate signature is invalid";
	case BR_ERR_X509_EMPTY_CHAIN: return "server sent no certificate";
	case BR_ERR_X509_WEAK_PUBLIC_KEY: return "certificate key is too weak";
	case BR_ERR_X509_UNSUPPORTED: return "certificate uses an unsupported algorithm";
	case BR_ERR_X509_CRITICAL_EXTENSION: return "certificate has an unknown critical extension";
	case BR_ERR_X509_FORBIDDEN_KEY_USAGE: return "certificate key usage forbids TLS";
	case BR_ERR_X509_TIME_UNKNOWN: return "cannot check certificate validity time";
	default:
		if (e >= BR_ERR_X509_OK && e < 64)
			snprintf(buf, sizeof buf, "malformed certificate (X.509 error %d)", e);
		else
			snprintf(buf, sizeof buf, "TLS error %d", e);
		return buf;
	}
}

/* ---- construction ---------------------------------------------------------------------- */

static struct nx_tls *conn_new(int fd, const char *const *alpn, char *err, size_t errlen)
{
	struct nx_tls *c = calloc(1, sizeof *c);
	if (!c) {
		nx_err(err, errlen, "out of memory for a TLS connection");
		return NULL;
	}
	c->fd = fd;
	size_t n = 0;
	for (; alpn && alpn[n] && n < ALPN_MAX; n++) {
		snprintf(c->alpn_buf[n], sizeof c->alpn_buf[n], "%s", alpn[n]);
		c->alpn[n] = c->alpn_buf[n];
	}
	return c;
}

/* Suite preference: BearSSL's full profiles put ChaCha20-Poly1305 first, which is right
 * without AES hardware. With AES-NI and PCLMUL, AES-GCM is several times cheaper (measured
 * through relay → hub → tunnel: ChaCha20 was most of the hub's CPU on bulk transfers), so
 * move the ECDHE AES-GCM suites ahead of ChaCha20 there; the rest keep their order. */
static int suite_rank(uint16_t s)
{
	switch (s) {
	case BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:
	case BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:
	case BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:
	case BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:
		return 0;
	case BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256:
	case BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:
		return 1;
	default:
		return 2;
	}
}

static void prefer_hw_aes(br_ssl_engine_context *eng)
{
	if (!br_aes_x86ni_ctr_get_vtable() || !br_ghash_pclmul_get())
		return;
	uint16_t sorted[48];
	size_t n = eng->suites_num, o = 0;
	if (n > sizeof sorted / sizeof sorted[0])
		return;
	for (int rank = 0; rank <= 2; rank++)
		for (size_t i = 0; i < n; i++)
			if (suite_rank(eng->suites_buf[i]) == rank)
				sorted[o++] = eng->suites_buf[i];
	br_ssl_engine_set_suites(eng, sorted, n);
}

static void engine_common(struct nx_tls *c)
{
	prefer_hw_aes(c->eng);
	size_t n = 0;
	while (n < ALPN_MAX && c->alpn[n])
		n++;
	br_ssl_engine_set_versions(c->eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_buffer(c->eng, c->iobuf, sizeof c->iobuf, 1);
	/* renegotiation would let reads depend on writes after the handshake */
	br_ssl_engine_add_flags(c->eng, BR_OPT_NO_RENEGOTIATION);
	if (n)
		br_ssl_engine_set_protocol_names(c->eng, c->alpn, n);
}

struct nx_tls *nx_tls_server_new(const struct nx_tls_server_creds *creds, int fd,
                                 const char *const *alpn, char *err, size_t errlen)
{
	struct nx_tls *c = conn_new(fd, alpn, err, errlen);
	if (!c)
		return NULL;
	br_ssl_server_context *sc = &c->u.sc;
	if (creds->key_type == BR_KEYTYPE_RSA)
		br_ssl_server_init_full_rsa(sc, creds->chain, creds->chain_len,
		                            br_skey_decoder_get_rsa(&creds->skey));
	else
		br_ssl_server_init_full_ec(sc, creds->chain, creds->chain_len, creds->issuer_key_type,
		                           br_skey_decoder_get_ec(&creds->skey));
	c->eng = &sc->eng;
	engine_common(c);
	if (!br_ssl_server_reset(sc)) {
		nx_err(err, errlen, "TLS server reset failed: %s",
		       nx_tls_strerror(br_ssl_engine_last_error(c->eng)));
		nx_tls_free(c);
		return NULL;
	}
	return c;
}

struct nx_tls *nx_tls_client_new(const struct nx_tls_trust *trust, int fd,
                                 const char *server_name, const char *const *alpn, char *err,
                                 size_t errlen)
{
	if (!server_name || !*server_name) {
		nx_err(err, errlen, "no server name to verify the certificate against");
		return NULL;
	}
	struct nx_tls *c = conn_new(fd, alpn, err, errlen);
	if (!c)
		return NULL;
	c->is_client = 1;
	c->xc = calloc(1, sizeof *c->xc);
	if (!c->xc) {
		nx_err(err, errlen, "out of memory for a TLS connection");
		free(c);
		return NULL;
	}
	snprintf(c->server_name, sizeof c->server_name, "%s", server_name);
	br_ssl_client_context *cc = &c->u.cc;
	br_ssl_client_init_full(cc, c->xc, trust->anchors, trust->n);
	c->eng = &cc->eng;
	engine_common(c);
	const char *sni = c->server_name;
	if (nx_tls_check_names(c, c->server_name, 0))
		sni = NULL; /* RFC 6066: no IP literals in SNI */
	if (!br_ssl_client_reset(cc, sni, 0)) {
		nx_err(err, errlen, "TLS client reset failed: %s",
		       nx_tls_strerror(br_ssl_engine_last_error(c->eng)));
		nx_tls_free(c);
		return NULL;
	}
	return c;
}

void nx_tls_free(struct nx_tls *c)
{
	if (!c)
		return;
	if (c->xc)
		free(c->xc);
	free(c->nc.ee);
	nx_free_secret(c, sizeof *c);
}

size_t nx_tls_conn_size(const struct nx_tls *c)
{
	return sizeof *c + (c && c->xc ? sizeof *c->xc : 0);
}

/* ---- socket I/O ------------------------------------------------------------------------ */

static int fail_io(struct nx_tls *c, const char *what)
{
	if (!c->failed) {
		snprintf(c->err, sizeof c->err, "%s: %s", what, strerror(errno));
		c->failed = 1;
	}
	return NX_TLS_ERROR;
}

/* Engine closed: an error, or a clean close_notify. */
static int engine_closed(struct nx_tls *c)
{
	int e = br_ssl_engine_last_error(c->eng);
	if (e == BR_ERR_OK && c->hs_done)
		return NX_TLS_EOF;
	if (!c->failed) {
		c->br_err = e;
		if (e == BR_ERR_OK)
			snprintf(c->err, sizeof c->err, "peer closed during the TLS handshake");
		else if (e == BR_ERR_X509_BAD_SERVER_NAME && c->is_client)
			snprintf(c->err, sizeof c->err,
			         "certificate does not match %s '%s': it is for %s "
			         "(dial a name it has, or give one with --servername)",
			         c->nc.ip_len ? "IP address" : "host", c->server_name, c->nc.names);
		else
			snprintf(c->err, sizeof c->err, "%s", nx_tls_strerror(e));
		c->failed = 1;
	}
	return NX_TLS_ERROR;
}

/* Send buffered records. 1 progress, 0 nothing to send, AGAIN, ERROR. more: the caller
 * writes more at once (MSG_MORE: the kernel may join this record with the next into one
 * segment, one wake-up of the peer instead of two); the last send of a batch never has it,
 * so nothing waits. */
static int send_records_more(struct nx_tls *c, int more)
{
	int progress = 0;
	if (c->wfailed)
		return NX_TLS_ERROR;
	for (;;) {
		if (!(br_ssl_engine_current_state(c->eng) & BR_SSL_SENDREC))
			return progress;
		size_t len;
		unsigned char *p = br_ssl_engine_sendrec_buf(c->eng, &len);
		ssize_t w = send(c->fd, p, len, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return progress ? 1 : NX_TLS_AGAIN;
			/* not fatal for reading: a peer that closed may have said why first */
			snprintf(c->werr, sizeof c->werr, "send: %s", strerror(errno));
			c->wfailed = 1;
			return NX_TLS_ERROR;
		}
		br_ssl_engine_sendrec_ack(c->eng, (size_t)w);
		progress = 1;
	}
}

static int send_records(struct nx_tls *c) { return send_records_more(c, 0); }

/* Read records into the engine once. 1 progress, AGAIN, EOF (TCP), ERROR. */
static int recv_records(struct nx_tls *c)
{
	size_t len;
	unsigned char *p = br_ssl_engine_recvrec_buf(c->eng, &len);
	if (c->ra_len) {
		if (len > c->ra_len)
			len = c->ra_len;
		memcpy(p, c->ra + c->ra_off, len);
		c->ra_off = (uint16_t)(c->ra_off + len);
		c->ra_len = (uint16_t)(c->ra_len - len);
		br_ssl_engine_recvrec_ack(c->eng, len);
		return 1;
	}
	if (c->drained) {
		c->drained = 0;
		return NX_TLS_AGAIN;
	}
	/* A big body straight into the engine, and what follows it (the next header, the
	 * start of the next record) into ra in the same call; small records through ra. */
	int direct = len >= sizeof c->ra;
	struct iovec iov[2] = {{.iov_base = p, .iov_len = len},
	                       {.iov_base = c->ra, .iov_len = sizeof c->ra}};
	size_t want = direct ? len + sizeof c->ra : sizeof c->ra;
	for (;;) {
		ssize_t r = direct ? readv(c->fd, iov, 2) : recv(c->fd, c->ra, sizeof c->ra, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return NX_TLS_AGAIN;
			return fail_io(c, "recv");
		}
		if (r == 0) {
			c->eof = 1;
			return NX_TLS_EOF;
		}
		c->drained = (size_t)r < want;
		if (!direct) {
			c->ra_off = 0;
			c->ra_len = (uint16_t)r;
			return recv_records(c);
		}
		if ((size_t)r > len) {
			c->ra_off = 0;
			c->ra_len = (uint16_t)((size_t)r - len);
			r = (ssize_t)len;
		}
		br_ssl_engine_recvrec_ack(c->eng, (size_t)r);
		return 1;
	}
}

static int tcp_eof(struct nx_tls *c)
{
	if (c->hs_done)
		return NX_TLS_EOF; /* a Go peer ends without close_notify: treat as a normal end */
	if (!c->failed) {
		snprintf(c->err, sizeof c->err, "peer closed the connection during the TLS handshake");
		c->failed = 1;
	}
	return NX_TLS_ERROR;
}

unsigned nx_tls_want(const struct nx_tls *c)
{
	if (c->failed || c->eof)
		return 0;
	unsigned st = br_ssl_engine_current_state(c->eng);
	if (st & BR_SSL_CLOSED)
		return 0;
	unsigned ev = 0;
	if ((st & BR_SSL_SENDREC) && !c->wfailed)
		ev |= NX_EV_WRITE;
	if (st & BR_SSL_RECVREC)
		ev |= NX_EV_READ;
	return ev;
}

int nx_tls_handshake(struct nx_tls *c)
{
	if (c->hs_done)
		return 1;
	if (c->failed)
		return NX_TLS_ERROR;
	for (;;) {
		unsigned st = br_ssl_engine_current_state(c->eng);
		if (st & BR_SSL_CLOSED)
			return engine_closed(c);
		if (st & BR_SSL_SENDREC) {
			int r = send_records(c);
			if (r == NX_TLS_ERROR && c->wfailed && !c->failed) {
				snprintf(c->err, sizeof c->err, "%s", c->werr);
				c->failed = 1;
			}
			if (r < 0)
				return r;
			continue;
		}
		if (st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP)) {
			c->hs_done = 1;
			c->drained = 0; /* callers read after the handshake without waiting: ask */
			return 1;
		}
		if (st & BR_SSL_RECVREC) {
			int r = recv_records(c);
			if (r == NX_TLS_EOF)
				return tcp_eof(c);
			if (r < 0)
				return r;
			continue;
		}
		return NX_TLS_AGAIN;
	}
}

ssize_t nx_tls_read(struct nx_tls *c, void *buf, size_t n)
{
	const uint8_t *p;
	ssize_t len = nx_tls_peek(c, &p);
	if (len <= 0)
		return len;
	if ((size_t)len > n)
		len = (ssize_t)n;
	memcpy(buf, p, (size_t)len);
	nx_tls_consume(c, (size_t)len);
	return len;
}

void nx_tls_consume(struct nx_tls *c, size_t n) { br_ssl_engine_recvapp_ack(c->eng, n); }

ssize_t nx_tls_peek(struct nx_tls *c, const uint8_t **data)
{
	int h = nx_tls_handshake(c);
	if (h != 1)
		return h == NX_TLS_EOF ? NX_TLS_ERROR : h;
	if (c->eof)
		return NX_TLS_EOF;
	for (;;) {
		unsigned st = br_ssl_engine_current_state(c->eng);
		if (st & BR_SSL_RECVAPP) {
			size_t len;
			*data = br_ssl_engine_recvapp_buf(c->eng, &len);
			return (ssize_t)len;
		}
		if (st & BR_SSL_CLOSED)
			return engine_closed(c);
		int progress = 0;
		if ((st & BR_SSL_SENDREC) && !c->wfailed) {
			/* a blocked (or failed) send must not stop us from reading */
			int r = send_records(c);
			progress = r == 1;
		}
		if (st & BR_SSL_RECVREC) {
			int r = recv_records(c);
			if (r == NX_TLS_EOF)
				return NX_TLS_EOF;
			if (r == NX_TLS_ERROR)
				return r;
			progress |= r == 1;
		}
		if (!progress)
			return NX_TLS_AGAIN;
	}
}

int nx_tls_pending(const struct nx_tls *c)
{
	return !c->failed && ((br_ssl_engine_current_state(c->eng) & BR_SSL_RECVAPP) || c->ra_len);
}

ssize_t nx_tls_write(struct nx_tls *c, const void *buf, size_t n)
{
	return nx_tls_write_more(c, buf, n, 0);
}

ssize_t nx_tls_write_room(struct nx_tls *c, uint8_t **room)
{
	int h = nx_tls_handshake(c);
	if (h != 1)
		return h == NX_TLS_EOF ? NX_TLS_ERROR : h;
	if (c->wfailed)
		return NX_TLS_ERROR;
	for (;;) {
		unsigned st = br_ssl_engine_current_state(c->eng);
		if (st & BR_SSL_CLOSED) {
			if (engine_closed(c) == NX_TLS_EOF) {
				snprintf(c->err, sizeof c->err, "peer closed the TLS connection");
				c->failed = 1;
			}
			return NX_TLS_ERROR;
		}
		if (st & BR_SSL_SENDAPP) {
			size_t len;
			*room = br_ssl_engine_sendapp_buf(c->eng, &len);
			return (ssize_t)len;
		}
		if (st & BR_SSL_SENDREC) {
			/* a full record waits; we come back at once to fill the next one */
			int r = send_records_more(c, 1);
			if (r < 0)
				return r;
			if (r == 1)
				continue;
		}
		return NX_TLS_AGAIN;
	}
}

int nx_tls_write_commit(struct nx_tls *c, size_t n, int more)
{
	br_ssl_engine_sendapp_ack(c->eng, n); /* a full buffer becomes a record by itself */
	if (!more)
		br_ssl_engine_flush(c->eng, 0);
	return send_records_more(c, more) == NX_TLS_ERROR ? NX_TLS_ERROR : 0;
}

ssize_t nx_tls_write_more(struct nx_tls *c, const void *buf, size_t n, int more)
{
	uint8_t *room;
	ssize_t len = nx_tls_write_room(c, &room);
	if (len <= 0 || n == 0)
		return len < 0 ? len : 0;
	if ((size_t)len > n)
		len = (ssize_t)n;
	memcpy(room, buf, (size_t)len);
	/* a short take: the caller comes back with the rest at once (the record is sealed,
	 * the buffer was full) */
	if (nx_tls_write_commit(c, (size_t)len, more || (size_t)len < n) < 0)
		return NX_TLS_ERROR;
	return len;
}

int nx_tls_flush(struct nx_tls *c)
{
	if (c->failed || c->wfailed)
		return NX_TLS_ERROR;
	br_ssl_engine_flush(c->eng, 0);
	int r = send_records(c);
	if (r < 0)
		return r;
	return (br_ssl_engine_current_state(c->eng) & BR_SSL_SENDREC) ? NX_TLS_AGAIN : 0;
}

int nx_tls_close(struct nx_tls *c)
{
	if (c->failed || c->wfailed)
		return NX_TLS_ERROR;
	br_ssl_engine_close(c->eng);
	int r = send_records(c);
	if (r == NX_TLS_ERROR)
		return r;
	return (br_ssl_engine_current_state(c->eng) & BR_SSL_SENDREC) ? NX_TLS_AGAIN : 0;
}

const char *nx_tls_crypto_impl(int *fast)
{
	int aes = br_aes_x86ni_ctr_get_vtable() != NULL;
	int ghash = br_ghash_pclmul_get() != 0;
	if (fast)
		*fast = aes && ghash;
	return aes && ghash ? "aes=x86ni ghash=pclmul"
	       : aes        ? "aes=x86ni ghash=ctmul64 (no PCLMULQDQ)"
	       : ghash      ? "aes=ct64 ghash=pclmul (no AES-NI)"
	                    : "aes=ct64 ghash=ctmul64 (no AES-NI, no PCLMULQDQ)";
}

const char *nx_tls_error(const struct nx_tls *c)
{
	return c->failed ? c->err : c->wfailed ? c->werr : "";
}
int nx_tls_last_br_error(const struct nx_tls *c) { return c->br_err; }

const char *nx_tls_alpn(const struct nx_tls *c)
{
	return c->hs_done ? br_ssl_engine_get_selected_protocol(c->eng) : NULL;
}

const char *nx_tls_server_name(const struct nx_tls *c)
{
	if (c->is_client || !c->hs_done)
		return NULL;
	const char *s = br_ssl_engine_get_server_name(c->eng);
	return s && *s ? s : NULL;
}

unsigned nx_tls_version(const struct nx_tls *c)
{
	return c->hs_done ? br_ssl_engine_get_version(c->eng) : 0;
}

unsigned nx_tls_cipher_suite(const struct nx_tls *c)
{
	br_ssl_session_parameters sp;
	if (!c->hs_done)
		return 0;
	br_ssl_engine_get_session_parameters(c->eng, &sp);
	return sp.cipher_suite;
}
