/* backends.h — nexus-hub's --backends file: a key and a grant per backend, like an SSH
 * authorized_keys file says which keys may log in and what each may do.
 *
 *   # NAME   KEY                                   GRANT...
 *   edge-1   /etc/nexus/backends/edge-1.pub        host=app.example.com tcp=2222 weight=4
 *   laptop   MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE…  host=*.dev.example.com streams=50
 *
 * One backend per line: a name (letters, digits, '.', '_', '-'; at most 63), its public key
 * (ES256 or RS256) and its grant. The key is a file path (starting with '/', or '.' for one
 * relative to the backends file; a word with a character base64 does not use, like '-' or
 * '_', is a path too) holding a PEM public key, private key or certificate, or the
 * SubjectPublicKeyInfo inline as one word of standard base64 (what `nexus-token keygen
 * --backends-line` prints). The grant is words NAME=VALUE, each at most once except
 * host=:
 *   host=H[,H...]    hostnames and *.wildcards the backend may claim (a wildcard grant
 *                    covers claims of the wildcard itself and of one label under it)
 *   tcp=N[,N...]     relay TCP ports it may claim (these replace --allow-tcp-port for it)
 *   udp=N[,N...]     UDP ports it may claim (udp_routes)
 *   weight=N         the highest weight it may claim (1–1000; default no limit)
 *   streams=N        the most end-user streams open on its session at once (default none)
 * '#' starts a comment line; blank lines are skipped. Names and kids (RFC 7638 thumbprints
 * of the keys) must be unique.
 *
 * nx_backends_parse() is a pure function of the bytes (inline keys are decoded, paths only
 * recorded); nx_backends_load_keys() then reads the key files. */
#ifndef NEXUS_HUB_BACKENDS_H
#define NEXUS_HUB_BACKENDS_H
#include <stddef.h>
#include <stdint.h>

#include "token/keys.h"
#include "wire/route_claims.h"

#define NX_BACKENDS_MAX 4096
#define NX_BACKEND_NAME_MAX 64
#define NX_GRANT_MAX_HOSTS 64
#define NX_GRANT_MAX_PORTS 64

struct nx_backend {
	char name[NX_BACKEND_NAME_MAX];
	char kid[NX_KID_MAX];
	unsigned line;
	char *key_path;          /* a key file not read yet (NULL once loaded or inline) */
	struct nx_key *key;
	char *hosts[NX_GRANT_MAX_HOSTS]; /* normalised */
	size_t n_hosts;
	uint16_t tcp[NX_GRANT_MAX_PORTS];
	size_t n_tcp;
	uint16_t udp[NX_GRANT_MAX_PORTS];
	size_t n_udp;
	int max_weight;          /* 0: no limit */
	unsigned max_streams;    /* 0: no limit */
};

struct nx_backends {
	struct nx_backend *v;
	size_t n;
};

/* Parse the file's content. 0 and *out (free with nx_backends_free), or -1 with
 * "line N: ..." in err. */
int nx_backends_parse(const char *buf, size_t len, struct nx_backends **out, char *err,
                      size_t errlen);
/* Read the key files named by path (relative to dir, "" or NULL: as given) and compute
 * every kid; refuse duplicate kids. 0 or -1 with "line N: ..." in err. */
int nx_backends_load_keys(struct nx_backends *b, const char *dir, char *err, size_t errlen);
/* nx_backends_parse of the file, then nx_backends_load_keys beside it. */
int nx_backends_load_file(const char *path, struct nx_backends **out, char *err,
                          size_t errlen);
void nx_backends_free(struct nx_backends *b);

const struct nx_backend *nx_backends_find_kid(const struct nx_backends *b, const char *kid);

/* Is every route `c` claims inside the grant? 0, or -1 with a reason naming the first
 * claim refused ("hostname evil.test is not granted to this key"), short enough for a
 * close frame. */
int nx_backend_grant_check(const struct nx_backend *be, const struct nx_route_claims *c,
                           char *why, size_t whylen);

#endif
