/* TLS over a socketpair: both ends in one process, driven like the event loop drives them
 * (poll on nx_tls_want()). Keys in every format openssl writes: PKCS#8, PKCS#1, SEC1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bearssl.h>
#include "core/loop.h"
#include "wire/tls.h"
#include "core/util.h"

static char dir[] = "/tmp/nexus-test-tls.XXXXXX";

static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	char full[2300];
	snprintf(full, sizeof full, "cd %s && (%s) >/dev/null 2>&1", dir, cmd);
	if (system(full) != 0)
		fail_msg("command failed: %s", cmd);
}

static char *path(const char *name)
{
	static char buf[4][256];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
	return buf[i];
}

static int setup_pki(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	/* a CA, an RSA leaf (PKCS#8 and PKCS#1 copies of its key), an EC leaf (SEC1 key),
	 * and a second, unrelated CA */
	sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
	   "-out ca.crt -days 2 -subj /CN=test-ca");
	sh("openssl req -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.csr -subj /CN=hub.test && "
	   "printf 'subjectAltName=DNS:hub.test,DNS:localhost\\n' > ext && "
	   "openssl x509 -req -in rsa.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
	   "-extfile ext -out rsa.crt && openssl rsa -in rsa.key -traditional -out rsa1.key");
	sh("openssl ecparam -name prime256v1 -genkey -noout -out ec.key && "
	   "openssl req -new -key ec.key -out ec.csr -subj /CN=hub.test && "
	   "openssl x509 -req -in ec.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
	   "-extfile ext -out ec.crt");
	sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec8.key && "
	   "openssl req -new -key ec8.key -out ec8.csr -subj /CN=hub.test && "
	   "openssl x509 -req -in ec8.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
	   "-extfile ext -out ec8.crt");
	sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.crt -days 2 "
	   "-subj /CN=other-ca");
	return 0;
}

static int teardown_pki(void **state)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void wait_for(struct nx_tls *a, int fa, struct nx_tls *b, int fb)
{
	struct pollfd p[2] = {{fa, 0, 0}, {fb, 0, 0}};
	unsigned wa = nx_tls_want(a), wb = nx_tls_want(b);
	p[0].events = (short)((wa & NX_EV_READ ? POLLIN : 0) | (wa & NX_EV_WRITE ? POLLOUT : 0));
	p[1].events = (short)((wb & NX_EV_READ ? POLLIN : 0) | (wb & NX_EV_WRITE ? POLLOUT : 0));
	if (poll(p, 2, 5000) <= 0)
		fail_msg("stuck: want a=%u b=%u (%s / %s)", wa, wb, nx_tls_error(a), nx_tls_error(b));
}

/* Handshake both; returns 1 if both finished, 0 if one failed. */
static int handshake(struct nx_tls *s, int fs, struct nx_tls *c, int fc)
{
	for (int i = 0; i < 1000; i++) {
		int rs = nx_tls_handshake(s), rc = nx_tls_handshake(c);
		if (rs == 1 && rc == 1)
			return 1;
		if (rs < 0 && rs != NX_TLS_AGAIN)
			return 0;
		if (rc < 0 && rc != NX_TLS_AGAIN)
			return 0;
		wait_for(s, fs, c, fc);
	}
	fail_msg("handshake did not finish");
	return 0;
}

struct pair {
	int fd[2];
	struct nx_tls_server_creds *creds;
	struct nx_tls_trust *trust;
	struct nx_tls *s, *c;
};

static void pair_open(struct pair *p, const char *crt, const char *key, const char *ca,
                      const char *name)
{
	char err[NX_ERRLEN];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p->fd), 0);
	p->creds = nx_tls_server_creds_load(path(crt), path(key), err, sizeof err);
	if (!p->creds)
		fail_msg("creds: %s", err);
	p->trust = nx_tls_trust_load(path(ca), err, sizeof err);
	assert_non_null(p->trust);
	const char *salpn[] = {"http/1.1", NULL}, *calpn[] = {"http/1.1", NULL};
	p->s = nx_tls_server_new(p->creds, p->fd[0], salpn, err, sizeof err);
	p->c = nx_tls_client_new(p->trust, p->fd[1], name, calpn, err, sizeof err);
	assert_non_null(p->s);
	assert_non_null(p->c);
}

