/* hub_int.h — the hub's internal objects, shared by the files of lib/hub/ (hub.c,
 * hub_session.c, hub_sessmsg.c, hub_stream.c, hub_auth.c and the rest). Not a public
 * interface: commands use hub.h.
 *
 * Ownership and lifetime: the hub owns sessions and streams. A stream belongs to at most
 * one session (its `sess`, NULL once the backend side has ended). Destruction is deferred:
 * *_kill() closes fds, unlinks the object, marks it dead and puts it on the hub's graveyard
 * list; a zero-delay timer frees the graveyard, so a handler deep in a call chain never
 * touches freed memory, and nx_hub_free() frees what is left. */
#ifndef NEXUS_HUB_INT_H
#define NEXUS_HUB_INT_H
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "core/accept.h"
#include "core/sock.h"
#include "hub/backends.h"
#include "wire/route_claims.h"
#include "wire/credits.h"
#include "hub/hub.h"
#include "wire/hubproto.h"
#include "core/loop.h"
#include "wire/routes.h"
#include "wire/tls.h"
#include "wire/ws.h"

struct nx_key;
struct hub_stream;
struct hub_udp_port;
struct nx_handoff;
struct hub_verifier;
struct hub_verify_req;
struct hub_worker;
struct hub_names;

/* A byte queue: bytes [off, len) are pending. Compacted when it would grow. */
struct hub_buf {
	uint8_t *p;
	size_t off, len, cap;
};
int hub_buf_append(struct hub_buf *b, const void *data, size_t n);
/* n more bytes at the end, to be written by the caller (NULL: out of memory). */
uint8_t *hub_buf_reserve(struct hub_buf *b, size_t n);
void hub_buf_consume(struct hub_buf *b, size_t n);
static inline size_t hub_buf_pending(const struct hub_buf *b) { return b->len - b->off; }
void hub_buf_free(struct hub_buf *b);

enum sess_state {
	SESS_TLS,     /* TLS handshake */
	SESS_UPGRADE, /* reading the HTTP upgrade request */
	SESS_AUTH0,   /* waiting for the stage-0 token */
	SESS_AUTH1,   /* challenge sent, waiting for the stage-1 token */
	SESS_LIVE,    /* registered, carrying streams */
	SESS_CLOSING, /* flushing a final response / close frame, then close */
};

#define SESS_STREAM_BUCKETS 256

/* Connections still in TLS / upgrade / auth ("pending") each hold a TLS context (~38 KiB)
 * and an fd for up to the handshake + auth deadlines. At most cfg.max_pending_per_source of
 * them per source address (more are closed at once), at most cfg.max_pending in all: a new
 * one beyond that sheds the pending connection that has made the least progress (never sent
 * a byte < in the TLS handshake < upgrade < token stages), the quietest among those, so one
 * client cannot lock every new backend out and unauthenticated peers cannot grow the hub. */

/* The session output queue: a stream reads its end user only while the queue is below
 * OUT_HIGH, so the queue stays bounded (≈ OUT_HIGH + one message per reading stream) and a
 * slow WebSocket slows all its streams evenly instead of growing. */
#define SESS_OUT_HIGH (256 * 1024)
#define SESS_OUT_LOW (64 * 1024)
#define SESS_OUT_KILL (8 * 1024 * 1024) /* a peer that makes us queue this much is dropped */
#define SESS_OUT_KILL_PENDING (64 * 1024) /* the same before it is live (pongs to a flood) */

