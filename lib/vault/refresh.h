/* refresh.h — nexus-vault refresh: the OAuth refresh_token grant (RFC 6749 §6) for the
 * oauth credentials that expire within a margin, over lib/oauth's HTTP client.
 *
 * Each record is refreshed inside its own BEGIN IMMEDIATE transaction: the record is read
 * again under the write lock, so of two refreshers running at once the second finds it
 * fresh and skips it (one refresh per record). A provider error, an answer without an
 * access_token, or a network failure rolls back: the stored record stays as it was. A
 * response without a refresh_token keeps the old one. */
#ifndef NEXUS_VAULT_REFRESH_H
#define NEXUS_VAULT_REFRESH_H
#include <stddef.h>
#include <stdint.h>

#include "vault/vault.h"

enum nx_refresh_outcome { NX_REFRESH_SKIPPED, NX_REFRESH_DONE, NX_REFRESH_FAILED };

/* What happened to one record: msg says why it was skipped or failed (NULL when done). */
typedef void (*nx_refresh_report_fn)(void *arg, const char *name, enum nx_refresh_outcome o,
                                     const char *msg);

/* Refresh `names` (n of them; n == 0: every oauth credential) that expire within
 * `before_s` seconds of now (a credential without expires_at is due). A named credential
 * that cannot be refreshed (not oauth, no refresh_token or token_endpoint) is a failure;
 * unnamed ones are skipped. Returns the number of failures, or -1 with err when the vault
 * itself fails. */
int nx_vault_refresh(struct nx_vault *v, char *const *names, size_t n, int64_t before_s,
                     nx_refresh_report_fn report, void *arg, char *err, size_t errlen);

#endif
