/* relay_int.h — nexus-relay engine internals shared by relay.c (connections, sniffing,
 * answers, life cycle), relay_listen.c (listeners), relay_route.c (local routes: table,
 * resolving, dialling, pumping) and relay_hub.c (the hub connection and its handoff
 * queues). Not a public API: only lib/relay's files include it, and
 * tests/fuzz/fuzz_relay_sniff.c for the sniffing decision. */
#ifndef NEXUS_RELAY_INT_H
#define NEXUS_RELAY_INT_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/accept.h"
#include "core/loop.h"
#include "wire/pump.h"
#include "relay/relay.h"

#define SNIFF_BUF NX_PUMP_BUFSZ /* the prelude must fit the pump buffer it is replayed from */
#define SNIFF_BUF_FIRST 4096    /* most ClientHellos and heads fit; grown x4 up to SNIFF_BUF */
#define RELAY_KEEPIDLE_S 120 /* a --route connection quiet this long is probed (keepalive) */
#define RELAY_KEEPINTVL_S 30
#define RELAY_KEEPCNT 4
#define HUB_BACKOFF_MIN_MS 100
#define HUB_BACKOFF_MAX_MS 2000
#define HUB_REPLY_POLL_MS 2 /* replies owed: read them at our next wake-up, or after this */
#define HUB_MAX_ABANDONED 8 /* this many unanswered handoffs: the hub is stuck, redial it */
#define MAX_LISTENERS 64
#define HUB_DENIED_REPORT_MS 10000 /* "the hub refuses us" is repeated this often */

enum conn_state { C_SNIFF, C_DIAL, C_PUMP, C_HUB_SEND, C_HUB_WAIT, C_ANSWER, C_ABANDONED };
enum conn_proto { P_UNKNOWN, P_TLS, P_HTTP, P_TCP };

struct conn {
	struct nx_relay *r;
	struct conn *prev, *next; /* all connections */
	struct conn *qnext;       /* hub send queue / reply queue */
	enum conn_state st;
	enum conn_proto proto;
	int fd, bfd;
	unsigned char *in;
	size_t inlen, incap;
	size_t tls_need;  /* TLS: do not re-parse before this many bytes (nx_sniff.need) */
	int http_eol;     /* HTTP: the request line is complete */
	struct nx_timer timer;
	struct nx_pump *pump;
	const struct nx_relay_route *route; /* in tab, which the connection holds */
	struct relay_table *tab;
	const char *via; /* for the log line: the route address, "hub" or "-" */
	uint64_t t0;
	uint16_t port, tls_version;
	char key[256];
	char peer[64];
	struct nx_src src;
	int has_src; /* counted in r->srcmap */
	int sockopts; /* fd has TCP_NODELAY and keepalive already (from its listener) */
	const char *outcome, *why;
	uint64_t up, down;
};

/* A --route address, resolved once at start: dialling never blocks the loop on DNS. */
struct relay_target {
	struct sockaddr_storage sa;
	socklen_t len;
};

/* The --route table in use: cfg.routes copied, each address resolved. */
struct relay_table {
	unsigned refs;
	size_t n;
	struct nx_relay_route *routes;
	struct relay_target *targets; /* targets[i] is where routes[i] goes */
};

/* A --listen-udp socket, handed to each hub connection (relay_udp.c). */
struct relay_udp {
	int fd;
	uint16_t port;
	char addr[64];
};

/* relay_metrics.c */
#define RELAY_MAX_OUTCOMES 24
#define RELAY_NPROTO 4
struct relay_counters {
	struct {
		const char *name;
		uint64_t n;
	} outcome[RELAY_MAX_OUTCOMES];
	size_t noutcomes;
	uint64_t proto[RELAY_NPROTO]; /* by enum conn_proto */
	uint64_t bytes_up, bytes_down; /* closed --route connections */
	uint64_t source_refused, accept_pauses, reloads, reload_failures;
};

struct nx_metrics_srv;

struct nx_relay {
	struct nx_loop *loop;
	struct nx_relay_config cfg;
	struct relay_table *tab; /* the routes now (cfg.routes is only read by new/reload) */
	struct relay_counters ctr;
	struct nx_metrics_srv *metrics; /* --metrics */
	int listeners[MAX_LISTENERS];
	uint16_t listener_port[MAX_LISTENERS]; /* an accepted connection's local port */
	int listener_opts[MAX_LISTENERS];      /* its accepted sockets inherit RELAY_CONN_SOCKOPTS */
	size_t nlisteners;
	int accepting; /* listeners in the poll set */
	struct conn *conns;
	size_t nconns;
	/* hub */
	int hub_fd;
	struct nx_timer hub_timer;
	uint64_t hub_backoff;
	int hub_was_up;
	struct nx_timer hub_tick; /* end of round: set the hub socket's interest (hub_interest) */
	struct nx_timer hub_poll; /* replies owed and unwatched: read them by now */
	uint64_t replies_in;      /* replies read from this relay's hubs, ever */
	int hub_eager;            /* a poll found none in: watch the socket until none is owed */
	size_t abandoned; /* handoffs answered 503 for lack of a reply, reply still awaited */
	struct conn *send_head, *send_tail; /* waiting for room on the hub socket */
	struct conn *wait_head, *wait_tail; /* sent, waiting for the reply byte (FIFO) */
	/* shutdown */
	int stopping;
	struct nx_timer grace;
	struct nx_timer accept_retry; /* out of fds: try accepting again a little later */
	struct nx_accept_guard fdg;
	struct nx_srcmap *srcmap;     /* connections per source */
	struct nx_rate src_rate;      /* refusals for --max-conns-per-source, for the log */
	struct nx_rate denied_rate;   /* the hub refusing us (permissions), for the log */
	int hub_denied;               /* the last hub attempt was refused: keep quiet about the rest */
	struct relay_udp udp[MAX_LISTENERS];
	size_t nudp;
	size_t udp_sent[MAX_LISTENERS]; /* which were sent to this hub connection, in order */
	size_t udp_wait, udp_reply;     /* replies still due for them; the next one's index */
};