struct hub_session {
	struct nx_hub *hub;
	struct hub_session *next, *prev; /* hub->sessions */
	int fd;
	struct nx_tls *tls;
	struct hub_creds *creds; /* what tls was made with */
	enum sess_state state;
	int dead;
	int pending;          /* counted in hub->n_pending (not yet LIVE), on hub->pend_* */
	struct hub_session *pnext, *pprev; /* the pending list, oldest first */
	struct nx_src src;    /* the peer's source key (accept.h) */
	int has_src;          /* counted in hub->pending_src */
	int spoke;            /* the peer has sent at least one byte */
	uint64_t id;          /* for log lines */
	char peer[64];
	struct hub_buf in;    /* upgrade head being read */
	struct nx_ws_reader ws;
	struct hub_buf out;   /* WebSocket bytes waiting for the TLS engine */
	int out_blocked;      /* some stream stopped reading because out was full */
	/* auth */
	struct nx_route_claims claims; /* stage 0's, once accepted */
	int has_claims;
	char nonce[NX_HUB_NONCE_MAX + 1];
	int reauth_pending;
	int half_close;       /* §6 extension negotiated */
	int initial_window;   /* §6: connect counts as the backend's first grant of a window */
	char kid[NX_KID_MAX]; /* stage 0's header kid (--backends), "" if none */
	char bname[NX_BACKEND_NAME_MAX]; /* the --backends line its kid names, "" if none */
	int keyed;            /* authenticated by a --backends key (kid), not the shared key */
	char assigned[NX_HOSTNAME_MAX + 1]; /* quick start: the name the hub gave it, or "" */
	unsigned max_streams; /* its grant's streams= (0: no limit) */
	struct nx_rate streams_refused; /* refusals at max_streams: logged once a second */
	struct hub_verify_req *verify; /* its token at the remote verifier (hub_verify.c) */
	/* timers */
	struct nx_timer auth_timer;  /* auth stage deadline / close deadline */
	struct nx_timer ping_timer;
	struct nx_timer idle_timer;
	struct nx_timer reauth_timer;
	struct nx_timer read_timer;  /* continue reading what the TLS engine holds */
	struct nx_timer flush_timer; /* hub_session_flush_soon: at the end of the loop round */
	struct hub_session *grave_next;
	uint64_t last_rx;     /* monotonic ms of the last byte from the backend (or the accept) */
	int hs_counted;       /* its handshake failure is counted (hub_metrics.c) */
	int64_t live_since;   /* wall-clock seconds it registered (GET /backends) */
	int live_counted;     /* holds a place in the session caps (hub_sessions_admit) */
	/* streams */
	struct hub_stream *streams[SESS_STREAM_BUCKETS];
	size_t n_streams;
	int mesh;             /* a peer hub's link on /mesh (hub_mesh_peer.c) */
	uint64_t mesh_version; /* its last routes announcement */
	/* --workers (hub_worker.c): the worker that carries it once live (NULL: the main
	 * thread); moving: authenticated, waiting on the main loop to be handed over. */
	struct hub_worker *worker;
	int moving;
	struct hub_buf carry; /* bytes read but not parsed yet when it was handed over */
	unsigned refs;        /* handoffs on their way to it (atomic): not freed meanwhile */
};

struct hub_stream {
	struct nx_hub *hub;
	struct hub_session *sess;        /* NULL once the backend side ended */
	struct hub_stream *sess_next;    /* bucket chain in sess->streams */
	struct hub_stream *next, *prev;  /* hub->streams */
	struct nx_uuid id;
	char id_text[NX_UUID_TEXT + 1];
	int fd;
	int dead;
	struct nx_credits cr;
	/* backend → end user: whole data frames queued, each returns a credit once written */
	struct hub_chunk *q_head, *q_tail;
	size_t q_bytes;
	int user_eof;         /* end user sent FIN (and we read up to it) */
	int user_fin;         /* a FIN seen behind unread bytes while paused: stop watching */
	int user_shut;        /* we sent FIN to the end user */
	int backend_done;     /* backend disconnected (or its session ended): flush, FIN, close */
	int backend_shut;     /* backend sent shutdown_write (§6): FIN once flushed, keep reading */
	uint64_t last_active; /* monotonic ms of the last byte either way */
	struct nx_timer idle_timer;
	struct hub_stream *grave_next;
	char route[NX_ROUTE_KEY_MAX];
	uint64_t up_bytes, down_bytes;
	/* A UDP flow (hub_udp.c) has no fd of its own (fd -1): its datagrams come from and go
	 * out of its port's socket, to udp_peer. */
	struct hub_udp_port *udp;
	struct hub_stream *udp_next; /* bucket chain in the port's flow table */
	struct sockaddr_storage udp_peer;
	socklen_t udp_peer_len;
	struct nx_src src;
	int has_src;          /* a UDP flow counted in its port's per-source map */
	int counted;          /* a TCP stream holding a place in the hub's stream limits */
	uint64_t udp_idle_ms;
	char client[64];      /* the end user's address, for the -v line */
	uint64_t opened;      /* monotonic ms */
	int stalled;          /* out of credits now (counted once per stall) */
	const char *why;      /* close reason for the -v line, NULL: from the flags */
	int is_tls;           /* the relay saw a TLS ClientHello (else HTTP or raw) */
};

