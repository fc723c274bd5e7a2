/* denylist.h — the jti deny-list that nexus-token verify, nexus-bind revoke and nexus-hub
 * share. Format: one revoked token id per line, optionally followed by whitespace and a
 * free-text note ("# comment" lines and blank lines are ignored). Appends are O_APPEND
 * writes of whole lines under flock(), fsync'ed, so concurrent revokers never interleave. */
#ifndef NEXUS_DENYLIST_H
#define NEXUS_DENYLIST_H
#include <stddef.h>

#define NX_JTI_MAX 256

/* 1 if `jti` is listed, 0 if not (a missing file lists nothing), -1 on error. */
int nx_denylist_contains(const char *path, const char *jti, char *err, size_t errlen);

/* Append `jti` (no whitespace or control bytes allowed) with an optional one-line note.
 * Already listed: success, nothing written. */
int nx_denylist_add(const char *path, const char *jti, const char *note, char *err,
                    size_t errlen);

#endif