static void pair_close(struct pair *p)
{
	nx_tls_free(p->s);
	nx_tls_free(p->c);
	nx_tls_server_creds_free(p->creds);
	nx_tls_trust_free(p->trust);
	close(p->fd[0]);
	close(p->fd[1]);
}

/* Move n bytes from a to b through TLS, both sides non-blocking. */
static void transfer(struct nx_tls *a, int fa, struct nx_tls *b, int fb, size_t n)
{
	unsigned char *src = malloc(n), *dst = malloc(n);
	for (size_t i = 0; i < n; i++)
		src[i] = (unsigned char)(i * 7 + 3);
	size_t sent = 0, got = 0;
	while (got < n) {
		int progress = 0;
		if (sent < n) {
			/* write until the engine is full: AGAIN is the only time to wait */
			ssize_t w = nx_tls_write(a, src + sent, n - sent);
			assert_true(w > 0 || w == NX_TLS_AGAIN);
			if (w > 0) {
				sent += (size_t)w;
				progress = 1;
			}
		} else {
			int f = nx_tls_flush(a);
			assert_true(f == 0 || f == NX_TLS_AGAIN);
		}
		for (;;) {
			ssize_t r = nx_tls_read(b, dst + got, n - got);
			if (r == NX_TLS_AGAIN)
				break;
			assert_true(r > 0);
			got += (size_t)r;
			progress = 1;
		}
		if (got < n && !progress)
			wait_for(a, fa, b, fb);
	}
	assert_memory_equal(src, dst, n);
	free(src);
	free(dst);
}

