/* gate_int.h — shared by gate.c (connections), gate_session.c (grants, cookies). */
#ifndef NEXUS_GATE_INT_H
#define NEXUS_GATE_INT_H
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "core/accept.h"
#include "gate/gate.h"
#include "core/hostname.h"

struct nx_key;
struct nx_tls_server_creds;

struct replay_entry {
	char jti[64];
	int64_t exp;
};

struct nx_gate {
	struct nx_gate_cfg cfg;
	char hosts[NX_GATE_MAX_HOSTS][NX_HOSTNAME_MAX + 1];
	size_t n_hosts;
	struct nx_key *grant_key;   /* verifies grants */
	struct nx_key *session_key; /* per-process HMAC key: signs and verifies cookies */
	struct gate_creds *creds;   /* under mu; NULL until ACME delivers one */
	struct gate_acme *acme;     /* gate_acme.c; NULL without --gate-acme-directory */
	pthread_mutex_t mu;
	struct replay_entry *replay;
	size_t n_replay;
	int conns;
	json_t *revoked;  /* session ids of the newest revocation list */
	int64_t rev_iat;  /* its iat (0: none yet) */
	struct nx_rates_mt remote; /* lines a remote party causes (gate_log_remote) */
	struct nx_srcmap *conns_src; /* under mu: conns per end-user address */
};

/* The certificate new connections get: counted, so a renewal (gate_acme.c) swaps it while
 * connections made with the old one keep it. */
struct gate_creds {
	struct nx_tls_server_creds *c;
	int refs; /* under g->mu */
};
struct gate_creds *gate_creds_hold(struct nx_gate *g); /* NULL: none yet */
void gate_creds_drop(struct nx_gate *g, struct gate_creds *gc);
/* Make c the certificate new connections get (takes c). */
void gate_creds_set(struct nx_gate *g, struct nx_tls_server_creds *c);

/* A gated connection's place: counted against NX_GATE_MAX_CONNS and, by its end user's
 * address, NX_GATE_MAX_CONNS_PER_SOURCE. */
struct gate_slot {
	struct nx_src src;
	int has_src;
};
/* The connection's thread gives its place back as it ends. */
void gate_slot_release(struct nx_gate *g, const struct gate_slot *slot);

/* A gated stream from client served by fn(arg) in a thread of its own, taking the place
 * *slot (fn gives it back): *fdp gets the thread's end of a socketpair before the thread
 * starts (both ends non-blocking); returns the tunnel's end, or -1 with err (arg is then
 * the caller's to free). */
int gate_thread_open(struct nx_gate *g, struct gate_slot *slot, const char *client,
                     void *(*fn)(void *), void *arg, int *fdp,
                     size_t stack, char *err, size_t errlen);

/* gate_acme.c */
int gate_acme_start(struct nx_gate *g, char *err, size_t errlen);
/* A plain-HTTP stream to a gated host: the ACME answer, or 421. Returns the tunnel's end
 * of a socketpair, or -1 with err. */
int gate_plain_open(struct nx_gate *g, const char *hostname, const char *client, char *err,
                    size_t errlen);

/* gate_revoke.c */
enum { GATE_LIVE = 0, GATE_REVOKED = 1, GATE_STALE = 2 };
int gate_revocations_start(struct nx_gate *g, char *err, size_t errlen);
int gate_session_live(struct nx_gate *g, const char *sid);

/* What a verified grant or session cookie says. */
struct gate_session {
	char user[129], device[129], sid[64];
	int64_t exp; /* unix seconds */
};

void gate_log(struct nx_gate *g, int level, const char *msg, const char *kvfmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A line any browser or scanner can cause (a refusal, a failed handshake): ten a second at
 * most of each kind (kvfmt) over all connections, the rest counted into the next one's
 * times=. */
void gate_log_remote(struct nx_gate *g, int level, const char *msg, const char *kvfmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Verify a grant for host and consume it. 0 ok (s filled), -1 refused with err. */
int gate_grant_take(struct nx_gate *g, const char *host, const char *code, size_t n,
                    struct gate_session *s, char *err, size_t errlen);
/* A session cookie value (malloc'd) for s and host. */
char *gate_cookie_make(struct nx_gate *g, const char *host, const struct gate_session *s,
                       char *err, size_t errlen);
/* Verify a cookie value. 0 ok, -1 with err. */
int gate_cookie_check(struct nx_gate *g, const char *host, const char *v, size_t n,
                      struct gate_session *s, char *err, size_t errlen);

#endif
