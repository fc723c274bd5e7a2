/* cred.h — the credentials nexus-vault holds, as JSON objects (the bytes `put` reads on
 * stdin and the plaintext of a sealed record):
 *
 *   {"type":"bearer","token":T [,"expires_at":UNIX]}
 *   {"type":"basic","username":U,"password":P}
 *   {"type":"api_key","header":"X-Api-Key","key":K}
 *   {"type":"oauth","access_token":A [,"refresh_token":R] [,"expires_at":UNIX]
 *      [,"scopes":"S ..." | ["S",...]] [,"token_endpoint":URL] [,"client_id":ID]
 *      [,"issuer":URL] [,"token_type":"Bearer"] [,"client_secret":S]}
 *
 * Unknown members are refused (a typo is not silently stored); every string is 1 to 16 KiB
 * of printable text without control bytes, so it can never split a header line. */
#ifndef NEXUS_VAULT_CRED_H
#define NEXUS_VAULT_CRED_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum nx_cred_type { NX_CRED_BEARER, NX_CRED_BASIC, NX_CRED_API_KEY, NX_CRED_OAUTH };

/* Parse and check a credential: *out is the object (json_decref it). */
int nx_cred_parse(const char *buf, size_t len, json_t **out, char *err, size_t errlen);

/* The type of a credential nx_cred_parse accepted, and its name ("bearer", ...). */
enum nx_cred_type nx_cred_type(const json_t *c);
const char *nx_cred_type_name(const json_t *c);

/* expires_at, or 0 when the credential names none. */
int64_t nx_cred_expires(const json_t *c);

/* The secret a script wants (token, access token, API key; basic: "user:password"),
 * malloc'd: nx_free_secret(s, strlen(s)). NULL when out of memory. */
char *nx_cred_secret(const json_t *c);

/* The header line for the strategy, without CR/LF, malloc'd as above:
 * "Authorization: Bearer T", "Authorization: Basic base64(U:P)", "X-Api-Key: K". */
char *nx_cred_header(const json_t *c);

/* Environment variables for `exec`: calls set(arg, NAME, VALUE) for NEXUS_VAULT_TYPE,
 * NEXUS_VAULT_HEADER, and NEXUS_VAULT_TOKEN (bearer, oauth, api_key) or
 * NEXUS_VAULT_USERNAME / NEXUS_VAULT_PASSWORD (basic). -1 when set fails or memory runs out. */
int nx_cred_env(const json_t *c, int (*set)(void *arg, const char *name, const char *value),
                void *arg);

/* Standard base64 with padding (RFC 4648 §4, as HTTP Basic wants) into a malloc'd string. */
char *nx_base64_std(const void *src, size_t n);

#endif
