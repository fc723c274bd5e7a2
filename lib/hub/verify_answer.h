/* verify_answer.h — the answer of nexus-hub's remote token verifier (--verify-url,
 * shared/protocol.md §2): {"valid":true,"claims":{…}} or {"valid":false,"error":"…"}.
 *
 * nx_verify_answer_parse() is a pure function of the bytes (they come from the network).
 * `valid` must be a JSON boolean; a valid answer must carry `claims` as an object; an
 * error text is optional and comes back cut and made printable (it goes into a close
 * reason and a log line). Unknown members are ignored. */
#ifndef NEXUS_HUB_VERIFY_ANSWER_H
#define NEXUS_HUB_VERIFY_ANSWER_H
#include <jansson.h>
#include <stddef.h>

#define NX_VERIFY_ANSWER_MAX (64 * 1024) /* a longer answer is not one */
#define NX_VERIFY_ERROR_MAX 80           /* bytes of the verifier's error text kept */

enum { NX_VERIFY_BAD = -1, NX_VERIFY_INVALID = 0, NX_VERIFY_VALID = 1 };

/* NX_VERIFY_VALID and *claims (a new reference to an object); NX_VERIFY_INVALID and the
 * verifier's error in why ("no reason given" without one); NX_VERIFY_BAD (not such an
 * answer) with what is wrong in why. */
int nx_verify_answer_parse(const char *buf, size_t len, json_t **claims, char *why,
                           size_t whylen);

#endif