static void roundtrip(const char *crt, const char *key)
{
	struct pair p;
	pair_open(&p, crt, key, "ca.crt", "hub.test");
	assert_int_equal(handshake(p.s, p.fd[0], p.c, p.fd[1]), 1);
	assert_int_equal(nx_tls_version(p.c), 0x0303);
	assert_string_equal(nx_tls_alpn(p.c), "http/1.1");
	assert_string_equal(nx_tls_server_name(p.s), "hub.test");
	/* with AES hardware both ends agree on AES-GCM (ChaCha20 costs several times more) */
	unsigned suite = nx_tls_cipher_suite(p.c);
	if (br_aes_x86ni_ctr_get_vtable() && br_ghash_pclmul_get())
		assert_true(suite == BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 ||
		            suite == BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
	else
		assert_true(suite == BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 ||
		            suite == BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256);
	transfer(p.c, p.fd[1], p.s, p.fd[0], 200000);
	transfer(p.s, p.fd[0], p.c, p.fd[1], 70000);
	/* close_notify from the client: the server reads EOF */
	int r = nx_tls_close(p.c);
	assert_true(r == 0 || r == NX_TLS_AGAIN);
	ssize_t n;
	char b[16];
	for (int i = 0; i < 100 && (n = nx_tls_read(p.s, b, sizeof b)) == NX_TLS_AGAIN; i++)
		wait_for(p.s, p.fd[0], p.c, p.fd[1]);
	assert_int_equal(n, NX_TLS_EOF);
	/* BearSSL's full-duplex buffer (33 KiB), its context and our 2 KiB read-ahead */
	assert_true(nx_tls_conn_size(p.s) < 42 * 1024);
	assert_true(nx_tls_conn_size(p.c) < 46 * 1024);
	pair_close(&p);
}

/* Many small records in the socket at once: the read-ahead takes several per recv. A
 * reader that stops after one message must be told more is there (nx_tls_pending), and
 * must then get every byte without the fd becoming readable again: nothing may be left
 * in the read-ahead where no readiness event would announce it. */
static void read_ahead_strands_nothing(void **state)
{
	struct pair p;
	pair_open(&p, "ec8.crt", "ec8.key", "ca.crt", "hub.test");
	assert_true(handshake(p.s, p.fd[0], p.c, p.fd[1]));
	char msg[100];
	for (int i = 0; i < 20; i++) { /* 20 records of 100 bytes, each sealed on its own */
		memset(msg, 'a' + i, sizeof msg);
		assert_int_equal(nx_tls_write(p.c, msg, sizeof msg), (ssize_t)sizeof msg);
	}
	struct pollfd pf = {p.fd[0], POLLIN, 0};
	assert_int_equal(poll(&pf, 1, 5000), 1);
	char got[2000];
	assert_int_equal(nx_tls_read(p.s, got, 100), 100);
	assert_true(nx_tls_pending(p.s));
	size_t have = 100;
	ssize_t n;
	while (have < sizeof got && (n = nx_tls_read(p.s, got + have, sizeof got - have)) > 0)
		have += (size_t)n;
	assert_int_equal(have, sizeof got); /* all 20, none waiting for the fd */
	for (int i = 0; i < 20; i++)
		assert_int_equal(got[i * 100], 'a' + i);
	/* and now the socket is drained: AGAIN, then AGAIN again (a real recv) */
	assert_int_equal(nx_tls_read(p.s, got, sizeof got), NX_TLS_AGAIN);
	assert_int_equal(nx_tls_read(p.s, got, sizeof got), NX_TLS_AGAIN);
	assert_false(nx_tls_pending(p.s));
	pair_close(&p);
}

/* nx_tls_peek shows the decrypted bytes in place: a partial consume leaves the rest for
 * the next peek, a write between peek and consume does not disturb them. */
static void peek_then_consume(void **state)
{
	struct pair p;
	pair_open(&p, "ec8.crt", "ec8.key", "ca.crt", "hub.test");
	assert_true(handshake(p.s, p.fd[0], p.c, p.fd[1]));
	assert_int_equal(nx_tls_write(p.c, "hello, world", 12), 12);
	struct pollfd pf = {p.fd[0], POLLIN, 0};
	assert_int_equal(poll(&pf, 1, 5000), 1);
	const uint8_t *d;
	assert_int_equal(nx_tls_peek(p.s, &d), 12);
	assert_memory_equal(d, "hello, world", 12);
	assert_int_equal(nx_tls_write(p.s, "reply", 5), 5); /* the other direction meanwhile */
	assert_memory_equal(d, "hello, world", 12);
	nx_tls_consume(p.s, 7);
	assert_int_equal(nx_tls_peek(p.s, &d), 5);
	assert_memory_equal(d, "world", 5);
	nx_tls_consume(p.s, 5);
	assert_int_equal(nx_tls_peek(p.s, &d), NX_TLS_AGAIN);
	char got[8];
	pf.fd = p.fd[1];
	assert_int_equal(poll(&pf, 1, 5000), 1);
	assert_int_equal(nx_tls_read(p.c, got, sizeof got), 5);
	assert_memory_equal(got, "reply", 5);
	pair_close(&p);
}

static void rsa_pkcs8(void **state) { roundtrip("rsa.crt", "rsa.key"); }
static void rsa_pkcs1(void **state) { roundtrip("rsa.crt", "rsa1.key"); }
static void ec_sec1(void **state) { roundtrip("ec.crt", "ec.key"); }
static void ec_pkcs8(void **state) { roundtrip("ec8.crt", "ec8.key"); }

static void wrong_host_is_refused(void **state)
{
	struct pair p;
	pair_open(&p, "rsa.crt", "rsa.key", "ca.crt", "evil.test");
	assert_int_equal(handshake(p.s, p.fd[0], p.c, p.fd[1]), 0);
	const char *e = nx_tls_error(p.c);
	assert_non_null(strstr(e, "certificate does not match host 'evil.test': it is for "));
	assert_non_null(strstr(e, "--servername"));
	pair_close(&p);
}

static void unknown_ca_is_refused(void **state)
{
	struct pair p;
	pair_open(&p, "rsa.crt", "rsa.key", "other.crt", "hub.test");
	assert_int_equal(handshake(p.s, p.fd[0], p.c, p.fd[1]), 0);
	assert_string_equal(nx_tls_error(p.c), "certificate is not trusted (unknown CA)");
	pair_close(&p);
}

static void peer_eof_during_handshake(void **state)
{
	char err[NX_ERRLEN];
	int fd[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd), 0);
	struct nx_tls_trust *t = nx_tls_trust_load(path("ca.crt"), err, sizeof err);
	struct nx_tls *c = nx_tls_client_new(t, fd[1], "hub.test", NULL, err, sizeof err);
	assert_int_equal(nx_tls_handshake(c), NX_TLS_AGAIN); /* ClientHello sent, no answer */
	assert_int_equal(nx_tls_want(c), NX_EV_READ);
	char hello[4096];
	assert_true(read(fd[0], hello, sizeof hello) > 0); /* else the close is a reset */
	close(fd[0]);
	assert_int_equal(nx_tls_handshake(c), NX_TLS_ERROR);
	if (!strstr(nx_tls_error(c), "closed"))
		fail_msg("error: %s", nx_tls_error(c));
	nx_tls_free(c);
	nx_tls_trust_free(t);
	close(fd[1]);
}

