/* acme.h — an ACME client (RFC 8555) for HTTP-01 certificates: account, order,
 * authorizations, challenge answer, finalize with a CSR, download of the chain.
 *
 *   struct nx_acme_config cfg = {.directory_url = "https://acme.example/dir",
 *       .email = "ops@example.com", .hostnames = {"hub.example.com"}, .nhostnames = 1,
 *       .state_dir = "/var/lib/nexus/acme", .challenge_dir = "/run/nexus/acme-challenge"};
 *   struct nx_acme_result res;
 *   if (nx_acme_obtain(&cfg, &res, err, sizeof err) < 0) ...   // blocks (libcurl)
 *
 * state_dir holds the account key (account.key, ES256, mode 0600, made on first use) and
 * the result, cert.pem: the certificate chain followed by its private key (mode 0600), so
 * the one file serves as both the certificate and the key of a TLS server. The HTTP-01
 * answers go to challenge_dir as files named by the token holding the key authorization,
 * for whoever serves /.well-known/acme-challenge/ (nexus-relay --acme-challenge-dir); they
 * are removed when the order is done.
 *
 * The flow blocks: run it in a thread or a child, never on an event loop. It retries a
 * request refused with badNonce (with the fresh nonce), skips authorizations that are
 * already valid, honours Retry-After while polling, and on rateLimited fails with the time
 * to retry at in res->retry_at. Everything the server answers is untrusted and goes
 * through the pure parsers of acme_json.c (fuzzed by tests/fuzz/fuzz_acme_json.c). */
#ifndef NEXUS_ACME_H
#define NEXUS_ACME_H
#include <stddef.h>
#include <stdint.h>

#include "core/log.h"

#define NX_ACME_MAX_NAMES 8
#define NX_ACME_URL_MAX 1024
#define NX_ACME_TOKEN_MAX 128
#define NX_ACME_CERT_FILE "cert.pem"
#define NX_ACME_ACCOUNT_FILE "account.key"

struct nx_acme_config {
	const char *directory_url;
	const char *email;          /* NULL: an account without contact */
	const char *hostnames[NX_ACME_MAX_NAMES];
	size_t nhostnames;
	const char *state_dir;
	const char *challenge_dir;
	const char *ca_file;        /* PEM bundle to trust the ACME server with; NULL: system */
	uint64_t poll_ms;           /* between polls without Retry-After (default 1000) */
	uint64_t timeout_ms;        /* the whole flow (default 120000) */
	nx_log_sink_fn log;         /* progress lines; NULL: none. Called from the caller's */
	void *log_arg;              /* thread: the sink must be safe there */
};

struct nx_acme_result {
	int64_t not_before, not_after; /* the new certificate's validity (unix seconds) */
	char serial[80];               /* hex */
	int64_t retry_at;              /* on failure: the server said retry then (0: not said) */
};

/* Obtain a certificate for cfg->hostnames into state_dir/cert.pem. 0, or -1 with err. */
int nx_acme_obtain(const struct nx_acme_config *cfg, struct nx_acme_result *res, char *err,
                   size_t errlen);

/* The leaf certificate of a PEM file: validity (not_before <= not_after) and serial. 0, or
 * -1 with err (unreadable, or valid at no time). */
int nx_acme_cert_info(const char *path, int64_t *not_before, int64_t *not_after,
                      char serial[80], char *err, size_t errlen);

/* 1 if the leaf of a PEM file has a dNSName SAN for each of names (case-insensitive),
 * 0 if one is missing, -1 with err when it cannot be read. */
int nx_acme_cert_covers(const char *path, const char *const *names, size_t n, char *err,
                        size_t errlen);

/* When to try again after a failed order: at the CA's rateLimited time if it said one
 * (server_retry_at > 0), else after a backoff doubling from 10 s to an hour with each
 * consecutive failure. Counts this failure in *failures (the caller zeroes it on success). */
int64_t nx_acme_retry_at(unsigned *failures, int64_t server_retry_at);

/* cert.pem (chain then key) as TLS server credentials, when its leaf is still valid: its
 * serial and expiry, and when to renew it (nx_acme_renew_at with fresh jitter). NULL with
 * err (unreadable, expired, does not load). For the daemons that install what nx_acme_obtain
 * wrote. */
struct nx_tls_server_creds;
struct nx_tls_server_creds *nx_acme_cert_load(const char *path, char serial[80],
                                              int64_t *not_after, int64_t *renew_at, char *err,
                                              size_t errlen);

/* When to renew a certificate valid from nb to na: at 2/3 of its life, minus up to 1/18 of
 * it (jitter, from `rnd`, any 32-bit value), so a fleet does not renew in step. */
int64_t nx_acme_renew_at(int64_t nb, int64_t na, uint32_t rnd);

/* acme_answer.c: the answer to an HTTP-01 validation request q (GET or HEAD
 * /.well-known/acme-challenge/TOKEN) from the file TOKEN in dir: a whole HTTP/1.1 response
 * in resp (200 with the key authorization, or 404), its length; *found says which. -1 when
 * q is not such a request (route it as usual) or resp is too small. */
#define NX_ACME_KEYAUTH_MAX 512 /* token + "." + thumbprint is well under this */
#define NX_ACME_REPLY_MAX (NX_ACME_KEYAUTH_MAX + 256)
struct nx_http_req;
int nx_acme_http01_reply(const char *dir, const struct nx_http_req *q, char *resp, size_t cap,
                         int *found);

/* 1 if s (n bytes) can be an HTTP-01 token: 1..NX_ACME_TOKEN_MAX base64url characters.
 * What the client writes and the relay serves is checked with this. */
int nx_acme_token_ok(const char *s, size_t n);

#endif