struct hub_chunk {
	struct hub_chunk *next;
	size_t len, off;
	uint8_t data[];
};

/* Most bytes a stream may hold for its end user: the window of full-size frames, plus room
 * for a peer that is a few frames off. An old client that ignores credits past this loses
 * the stream, never the hub's memory. */
#define STREAM_Q_MAX ((size_t)(NX_HUB_CREDIT_WINDOW + 8) * NX_HUB_MAX_PAYLOAD)

struct hub_relay_conn {
	struct nx_hub *hub;
	struct hub_relay_conn *next, *prev;
	int fd;
	int paused; /* a worker is behind with handoffs: not reading this relay for now */
};

/* A listener that stops being watched while fds are short (accept.h) and a timer that
 * tries again. */
struct hub_listener {
	struct nx_hub *hub;
	int fd;
	int paused;
	struct nx_timer retry;
	const char *name; /* for the log line */
	nx_io_cb on_accept;
};

/* Handshake failures by reason (nexus_hub_handshake_failures_total{reason}). */
enum hub_hs_fail {
	HS_TLS,      /* the TLS handshake failed */
	HS_UPGRADE,  /* not a good WebSocket upgrade */
	HS_REFUSED,  /* refused with a close frame: a token, a claim, a protocol error */
	HS_TIMEOUT,  /* a handshake or auth stage took too long */
	HS_CLOSED,   /* the peer went away before it was registered */
	HS_SHED,     /* shed for a newer pending connection */
	HS_N
};

/* What --metrics counts (hub_metrics.c); gauges are read off the live objects. */
struct hub_counters {
	uint64_t sessions_total, streams_total;
	uint64_t bytes_up, bytes_down; /* of streams closed already */
	uint64_t hs_fail[HS_N];
	uint64_t credit_stalls;
	uint64_t handoff_no_route, handoff_busy, handoff_bad;
	uint64_t stream_source_limit, stream_limit; /* streams refused at those limits */
	uint64_t session_backend_limit, session_limit; /* sessions refused at those limits */
	uint64_t reloads, reload_failures;
	uint64_t verify_valid, verify_refused, verify_unavailable; /* --verify-url answers */
};

struct nx_metrics_srv;

