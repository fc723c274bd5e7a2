/* http_int.h — internals of oauth/http.c, for tests/fuzz/fuzz_oauth_header.c: the header
 * callback reads lines an identity provider or ACME server sends. Not a public API. */
#ifndef NEXUS_OAUTH_HTTP_INT_H
#define NEXUS_OAUTH_HTTP_INT_H
#include <stddef.h>

/* libcurl's CURLOPT_HEADERFUNCTION for nx_oauth_fetch (arg: its struct nx_http_fetch): one
 * header line of sz * nm bytes (not NUL-terminated, its CRLF or LF included if it had one)
 * into the field it names, trimmed and cut to the field's buffer. Always returns sz * nm. */
size_t oauth_http_on_header(char *d, size_t sz, size_t nm, void *arg);

#endif
