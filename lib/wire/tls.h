/* tls.h — BearSSL TLS 1.2 on a non-blocking socket, driven by the event loop (s6 style).
 *
 * Two kinds of objects:
 *   - credentials, loaded once and shared read-only by many connections:
 *       struct nx_tls_server_creds (certificate chain + private key, for the hub) and
 *       struct nx_tls_trust (trust anchors, for a client);
 *   - struct nx_tls, one per connection, bound to an fd it does NOT own (nx_tls_free never
 *     closes the fd; the caller removes it from the loop and closes it).
 *
 * Driving a connection from the loop:
 *   1. create it (nx_tls_server_new / nx_tls_client_new) on a connected non-blocking fd;
 *   2. register the fd with nx_tls_want(c) as the interest;
 *   3. in the fd callback call nx_tls_handshake() until it returns 1, then nx_tls_read()
 *      until it returns NX_TLS_AGAIN (the engine can hold decrypted bytes that no longer
 *      show up as fd readiness: always drain to AGAIN), nx_tls_write() what you have;
 *   4. after every callback set the interest again: nx_loop_mod(loop, fd, nx_tls_want(c)).
 * Writing: call nx_tls_write() while it accepts bytes; NX_TLS_AGAIN is the only signal to
 * wait (the engine then holds records to send, so nx_tls_want() includes NX_EV_WRITE and
 * the fd callback is where to resume). The poll set never says "the app may write".
 * nx_tls_want() derives the poll set from the engine state: SENDREC (records to send) →
 * NX_EV_WRITE, RECVREC (engine wants record bytes) → NX_EV_READ. Backpressure is natural:
 * while the application leaves decrypted data unread, the engine does not want records, so
 * the fd leaves the read set. A caller that wants to pause input before it has read anything
 * may mask NX_EV_READ off once nx_tls_handshake() has returned 1.
 *
 * Return values of the I/O calls: > 0 bytes moved; NX_TLS_AGAIN would block (wait for
 * nx_tls_want()); NX_TLS_EOF the peer closed (close_notify, or TCP EOF after the handshake —
 * a Go peer just closes); NX_TLS_ERROR fatal, reason in nx_tls_error(c). After EOF or ERROR
 * the only useful call is nx_tls_free() — with one exception: when a write failed because
 * the peer is gone (EPIPE, reset), nx_tls_read() still returns what the peer sent before
 * (say, a WebSocket close frame with its reason) until EOF, and nx_tls_want() only asks
 * for reads.
 *
 * Per-connection memory: one BR_SSL_BUFSIZE_BIDI record buffer (33 178 bytes: 16 709 in,
 * 16 469 out — the input side must take a full 16 KiB record, which every peer may send)
 * plus the BearSSL context: 37 992 bytes per server connection, 41 160 per client (its
 * X.509 validator) on x86-64, in one allocation (nx_tls_conn_size()). Credentials are
 * shared and not counted.
 *
 * Only TLS 1.2 (BearSSL 0.6 has no 1.3). ALPN: a client offers what it is given (never h2
 * unless asked); a server with ALPN names picks one or goes on without ALPN. */
#ifndef NEXUS_TLS_H
#define NEXUS_TLS_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wire/x509_names.h"

enum {
	NX_TLS_AGAIN = -2,
	NX_TLS_ERROR = -1,
	NX_TLS_EOF = 0,
};

/* The system CA bundle used when a client gives no CA file. */
#define NX_TLS_SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

struct nx_tls_server_creds;
struct nx_tls_trust;
struct nx_tls;

/* Certificate chain (PEM, leaf first) and private key (PEM: PKCS#8 "PRIVATE KEY", PKCS#1
 * "RSA PRIVATE KEY" or SEC1 "EC PRIVATE KEY"; RSA or EC P-256/384/521). The key must
 * match the leaf certificate. Key material is wiped when the creds are freed. */
struct nx_tls_server_creds *nx_tls_server_creds_load(const char *cert_file,
                                                     const char *key_file, char *err,
                                                     size_t errlen);
void nx_tls_server_creds_free(struct nx_tls_server_creds *creds);

/* Trust anchors from a PEM file of CA certificates; NULL means NX_TLS_SYSTEM_CA_FILE.
 * A file without a single usable certificate is an error. */
struct nx_tls_trust *nx_tls_trust_load(const char *ca_file, char *err, size_t errlen);
void nx_tls_trust_free(struct nx_tls_trust *trust);
size_t nx_tls_trust_count(const struct nx_tls_trust *trust);

/* Server side of a connection on fd. alpn: NULL-terminated list of protocol names the
 * server accepts (NULL = no ALPN). creds must outlive the connection. */
struct nx_tls *nx_tls_server_new(const struct nx_tls_server_creds *creds, int fd,
                                 const char *const *alpn, char *err, size_t errlen);

/* Client side of a connection on fd. server_name: the host name to send as SNI and to
 * check the certificate against (DNS names in SAN / CN, wildcards as BearSSL does). An IP
 * literal (IPv4 or IPv6) is not sent as SNI and must equal one of the certificate's
 * iPAddress SANs byte for byte; a DNS name or CN never matches an IP. On a mismatch the
 * error lists the names the certificate has.
 * Never NULL: there is no "skip verification" mode.
 * alpn: NULL-terminated list to offer (e.g. {"http/1.1", NULL}) or NULL for none.
 * trust must outlive the connection. */
struct nx_tls *nx_tls_client_new(const struct nx_tls_trust *trust, int fd,
                                 const char *server_name, const char *const *alpn, char *err,
                                 size_t errlen);

/* Frees the connection (record buffers wiped). Does not close the fd and sends nothing;
 * call nx_tls_close() first for a polite close_notify. NULL is a no-op. */
