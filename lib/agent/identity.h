/* identity.h — a device's identity is its client certificate's CN (the broker takes it as
 * the user name with use_identity_as_username, and the ACL keys on it). */
#ifndef NEXUS_AGENT_IDENTITY_H
#define NEXUS_AGENT_IDENTITY_H
#include <stddef.h>

/* The (last) commonName of a DER-encoded X.509 Name, as text. 0, or -1 when there is none,
 * the encoding is bad, it holds a NUL or it does not fit in n. Pure. */
int nx_dn_common_name(const unsigned char *dn, size_t len, char *cn, size_t n);

/* The subject CN of the first certificate in a PEM file. 0, or -1 with err. */
int nx_cert_common_name(const char *path, char *cn, size_t n, char *err, size_t errlen);

#endif
