/* tunnel_int.h — shared by the files of lib/tunnel/: the session (tunnel.c, what the hub
 * says in tunnel_hubmsg.c), its streams (tunnel_open.c, tunnel_stream.c, tunnel_udp.c),
 * tokens (tunnel_token.c) and the process (tunnel_group.c). Not for other modules. */
#ifndef NEXUS_TUNNEL_INT_H
#define NEXUS_TUNNEL_INT_H
#include <stdbool.h>
#include <sys/types.h>

#include "core/accept.h"
#include "core/chunkq.h"
#include "wire/hubproto.h"
#include "core/loop.h"
#include "wire/tls.h"
#include "tunnel/tunnel.h"
#include "wire/ws.h"

struct nx_key;
struct nx_metrics_srv;
struct tunnel_udp_flow;

/* Session output above this stops local reads until it drains (the TLS link is the
 * bottleneck then, for every stream alike). */
#define TUNNEL_OUT_HIGH (1u << 20)
#define TUNNEL_OUT_LOW (256u << 10)
/* Data frames one read from a local socket may fill (a frame carries NX_HUB_READ_PAYLOAD). */
#define TUNNEL_READ_FRAMES 4
/* A stream whose hub→local queue holds more frames than the credits we granted allow is
 * a hub ignoring flow control. Twice the window: before our first grant arrives the hub
 * may send without limit (the Go server sent ten 32 KiB messages in one capture). */
#define STREAM_QUEUE_MAX_FRAMES (2 * NX_HUB_CREDIT_WINDOW)
/* ... and in bytes: those frames at full size, plus one message of --max-frame (a Nexus
 * Proxy server's oversized HTTP head counts against its own stream, nobody else's). */
#define STREAM_QUEUE_MAX_BYTES(t) \
	((size_t)STREAM_QUEUE_MAX_FRAMES * NX_HUB_MAX_PAYLOAD + tunnel_max_frame(t))
#define STREAM_BUCKETS 256

enum tunnel_state {
	T_IDLE,      /* waiting to (re)connect */
	T_DIALING,
	T_TLS,
	T_UPGRADE,   /* request sent, waiting for 101 */
	T_AUTH0,     /* stage-0 token (being made / sent), waiting for the challenge */
	T_AUTH1,     /* stage-1 token being made */
	T_SERVING,
	T_CLOSING,   /* close frame / close_notify going out, then end */
};

enum token_stage { STAGE_HANDSHAKE, STAGE_ATTEST, STAGE_REAUTH };

struct tunnel;

struct stream {
	struct stream *next; /* bucket chain */
	struct tunnel *t;
	struct nx_uuid id;
	char idtext[NX_UUID_TEXT + 1];
	int fd;
	bool connecting;
	bool src_counted;     /* src holds one of t->stream_src's counts */
	struct nx_src src;    /* the end user's address (IPv6 /64) */
	bool hub_closed;      /* hub sent disconnect: flush what we hold, then close */
	/* half_close (§6): each direction ends on its own */
	bool local_eof;       /* the local side finished sending (we told the hub) */
	bool peer_shut;       /* the end user finished sending: FIN to local once flushed */
	bool local_shut;      /* that FIN is done */
	bool write_dead;      /* the local side stopped reading: hub data is dropped */
	bool registered;      /* fd in the loop */
	bool dial_armed;      /* a dial still going at the end of its first round is watched */
	pid_t pid;            /* --exec child, 0 if none */
	bool limited;         /* the hub gave us credits (else legacy: unlimited) */
	int64_t credits;      /* data frames we may still send to the hub */
	int unacked;          /* frames written locally since our last grant */
	struct nx_chunkq out; /* hub → local, one chunk per data frame */
	uint8_t *pp;          /* PROXY protocol header still to write before `out`, or NULL */
	size_t pp_len, pp_off;
	char hostname[256];
	char target[300];
	uint16_t conn_port;
	bool is_tls;          /* connect said the end user speaks TLS */
	struct nx_timer dial_timer; /* a local connect that hangs (SYN into nowhere) */
};
#define STREAM_DIAL_TIMEOUT_MS 10000