void relay_log(struct nx_relay *r, int lvl, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* End a connection: log its line, close its fds, free it. */
void conn_free(struct conn *c);
/* Tell the client no in its protocol (HTTP status / TLS alert, 0 = none), then drain and close. */
void conn_answer(struct conn *c, const char *outcome, int http_status, uint8_t tls_alert);
void answer_no_route(struct conn *c);
void answer_busy(struct conn *c, const char *outcome);

/* relay.c: whether c's sniff buffer (inlen bytes, old of them there at the last call) is
 * worth parsing again; 0 only when the parsers would still say "need more" (a TLS INVALID
 * may come later). It reads c->in, inlen, proto and tls_need, and keeps c->http_eol: the
 * caller sets proto and tls_need from each "need more" verdict. Exposed for
 * tests/fuzz/fuzz_relay_sniff.c. */
int relay_worth_parsing(struct conn *c, size_t old);

/* relay.c: a new client connection, sniffing from now on (fd taken in every case). With
 * RELAY_CONN_READ_NOW (from a running loop's accept) its first bytes are read at once: it
 * may be routed, answered or gone when this returns. RELAY_CONN_SOCKOPTS: fd has
 * TCP_NODELAY and the keepalive settings already (inherited from its listener). peer,
 * port: what accept4 and the listener told (NULL, 0: ask the socket); src: the source it
 * counts against (NULL: none). 0 or -1. */
#define RELAY_CONN_READ_NOW 1u
#define RELAY_CONN_SOCKOPTS 2u
int relay_conn_start(struct nx_relay *r, int fd, const struct sockaddr *peer, uint16_t port,
                     const struct nx_src *src, unsigned flags, char *err, size_t errlen);
/* TCP_NODELAY and keepalive on fd (a listener: its accepted sockets inherit them). 0 or -1. */
int relay_sockopts(int fd);

/* relay_metrics.c: count an ending connection (from its log line); --metrics. */
void relay_count_conn(struct nx_relay *r, const struct conn *c);
int relay_metrics_open(struct nx_relay *r, char *err, size_t errlen);
void relay_metrics_close(struct nx_relay *r);

/* relay_listen.c: watch the listeners again if there is room (after a connection ended). */
void relay_accept_resume(struct nx_relay *r);

/* relay_route.c */
const struct nx_relay_route *relay_route_find(const struct relay_table *t, const char *key);
/* The routes, copied and resolved (blocking on DNS: at start and on reload only); -1 with
 * err when one does not resolve. Refcounted: a connection on a local route holds the table
 * it was routed by, so a reload never pulls its route from under it. */
struct relay_table *relay_table_new(const struct nx_relay_route *routes, size_t n, char *err,
                                    size_t errlen);
struct relay_table *relay_table_hold(struct relay_table *t);
void relay_table_drop(struct relay_table *t); /* NULL is fine */
int relay_resolve_target(const struct nx_relay_route *rt, struct relay_target *t, char *err,
                         size_t errlen);
/* Start a non-blocking connect to a resolved target. Returns the fd or -1. */
int relay_dial_target(const struct relay_target *t);
/* c matched one of our routes: dial it, then pump both ways until either end is done. */
void relay_route_local(struct conn *c);

/* relay_acme.c: answer an ACME HTTP-01 challenge request for one of our names (the head
 * is complete, s is its sniff). 1 when answered (the connection is no longer ours to
 * route), 0 to route it as usual. */
struct nx_sniff;
int relay_acme_try(struct conn *c, const struct nx_sniff *s);

/* relay_udp.c */
/* Hand every UDP socket to the hub just connected (r->hub_fd). */
void relay_udp_handoff(struct nx_relay *r);
/* The hub's reply to the next UDP handoff (r->udp_wait > 0). */
void relay_udp_reply(struct nx_relay *r, int status);
void relay_udp_close(struct nx_relay *r);

/* relay_hub.c */
void relay_hub_connect(struct nx_relay *r);
/* Queue c for the hub (its fd already out of the loop); answers 503 when the hub is down. */
void relay_hub_route(struct conn *c);
/* Start of a loop round: read the replies owed, if they are read lazily (nx_loop_on_wake). */
void relay_hub_wake(struct nx_loop *loop, void *arg);
/* Take c out of whichever hub queue holds it (shutdown). */
void relay_hub_unlink(struct conn *c);
/* Close the hub connection without answering anyone (the relay is being freed). */
void relay_hub_close(struct nx_relay *r);

#endif