static void bad_credentials(void **state)
{
	char err[NX_ERRLEN];
	assert_null(nx_tls_server_creds_load(path("rsa.crt"), path("ec.key"), err, sizeof err));
	assert_non_null(strstr(err, "does not match"));
	assert_null(nx_tls_server_creds_load(path("rsa.crt"), path("rsa.crt"), err, sizeof err));
	assert_non_null(strstr(err, "no private key"));
	assert_null(nx_tls_server_creds_load(path("nope.crt"), path("rsa.key"), err, sizeof err));
	assert_null(nx_tls_trust_load(path("rsa.key"), err, sizeof err));
	assert_non_null(strstr(err, "no usable CA"));
	/* the system bundle loads (if the machine has one) */
	if (access(NX_TLS_SYSTEM_CA_FILE, R_OK) == 0) {
		struct nx_tls_trust *t = nx_tls_trust_load(NULL, err, sizeof err);
		assert_non_null(t);
		assert_true(nx_tls_trust_count(t) > 10);
		nx_tls_trust_free(t);
	}
}

/* The AES-GCM code BearSSL picks follows the CPU's flags: hardware paths exactly when
 * /proc/cpuinfo lists aes and pclmulqdq. */
static void crypto_impl_follows_the_cpu(void **state)
{
	(void)state;
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		skip();
	char line[4096];
	int aes = 0, pcl = 0;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "flags", 5) == 0) {
			aes = strstr(line, " aes") != NULL;
			pcl = strstr(line, " pclmulqdq") != NULL;
			break;
		}
	fclose(f);
	int fast = -1;
	const char *impl = nx_tls_crypto_impl(&fast);
	assert_non_null(impl);
	assert_int_equal(fast, aes && pcl);
	assert_int_equal(strstr(impl, "aes=x86ni") != NULL, aes);
	assert_int_equal(strstr(impl, "ghash=pclmul") != NULL, pcl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rsa_pkcs8),
		cmocka_unit_test(rsa_pkcs1),
		cmocka_unit_test(ec_sec1),
		cmocka_unit_test(ec_pkcs8),
		cmocka_unit_test(wrong_host_is_refused),
		cmocka_unit_test(unknown_ca_is_refused),
		cmocka_unit_test(peer_eof_during_handshake),
		cmocka_unit_test(bad_credentials),
		cmocka_unit_test(crypto_impl_follows_the_cpu),
		cmocka_unit_test(read_ahead_strands_nothing),
		cmocka_unit_test(peek_then_consume),
	};
	return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