struct token_job {
	bool active;
	enum token_stage stage;
	pid_t pid;
	int fd;
	bool eof, exited;
	int status;
	char buf[8192];
	size_t len;
	struct nx_timer timeout;
};

/* A local target as looked up at session start: dialing a number never blocks. */
struct resolved_target {
	const char *target; /* the configured "host:port" */
	char numeric[80];   /* "ip:port" / "[v6]:port", or "" if the lookup failed */
};

/* The process (tunnel_group.c): one event loop, the signals and --metrics, and
 * --connections sessions to the hub (1 by default), each a struct tunnel. */
struct tunnel_group {
	struct nx_loop *loop;
	struct tunnel **t;
	size_t n;
	size_t started; /* sessions 1.. start once the first has served (quick start names) */
	size_t stopped; /* members whose session ended for good */
	struct nx_metrics_srv *metrics;
};

struct tunnel {
	struct tunnel_group *grp;
	size_t index; /* in grp->t */
	const struct nx_tunnel_cfg *cfg; /* &live */
	struct nx_tunnel_cfg live;       /* the caller's, with the targets of the last SIGHUP */
	struct nx_tunnel_targets reloaded; /* what live's targets point into (mem NULL: the caller's) */
	uint64_t reloads;
	/* counters for SIGUSR1's status line (and metrics) */
	struct tunnel_stats {
		uint64_t bytes_from_hub;  /* end user → local service */
		uint64_t bytes_to_hub;    /* local service → end user */
		uint64_t streams_total;   /* streams that got a local side */
		uint64_t streams_refused; /* turned away: no target, --max-streams, unreachable */
		uint64_t dials;           /* sessions started (the first and every reconnect) */
		uint64_t sessions_served; /* sessions the hub accepted */
	} stats;
	struct resolved_target *resolved; /* n_map + 1 (the last is --to) */
	struct nx_loop *loop;
	struct nx_hub_url url;
	struct nx_tls_trust *trust;
	struct nx_key *key; /* built-in signer */
	enum tunnel_state state;
	int fd;
	struct nx_tls *tls;
	struct nx_ws_reader rd;
	char ws_key[NX_WS_KEY_LEN + 1];
	char head[NX_WS_MAX_HEAD];
	size_t head_len;
	struct nx_chunkq out; /* session → hub, whole frames, masked */
	bool out_blocked;     /* local reads paused: out above TUNNEL_OUT_HIGH */
	struct nx_timer reconnect, ping, idle, endtimer;
	struct nx_timer flush_timer; /* tunnel_flush_soon: at the end of this loop round */
	bool failing;         /* session ends at the next loop round (tunnel_fail) */
	bool half_close;      /* §6 extension negotiated for this session */
	bool initial_window;  /* §6: the hub never runs more than a window ahead of our grant */
	bool confirm_pending; /* stage 1 sent, hub's acceptance not seen yet */
	bool write_dead;      /* sending to the hub failed: read what it said, then end */
	char write_err[128];
	uint64_t backoff_ms;
	uint64_t serving_since;
	bool stopping;
	bool ever_served;     /* the hub accepted us once: from now on, always reconnect */
	int exit_code;        /* 1: a refusal retrying cannot fix (fatal says what to change) */
	char fatal[768];
	char nonce[NX_HUB_NONCE_MAX + 1];
	char assigned[254];   /* quick start: the name the hub gave us (claimed from stage 1 on) */
	struct token_job job;
	struct stream *streams[STREAM_BUCKETS];
	size_t n_streams;
	struct nx_srcmap *stream_src; /* TCP streams per end-user address (made on first use) */
	struct tunnel_udp_flow *udp_flows[STREAM_BUCKETS]; /* tunnel_udp.c */
	size_t n_udp_flows;
	struct nx_rates often; /* tunnel_say_often */
	uint8_t readbuf[TUNNEL_READ_FRAMES * NX_HUB_READ_PAYLOAD];
};