struct hub_file_sig {
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

#define HUB_OWNED 8 /* cert, key, secret, verify key, backends, deny-list, verify url, ca */

/* TLS credentials shared by the hub (the current ones) and each session that started its
 * handshake with them: a reload swaps the hub's, a session keeps its own (hub_reload.c). */
struct hub_creds {
	struct nx_tls_server_creds *c;
	unsigned refs;
};
struct hub_creds *hub_creds_new(struct nx_tls_server_creds *c); /* takes c; NULL: freed */
struct hub_creds *hub_creds_hold(struct hub_creds *h);
void hub_creds_drop(struct hub_creds *h); /* NULL is fine */
/* hub.c: every option left 0 gets its default (NX_HUB_*): at start and on each reload. */
void hub_config_defaults(struct nx_hub_config *c);

struct nx_hub {
	struct nx_loop *loop;
	struct hub_counters ctr;
	struct nx_metrics_srv *metrics;
	struct nx_hub_config cfg;
	struct hub_creds *creds;     /* NULL only while ACME has none yet */
	char *owned[HUB_OWNED];      /* cfg's file names after a reload (hub_reload.c) */
	struct hub_acme *acme;       /* --acme-directory; NULL without */
	struct nx_key *key;          /* --secret-file / --verify-key; NULL with --backends only */
	struct nx_backends *backends; /* --backends */
	struct hub_verifier *verifier; /* --verify-url, NULL without */
	struct hub_file_sig backends_sig; /* the file as last read (hub_backends.c) */
	struct nx_timer backends_timer;   /* polls it for changes */
	struct nx_routes *routes;
	struct hub_listener backend_l, relay_l;
	char relay_path[108];
	struct nx_unix_id relay_id; /* the socket file we bound: unlinked at exit only if still it */
	struct nx_accept_guard fdg;
	struct hub_session *pend_head, *pend_tail;
	struct nx_srcmap *pending_src;
	struct nx_rate refused_src_rate, shed_rate, relay_denied_rate, bad_handoff_rate;
	struct nx_rates often; /* hub_log_often */
	struct hub_session *sessions;
	struct hub_stream *streams;
	struct hub_relay_conn *relays;
	struct hub_udp_port *udp_ports; /* sockets the relay handed over (--listen-udp) */
	struct hub_session *grave_sessions;
	struct hub_stream *grave_streams;
	struct nx_timer reap_timer;
	struct nx_timer stats_timer;
	uint64_t next_session_id;
	size_t n_live, n_streams, n_pending;
	size_t n_lingering; /* refused clients drained before their close (hub_relay.c) */
	uint64_t refused_pending;  /* connections closed because too many were pending */
	uint64_t shed_pending;     /* pending connections shed for a newer one */
	uint64_t buffered;
	struct nx_routes *peer_routes; /* keys peer hubs announced (hub_mesh_peer.c) */
	struct hub_mesh *mesh;         /* links this hub dialled (hub_mesh.c) */
	/* --workers (hub_worker.c). The main hub owns the route table, its lock and the
	 * workers; a worker's hub has its own loop, sessions, streams and counters, borrows
	 * the main hub's routes, key and backends, and has main_hub set. */
	pthread_mutex_t routes_lock;   /* the main hub's: every use of routes */
	pthread_mutex_t *routes_mu;    /* &main's routes_lock */
	struct nx_hub *main_hub;       /* a worker's hub: the main one; NULL for the main hub */
	struct hub_worker **workers;
	size_t n_workers;
	unsigned worker_index;         /* 0: the main thread; 1..N: a worker */
	int resume_efd;                /* main: a busy worker caught up (eventfd) */
	/* The main hub's: TCP streams at once on every loop, in all and per source, under
	 * their own lock (hub_admit.c). */
	pthread_mutex_t streams_mu;
	struct nx_srcmap *stream_src;
	size_t n_tcp_streams;
	struct nx_rate stream_src_rate, stream_full_rate;
	/* The main hub's: live backend sessions on every loop, in all and per backend name,
	 * under their own lock (hub_admit.c; a leaf: taken with a worker's mu held). */
	pthread_mutex_t live_mu;
	struct hub_names *live_names;
	size_t n_live_all;
};

/* hub.c */
/* hub_acme.c: obtain/renew/install the hub's certificate (--acme-directory). */
int hub_acme_open(struct nx_hub *hub, char *err, size_t errlen);
void hub_acme_close(struct nx_hub *hub);
/* 1 when the hub serves an ACME certificate now (a reload keeps it, --cert or not). */
int hub_acme_installed(const struct nx_hub *hub);

void hub_log(struct nx_hub *hub, int level, const char *msg, const char *kvfmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A line any end user, backend or peer can cause again and again (a refusal, a stream's
 * timeout or overrun): ten a second at most of each kind (kvfmt) on this hub's loop, the
 * rest counted into the next one's times=. */
void hub_log_often(struct nx_hub *hub, int level, const char *msg, const char *kvfmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The route table under its lock (a no-op cost without workers). */
static inline void hub_routes_lock(struct nx_hub *hub) { pthread_mutex_lock(hub->routes_mu); }
static inline void hub_routes_unlock(struct nx_hub *hub) { pthread_mutex_unlock(hub->routes_mu); }
/* nx_routes_pick under the lock, for a session the main thread carries (UDP, mesh). */
struct hub_session *hub_pick_local(struct nx_hub *hub, const char *key, const char **matched);
/* hub_check_hostnames, then register s's routes, as one step under the routes lock: -1
 * (why) when --exclusive-hostnames refuses it. */
int hub_register_routes(struct nx_hub *hub, struct hub_session *s, char *why, size_t whylen);
void hub_unregister_routes(struct nx_hub *hub, struct hub_session *s);
/* Free the dead soon (from a zero-delay timer). */
void hub_schedule_reap(struct nx_hub *hub);
/* Stop watching a listener short of fds (report the shortage), retry on a timer. */
void hub_listener_pause(struct nx_hub *hub, struct hub_listener *l, const char *why);
/* Count one fd shortage on `what` (a listener's name, "handoff"); the log line once a second. */
void hub_report_shortage(struct nx_hub *hub, const char *what, const char *why);
/* accept4 on l: the fd, or -1 (nothing now; a shortage has paused l). */
int hub_accept(struct nx_hub *hub, struct hub_listener *l);

/* nx_hub_get_stats over every hub, the caller holding the workers' locks. */
void hub_stats(struct nx_hub *hub, struct nx_hub_stats *st);

/* hub_worker.c: --workers */
int hub_workers_open(struct nx_hub *hub, char *err, size_t errlen);
void hub_workers_close(struct nx_hub *hub); /* stops the threads, frees their hubs */
/* The main thread takes every worker's lock (they sleep or wait meanwhile) to touch their
 * sessions: reload, the backends file, metrics. Unlock wakes them to see new timers. */
void hub_workers_lock(struct nx_hub *hub);
pid_t hub_fork(struct nx_hub *hub);
void hub_workers_unlock(struct nx_hub *hub);
/* The hubs with sessions: 0 is the main one, then each worker's; NULL past the last. */
struct nx_hub *hub_each(struct nx_hub *hub, size_t i);
/* Authenticated s goes to a worker (1: it finishes going live there) or stays (0). */
int hub_worker_move(struct hub_session *s);
/* A handoff for s, a session a worker carries (its refs taken under the routes lock):
 * posted to the worker (fd and h->prelude taken). The status to tell the relay now: OK, or
 * BUSY when it could not be posted. */
int hub_worker_handoff(struct hub_session *s, int fd, struct nx_handoff *h);
/* 1: s's worker has so many handoffs waiting that relays should not be read until it has
 * caught up (it wakes the main thread then: hub_relay_resume_all). */
int hub_worker_behind(struct hub_session *s);
/* A dying session that a worker carried: one less for its load. */
void hub_worker_session_gone(struct hub_session *s);

/* hub_relay.c: the relay socket */
int hub_relay_open(struct nx_hub *hub, char *err, size_t errlen);
void hub_relay_close_all(struct nx_hub *hub);
/* Open a stream on s for a handed-over client, admitted by hub_streams_admit (the fd and
 * its place in the limits taken in every case): the status. */
int hub_take_stream(struct hub_session *s, int cfd, const struct nx_handoff *h);
/* Main: read every paused relay connection again. */
void hub_relay_resume_all(struct nx_hub *hub);
/* Tell an end user no in its protocol, what the relay says: a TLS alert (internal_error, or
 * unrecognized_name for NX_HANDOFF_NO_ROUTE) or HTTP 503 / 502; nothing on a tcp: route.
 * Best effort, never blocks: what send returned (0: nothing to say). */
ssize_t hub_tell_user(int fd, int is_tls, const char *route, uint16_t tls_version, int status);
/* Tell a handed-over client no in its protocol (TLS alert or HTTP 503, what the relay says
 * for NX_HANDOFF_BUSY / NO_ROUTE), then drain and close fd on hub's loop (takes fd): for a
 * handoff the relay was told OK. */
void hub_answer_client(struct nx_hub *hub, int fd, const struct nx_handoff *h, int status);

/* hub_udp.c: UDP port claims (§5) */
/* A relay's UDP socket for h->conn_port (fd taken in every case): the hub owns it now.
 * Returns the handoff status to answer. */
int hub_udp_take(struct nx_hub *hub, struct hub_relay_conn *from, int fd,
                 const struct nx_handoff *h);
/* That relay connection is closing: the sockets it handed over are closed too (a relay that
 * stops must free its ports, and one that restarts binds them again); their flows stay
 * until the next relay hands the port over or they idle out. */
void hub_udp_relay_gone(struct nx_hub *hub, struct hub_relay_conn *rc);
void hub_udp_close_all(struct nx_hub *hub); /* after every stream is gone */
/* One datagram from the backend for the flow's client. */
void hub_udp_flow_on_data(struct hub_stream *st, const uint8_t *data, size_t len);
/* The flow is being killed: out of its port's table. */
void hub_udp_flow_gone(struct hub_stream *st);

/* hub_session.c */
void hub_session_accept(struct nx_hub *hub, int fd);
void hub_session_kill(struct hub_session *s, const char *why);
/* Refuse: close frame with code and reason (≤ 123 bytes), then close once it is out. */
void hub_session_fail(struct hub_session *s, uint16_t code, const char *reason);
void hub_session_start_keepalive(struct hub_session *s);
void hub_session_free(struct hub_session *s); /* a dead session's memory */
/* On a worker's loop: s, handed over by the main thread, is the worker's now. */
void hub_session_adopt(struct nx_hub *hub, struct hub_session *s);
/* hub_sessmsg.c: WebSocket bytes from the backend, each frame handled as it completes. */
void hub_session_on_ws(struct hub_session *s, const uint8_t *buf, size_t len);
void hub_sessions_add(struct nx_hub *hub, struct hub_session *s);
void hub_sessions_remove(struct nx_hub *hub, struct hub_session *s);

/* hub_admit.c */
/* May one more unauthenticated connection from src come in (sheds the quietest pending one
 * at the global cap)? 0 yes, -1 no: the caller closes fd. */
int hub_admit(struct nx_hub *hub, int fd, const struct nx_src *src, int has_src);
/* A new end-user TCP stream from client ("ip:port"), on any loop: 0 when it may open (it
 * is counted now: hand that on to hub_stream_open), -1 when the hub carries
 * cfg.max_streams streams, or cfg.max_streams_per_source from that address (IPv6: /64);
 * refusals are counted and logged at most once a second. Release what was counted with
 * the same client text. */
int hub_streams_admit(struct nx_hub *hub, const char *client);
void hub_streams_release(struct nx_hub *hub, const char *client);
/* s has passed both token stages (main loop): may it go live? 0: yes, counted against
 * cfg.max_sessions and cfg.max_sessions_per_backend for its sub ("" counts as one name)
 * until released. -1: refused, s closing with 1013 (try again later), counted, logged. */
int hub_sessions_admit(struct hub_session *s);
/* Give back s's place in the session caps, on any loop; a no-op when it holds none. */
void hub_sessions_release(struct hub_session *s);
struct hub_names *hub_names_new(void);
void hub_names_free(struct hub_names *n);
/* Count a new session as pending (src NULL: not an IP peer). */
void hub_session_pend(struct hub_session *s, const struct nx_src *src);
/* The session is no longer pending (it went live or died): off the list, uncounted. */
void hub_session_unpend(struct hub_session *s);
/* Queue one whole WebSocket message (server frames: unmasked, one frame). 0 or -1 (the
 * session was dropped). */
int hub_session_send(struct hub_session *s, enum nx_ws_opcode op, const void *a, size_t alen,
                     const void *b, size_t blen);
int hub_session_send_control(struct hub_session *s, const struct nx_hub_control *c);
/* Try to push queued output now. */
void hub_session_flush(struct hub_session *s);
/* Flush once this loop round's events are handled: what many streams send in one round
 * goes out in one record and one send. */
void hub_session_flush_soon(struct hub_session *s);
static inline int hub_session_out_full(const struct hub_session *s)
{
	return hub_buf_pending(&s->out) >= SESS_OUT_HIGH;
}
struct hub_stream *hub_session_find(struct hub_session *s, const struct nx_uuid *id);
void hub_session_link(struct hub_session *s, struct hub_stream *st);
void hub_session_unlink(struct hub_session *s, struct hub_stream *st);

/* hub_stream.c */
/* Open a stream for a handed-off client on session s: register, send connect and the
 * prelude. Takes the fd in every case (closed on failure), and with counted its place in
 * the stream limits (hub_streams_admit: released when it ends, or at once). 0 or -1. */
int hub_stream_open(struct hub_session *s, int fd, const char *route, uint16_t conn_port,
                    const char *client_addr, int is_tls, const uint8_t *prelude,
                    size_t prelude_len, int counted);
void hub_stream_on_data(struct hub_stream *st, const uint8_t *data, size_t len);
void hub_stream_on_control(struct hub_stream *st, const struct nx_hub_control *c);
void hub_stream_on_shutdown_write(struct hub_stream *st);
/* The backend side is gone (disconnect, or the session ended): flush, FIN, close. */
void hub_stream_backend_gone(struct hub_stream *st);
/* Re-evaluate which fd events the stream wants (after credits / output room change). */
void hub_stream_update(struct hub_stream *st);
void hub_stream_kill(struct hub_stream *st, int tell_backend);
void hub_stream_free(struct hub_stream *st); /* a dead stream's memory */

/* hub_backends.c */
int hub_backends_open(struct nx_hub *hub, char *err, size_t errlen);
/* Re-read the --backends file (from nx_hub_reload): see hub.h. */
void hub_backends_reload(struct nx_hub *hub);
/* The key to check a token for `stage` with: the --backends entry its kid names (*be), else
 * the shared key. -1 with why: an HMAC token with a backend's kid, an unknown kid, another
 * key than stage 0's. */
int hub_backends_pick(struct hub_session *s, int stage, const char *token, size_t len,
                      const struct nx_key **key, const struct nx_backend **be, char *why,
                      size_t whylen);
/* The claims of a token checked by be's key: inside its grant? Names the session after it. */
int hub_backends_grant(struct hub_session *s, int stage, const struct nx_backend *be,
                       struct nx_route_claims *c, char *why, size_t whylen);
/* Quick start: a keyed backend claiming nothing gets a stable name under its grant's
 * wildcard, put into c (and s->assigned). 0 (also when it claims something) or -1. */
int hub_backends_assign(struct hub_session *s, const struct nx_backend *be,
                        struct nx_route_claims *c, char *why, size_t whylen);
/* The handshake challenge text[0..n) with the assigned name added; the new length or -1. */
int hub_backends_challenge(const struct hub_session *s, char *text, size_t cap, int n);
/* " kid=…" for log lines ("" without one). */
const char *hub_backend_kv(const struct hub_session *s, char *buf, size_t n);
/* 0 (and a log line) when the session has its grant's streams= open already. */
int hub_backends_stream_allowed(struct hub_session *s);

/* hub_metrics.c */
/* --metrics ADDR: the listener with GET /metrics and GET /backends. 0 or -1. */
int hub_metrics_open(struct nx_hub *hub, char *err, size_t errlen);
void hub_metrics_close(struct nx_hub *hub);
/* Count a connection that never registered, once, for reason r (no-op once it was live). */
void hub_hs_failed(struct hub_session *s, enum hub_hs_fail r);

/* hub_auth.c */
/* Timer callback: the current auth stage (or a close) took too long. */
void hub_auth_deadline(struct nx_loop *loop, void *arg);
/* A text message: a token for the stage the session is in, or ignored. */
void hub_auth_on_text(struct hub_session *s, const uint8_t *data, size_t len);
/* Verify a backend token for a stage (0, 1, or 2 = re-auth). Stage 0 fills s->claims.
 * 0, or -1 with a reason suitable for a close frame. */
int hub_auth_token(struct hub_session *s, int stage, const char *token, size_t len, char *err,
                   size_t errlen);
/* The same checks (times, deny list, route claims) of claims a remote verifier vouched for
 * (no signature, iss or aud check: that is the verifier's job). 0, or -1 as above. */
int hub_auth_claims(struct hub_session *s, int stage, const json_t *claims, char *err,
                    size_t errlen);
/* A token's verdict for `stage` (rc 0, or -1 with err): go on, or refuse the session. */
void hub_auth_verdict(struct hub_session *s, int stage, int rc, const char *err);
const char *hub_auth_stage_name(int stage);
/* s is authenticated and on the loop that will carry it: register, count, keep alive. */
void hub_auth_live(struct hub_session *s);

/* hub_verify.c: --verify-url, the reference's remote verifier (shared/protocol.md §2) */
int hub_verify_open(struct nx_hub *hub, char *err, size_t errlen);
void hub_verify_close(struct nx_hub *hub); /* after every session is gone */
/* Hand the token for `stage` to the verifier: 1 (its verdict comes later through
 * hub_auth_verdict), 0 (check it locally now: no verifier, a --backends key's token, or
 * the verifier is busy and a local key is configured), -1 (refused now, err). */
int hub_verify_start(struct hub_session *s, int stage, const char *token, size_t len,
                     char *err, size_t errlen);
/* The session dies or is refused: its verification, if any, is dropped. */
void hub_verify_cancel(struct hub_session *s);

#endif
