/* pem.h — the first PEM object of a name in a text, decoded to DER (BearSSL's decoder). */
#ifndef NEXUS_PEM_H
#define NEXUS_PEM_H
#include <stddef.h>

/* The first object named `name` ("CERTIFICATE", ...; NULL: the first of any name) in
 * text[0..len), as malloc'd DER in *der / *n. 1 found, 0 none (or malformed PEM), -1 out
 * of memory. */
int nx_pem_first(const char *text, size_t len, const char *name, unsigned char **der,
                 size_t *n);

#endif
