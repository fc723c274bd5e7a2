/* handoff.h — nexus-relay → nexus-hub: a client connection handed over a unix socket.
 *
 * The relay has accepted a client, sniffed its route key (SNI, HTTP Host or tcp:PORT) and
 * read some bytes (the prelude: the whole ClientHello or HTTP head). It sends one message
 * on a SOCK_SEQPACKET unix socket: a small fixed header, the route key, the client address,
 * the prelude, with the client's fd attached (SCM_RIGHTS). The hub then owns the connection.
 * The hub answers each message with one status byte (NX_HANDOFF_*), so the relay can tell
 * the client "no route" in the client's own protocol (TLS alert unrecognized_name or HTTP
 * 502) — the relay is the part that speaks to untrusted clients.
 * Implemented in lib/handoff.c (edge work). */
#ifndef NEXUS_HANDOFF_H
#define NEXUS_HANDOFF_H
#include <stddef.h>
#include <stdint.h>

#define NX_HANDOFF_PRELUDE_MAX (64 * 1024 + 512)

enum nx_handoff_status {
	NX_HANDOFF_OK = 0,       /* the hub took the connection */
	NX_HANDOFF_NO_ROUTE = 1, /* no backend for that route key: relay answers the client */
	NX_HANDOFF_BUSY = 2,     /* hub overloaded / shutting down: relay answers 503 or alert */
	NX_HANDOFF_DENIED = 3,   /* sent unasked, then the hub closes: this relay's user is not
	                          * allowed to hand connections over (SO_PEERCRED allow list) */
};

enum nx_handoff_kind {
	NX_HANDOFF_CONN = 0, /* "NXH1": one client connection */
	NX_HANDOFF_UDP = 1,  /* "NXU1": a relay's UDP listening socket (--listen-udp) */
};

struct nx_handoff {
	uint8_t kind;           /* enum nx_handoff_kind */
	char route_key[256];    /* normalised: lowercase, no trailing dot, no port; or "tcp:N" */
	uint16_t conn_port;     /* the relay port the client connected to */
	char client_addr[64];   /* "ip:port" or "[v6]:port" */
	uint8_t is_tls;         /* prelude is a TLS ClientHello */
	size_t prelude_len;
	unsigned char *prelude; /* recv: malloc'd, caller frees */
};

int nx_handoff_send(int sock, int client_fd, const struct nx_handoff *h, char *err, size_t errlen);
/* Receives one message; *client_fd gets the passed fd. Returns 1 on a message, 0 on EOF,
 * -1 on error (a malformed message is an error, the fd if any is closed). On -1, errno is
 * EAGAIN (nothing to read on a non-blocking socket), EPROTO (one malformed message, dropped:
 * the connection is still usable, reply NX_HANDOFF_BUSY to keep replies in step), EMFILE
 * (the same, because we had no fd left to receive the client's into) or the socket's error. */
int nx_handoff_recv(int sock, int *client_fd, struct nx_handoff *h, char *err, size_t errlen);
int nx_handoff_reply(int sock, enum nx_handoff_status st);

/* ---- added by the edge work (backward compatible) ----
 * Wire format of one message (all integers big-endian), exactly one fd in SCM_RIGHTS:
 *   "NXH1" | is_tls u8 | key_len u8 (1..255) | addr_len u8 (0..63) | 0 u8 | conn_port u16 |
 *   prelude_len u32 (0..NX_HANDOFF_PRELUDE_MAX) | route_key | client_addr | prelude
 * The reply is one byte, and the hub answers the messages in the order it received them
 * (the relay matches replies to connections first-in first-out). */
#define NX_HANDOFF_HDR 14
#define NX_HANDOFF_MSG_MAX (NX_HANDOFF_HDR + 255 + 63 + NX_HANDOFF_PRELUDE_MAX)

/* nx_handoff_send on a non-blocking socket: returns 1 when the hub's queue is full
 * (EAGAIN: wait for the socket to be writable and send again), 0 sent, -1 error. */
int nx_handoff_try_send(int sock, int client_fd, const struct nx_handoff *h, char *err,
                        size_t errlen);

/* Read one reply byte (relay side). Returns 1 with *st set, 0 on EOF (hub gone), -1 on error
 * (errno EAGAIN: nothing yet; an unknown status byte gives EPROTO). */
int nx_handoff_read_reply(int sock, enum nx_handoff_status *st);

/* ---- UDP listeners (--listen-udp) ----
 * A relay hands each of its UDP sockets to the hub once per hub connection, right after it
 * connects (before any client handoff, so the first replies are theirs). The hub owns the
 * socket from then on: it reads every datagram, keys flows by client ip:port and answers
 * from the same socket. Same layout as a connection, magic "NXU1": is_tls 0, route_key
 * "udp:<conn_port>", client_addr the socket's local address, no prelude, the UDP socket as
 * the fd. The hub answers one status byte: OK (taken), NO_ROUTE (that port is not in its
 * --allow-udp-port list: it closed its copy), BUSY (an older hub that does not know UDP). */
int nx_handoff_send_udp(int sock, int udp_fd, uint16_t port, const char *local_addr,
                        char *err, size_t errlen);

/* The pure parser behind nx_handoff_recv: one whole SOCK_SEQPACKET message buf[0..len) (a
 * message never arrives in parts, so there is no "need more"). 1 with h filled (h->prelude
 * points into buf, not allocated), or -1 with the reason in err. */
int nx_handoff_parse(const unsigned char *buf, size_t len, struct nx_handoff *h, char *err,
                     size_t errlen);

/* Free what nx_handoff_recv allocated (the prelude) and clear h. */
void nx_handoff_clear(struct nx_handoff *h);

#endif