void nx_tls_free(struct nx_tls *c);

/* NX_EV_READ / NX_EV_WRITE (loop.h) the engine needs now; 0 once it is closed or failed. */
unsigned nx_tls_want(const struct nx_tls *c);

/* Run the handshake as far as the socket allows. 1 = done (application data may flow),
 * NX_TLS_AGAIN, NX_TLS_EOF (peer closed during the handshake), NX_TLS_ERROR. Cheap to call
 * again after it returned 1. */
int nx_tls_handshake(struct nx_tls *c);

/* Decrypted bytes into buf (at most n). Also sends pending records and reads new ones as
 * needed. Returns bytes, NX_TLS_AGAIN, NX_TLS_EOF, NX_TLS_ERROR. */
ssize_t nx_tls_read(struct nx_tls *c, void *buf, size_t n);
/* nx_tls_read without the copy: *data points at the decrypted bytes inside the engine
 * (the return value says how many, or NX_TLS_AGAIN, NX_TLS_EOF, NX_TLS_ERROR). They stay
 * put, and writes may go on meanwhile, until nx_tls_consume(c, n) takes the first n of them
 * (n <= what peek returned), nx_tls_read() or nx_tls_free(). */
ssize_t nx_tls_peek(struct nx_tls *c, const uint8_t **data);
void nx_tls_consume(struct nx_tls *c, size_t n);

/* 1 if decrypted bytes, or bytes read ahead from the socket, are waiting (nx_tls_read would
 * not need the fd: no readiness event comes for them). */
int nx_tls_pending(const struct nx_tls *c);

/* Copy up to n bytes into the engine and push the resulting records to the socket as far
 * as it takes them. Returns bytes accepted (possibly fewer than n: the record buffer is
 * full — retry the rest when nx_tls_want() says writable), NX_TLS_AGAIN (nothing
 * accepted), NX_TLS_ERROR. Every call ends with a flush, so a short message never waits. */
ssize_t nx_tls_write(struct nx_tls *c, const void *buf, size_t n);
/* The same, but with more: more bytes follow at once, so they may share a record (one
 * record and one send for many small messages); the last write of a batch has more = 0, or
 * call nx_tls_flush(). */
ssize_t nx_tls_write_more(struct nx_tls *c, const void *buf, size_t n, int more);
/* nx_tls_write_more without the copy: *room is where the next application bytes go, the
 * return value how many fit (> 0), or NX_TLS_AGAIN, NX_TLS_ERROR. Write k <= that many
 * there, then nx_tls_write_commit(c, k, more) (0 or NX_TLS_ERROR) sends as
 * nx_tls_write_more would have. */
ssize_t nx_tls_write_room(struct nx_tls *c, uint8_t **room);
int nx_tls_write_commit(struct nx_tls *c, size_t n, int more);

/* Push records still buffered to the socket. 0 = all sent, NX_TLS_AGAIN, NX_TLS_ERROR. */
int nx_tls_flush(struct nx_tls *c);

/* Send close_notify (best effort, non-blocking) and stop. Returns 0 when it went out,
 * NX_TLS_AGAIN if records are still buffered (call nx_tls_flush later, or just free). */
int nx_tls_close(struct nx_tls *c);

/* Why the connection failed, one line ("certificate does not match host", "peer closed
 * during handshake", "read: Connection reset by peer", ...). "" if it did not. */
const char *nx_tls_error(const struct nx_tls *c);
/* BearSSL's error code (BR_ERR_*, including alert codes), 0 if none. */
int nx_tls_last_br_error(const struct nx_tls *c);
/* A BearSSL error code as text. */
const char *nx_tls_strerror(int br_err);

/* Which AES-GCM code BearSSL's defaults pick on this CPU (it chooses at run time):
 * "aes=x86ni ghash=pclmul" on AES-NI + PCLMULQDQ, else the portable constant-time code.
 * *fast is 1 with the hardware paths (bulk costs about 1.15 s of CPU per GiB and pass at
 * 16 KiB records), 0 without (several times that). */
const char *nx_tls_crypto_impl(int *fast);

/* After the handshake: negotiated ALPN name (NULL if none), SNI the client sent (server
 * side; NULL if none), negotiated version (0x0303) and cipher suite. */
const char *nx_tls_alpn(const struct nx_tls *c);
const char *nx_tls_server_name(const struct nx_tls *c);
unsigned nx_tls_version(const struct nx_tls *c);
unsigned nx_tls_cipher_suite(const struct nx_tls *c);

/* Bytes one connection occupies (context + record buffers). */
size_t nx_tls_conn_size(const struct nx_tls *c);

/* Client certificates (mutual TLS), both optional:
 * a server connection asks for one validated against trust (before the handshake runs);
 * a client that shows none, or one whose chain does not validate, is still served as a
 * client without a certificate (BR_OPT_TOLERATE_NO_CLIENT_AUTH): nx_tls_peer_cert_verified()
 * then says 0 and the caller refuses what needs one. trust must outlive the connection. */
int nx_tls_server_ask_client_cert(struct nx_tls *c, const struct nx_tls_trust *trust, char *err,
                                  size_t errlen);
/* A client connection shows creds' chain and key when the server asks (creds outlive c). */
int nx_tls_client_cert(struct nx_tls *c, const struct nx_tls_server_creds *creds, char *err,
                       size_t errlen);
/* Server side, after the handshake: 1 if the client showed a certificate that validated. */
int nx_tls_peer_cert_verified(const struct nx_tls *c);
/* Its names (x509_names.h), in certificate order. 0, or -1 (none verified / unreadable). */
int nx_tls_peer_cert_names(const struct nx_tls *c, nx_x509_name_fn fn, void *arg);

#endif