/* tunnel.c */
void tunnel_say(struct tunnel *t, enum nx_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A line each end user's stream can cause (a refusal, a service down): ten a second at
 * most of each kind (fmt), the rest counted into the next one ("(N times)"). */
void tunnel_say_often(struct tunnel *t, enum nx_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int tunnel_random(void *buf, size_t n);
/* Queue one frame to the hub (masked). -1: out of memory (session fails). */
int tunnel_send_frame(struct tunnel *t, enum nx_ws_opcode op, const void *a, size_t alen,
                      const void *b, size_t blen);
void tunnel_flush(struct tunnel *t);
/* Flush once this loop round's events are handled: what many streams send in one round
 * goes out in one record and one send. */
void tunnel_flush_soon(struct tunnel *t);
static inline size_t tunnel_max_frame(const struct tunnel *t)
{
	return t->cfg->max_frame ? t->cfg->max_frame : NX_TUNNEL_MAX_FRAME_DEFAULT;
}
void tunnel_fail(struct tunnel *t, const char *why);
/* A refusal retrying cannot fix: before the first session served (and without --retry)
 * the tunnel ends with `why: hint`; otherwise logged like tunnel_fail and retried. */
void tunnel_refused(struct tunnel *t, const char *why, const char *hint);

void tunnel_session_start(struct tunnel *t);

/* tunnel_hubmsg.c: WebSocket bytes from the hub, frames as they complete. */
void tunnel_feed_ws(struct tunnel *t, const uint8_t *p, size_t n);

void tunnel_reload(struct tunnel *t);     /* SIGHUP */
void tunnel_say_status(struct tunnel *t); /* SIGUSR1 */
void tunnel_stop(struct tunnel *t, int signo); /* SIGTERM / SIGINT */
bool tunnel_up(const struct tunnel *t);   /* the hub accepted this session */

/* tunnel_group.c: a member's session ended for good (stopping): the loop stops with the
 * last one; a member that served for the first time lets the others start. */
void tunnel_group_stopped(struct tunnel *t);
void tunnel_group_served(struct tunnel *t);

/* tunnel_open.c */
/* Where a stream for hostname / relay port goes: "host:port", "`cmd`" for exec, or NULL. */
const char *tunnel_target_for(const struct tunnel *t, const char *hostname, uint16_t port);
/* Look up the targets' names now (session start: no stream is waiting). */
void streams_resolve_targets(struct tunnel *t);
/* The hub's connect: the stream gets its local side, or the end user and the hub hear no. */
void stream_on_connect(struct tunnel *t, const struct nx_hub_control *c);
/* A stream without service: an alert (TLS) or an HTTP error page (a Host route) for the
 * end user, counted as refused. */
void tunnel_tell_end_user(struct tunnel *t, const struct nx_uuid *id, bool is_tls,
                          const char *hostname, int http_status);
void tunnel_send_disconnect(struct tunnel *t, const struct nx_uuid *id, const char *reason);

/* tunnel_stream.c */
struct stream *stream_find(struct tunnel *t, const struct nx_uuid *id);
void stream_attach(struct stream *s, const struct nx_src *src);
void stream_on_control(struct tunnel *t, const struct nx_hub_control *c);

void stream_on_data(struct tunnel *t, const struct nx_uuid *id, const uint8_t *p, size_t n);
void streams_close_all(struct tunnel *t);
/* SIGTERM: tell the hub every stream ends (reason shutdown), then close them. */
void streams_shutdown(struct tunnel *t);
void streams_resume_reading(struct tunnel *t);
void streams_child_exited(struct tunnel *t, pid_t pid);

/* tunnel_udp.c: UDP flows (§5). Each returns false when the event is not theirs. */
bool tunnel_udp_connect(struct tunnel *t, const struct nx_hub_control *c);
bool tunnel_udp_on_data(struct tunnel *t, const struct nx_uuid *id, const uint8_t *p, size_t n);
bool tunnel_udp_on_control(struct tunnel *t, const struct nx_hub_control *c);
/* Close every flow; tell the hub reason unless NULL. */
void tunnel_udp_close_all(struct tunnel *t, const char *reason);

/* tunnel_token.c: make a token for a stage; calls tunnel_token_ready() (maybe at once). */
int token_start(struct tunnel *t, enum token_stage stage, const char *nonce);
void token_cancel(struct tunnel *t);
/* SIGCHLD: returns 1 if pid was the token command */
int token_child_exited(struct tunnel *t, pid_t pid, int status);
void tunnel_token_ready(struct tunnel *t, enum token_stage stage, const char *token,
                        const char *error);

#endif
