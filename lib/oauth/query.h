/* query.h — application/x-www-form-urlencoded parameters (a redirect's query string, a
 * form body): the one pure parser of untrusted bytes in lib/oauth (fuzz_oauth_query). */
#ifndef NEXUS_OAUTH_QUERY_H
#define NEXUS_OAUTH_QUERY_H
#include <stddef.h>

/* The value of parameter `name` in q (qlen bytes), percent-decoded ('+' is a space) into
 * out (cap bytes, NUL-terminated). 1 found, 0 absent, -1 malformed (a bad %-escape, a
 * decoded NUL, the parameter given twice, a value longer than cap - 1). */
int nx_oauth_query_get(const char *q, size_t qlen, const char *name, char *out, size_t cap);

#endif
