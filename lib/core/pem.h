/* pem.h — PEM objects decoded to DER (BearSSL's decoder), for keys, certificates and
 * bundles alike. */
#ifndef NEXUS_PEM_H
#define NEXUS_PEM_H
#include <stddef.h>

/* The largest object accepted: a certificate or key is a few KiB. */
#define NX_PEM_OBJ_MAX (64u * 1024u)

/* What nx_pem_each returns besides 0 and its callback's own failures (which are < 0 and
 * above these). */
enum {
	NX_PEM_MALFORMED = -100, /* not PEM */
	NX_PEM_TOO_BIG = -101,   /* an object over NX_PEM_OBJ_MAX */
	NX_PEM_NOMEM = -102,
	NX_PEM_TRUNCATED = -103, /* an object without its END line */
};
const char *nx_pem_strerror(int rc);

/* fn sees one object: its name ("CERTIFICATE", "PRIVATE KEY", ...) and DER, both valid for
 * the call only (the DER is wiped after it). Returns 0 to go on, 1 to stop, < 0 to fail. */
typedef int (*nx_pem_fn)(void *arg, const char *name, const unsigned char *der, size_t n);

/* Every object of text[0..len) in order through fn (a last line without its newline is
 * fine). Returns 0 (all of them, or fn stopped), one of the NX_PEM_ errors, or what fn
 * returned below 0. Text outside objects is ignored. */
int nx_pem_each(const char *text, size_t len, nx_pem_fn fn, void *arg);

/* The first object named `name` (NULL: the first of any name) in text[0..len), as
 * malloc'd DER in *der / *n. 1 found, 0 none (or malformed PEM), -1 out of memory. */
int nx_pem_first(const char *text, size_t len, const char *name, unsigned char **der,
                 size_t *n);

#endif
