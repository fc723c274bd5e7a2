/* sniff.h — decide where a client connection goes from its first bytes, without
 * terminating anything: the TLS ClientHello SNI, or the HTTP/1.x Host.
 *
 * Pure parsers over (buf, len): call again with more bytes after NX_SNIFF_NEED_MORE; the
 * answer only depends on the bytes, never on how they were split into reads. The name is
 * returned raw (as the client sent it, at most 255 bytes); run it through
 * nx_hostname_normalize() (hostname.h) before using it as a route key.
 *
 * Also here: the bytes the relay answers with when it cannot route a client (a TLS fatal
 * alert, a short HTTP error response), so the client is told in its own protocol. */
#ifndef NEXUS_SNIFF_H
#define NEXUS_SNIFF_H
#include <stddef.h>
#include <stdint.h>

#define NX_SNIFF_TLS_HELLO_MAX (32 * 1024) /* ClientHello handshake message, reassembled */
#define NX_SNIFF_HTTP_HEAD_MAX (64 * 1024) /* request line + headers + blank line */

enum nx_sniff_result {
	NX_SNIFF_DONE = 0,      /* complete; out->name holds the name */
	NX_SNIFF_NEED_MORE = 1, /* so far so good: read more and call again */
	NX_SNIFF_NO_NAME = 2,   /* complete and well-formed, but it names no host (no SNI, no Host) */
	NX_SNIFF_INVALID = 3,   /* this protocol, but malformed or over the size cap */
	NX_SNIFF_NOT_THIS = 4,  /* these bytes are not this protocol at all */
};

struct nx_sniff {
	char name[256];          /* NUL-terminated (a name with a NUL byte in it is INVALID) */
	size_t name_len;
	size_t consumed;         /* DONE/NO_NAME: bytes of buf the ClientHello records / head use */
	uint16_t tls_version;    /* TLS: version field of the first record (for the alert) */
	uint8_t http_minor;      /* HTTP: 0 or 1 (HTTP/1.0, HTTP/1.1) */
	const char *why;         /* INVALID: a short static reason, for a log line */
	size_t need;             /* TLS NEED_MORE: DONE/NO_NAME needs at least this many bytes in
	                          * all (a lower bound from the ClientHello's length; 0 = none yet),
	                          * so a caller fed one byte at a time may wait for them instead of
	                          * re-parsing (an INVALID verdict then just comes later) */
};

/* TLS: a handshake record (0x16 0x03 ..) whose first handshake message is a ClientHello,
 * possibly split over several records (each ≤ 2^14 bytes) and any number of reads. DONE once
 * the whole ClientHello is in buf and it carries a host_name SNI. NOT_THIS as soon as the
 * first bytes cannot start a TLS handshake record. */
enum nx_sniff_result nx_sniff_tls(const unsigned char *buf, size_t len, struct nx_sniff *out);

/* HTTP/1.x request head: "METHOD target HTTP/1.x" CRLF headers CRLF CRLF (bare LF accepted).
 * The name is the authority of an absolute-form target ("GET http://h:8080/ HTTP/1.1"), else
 * the Host header (case-insensitive name), port stripped, "[v6]" kept with its brackets.
 * INVALID: duplicate Host, folded or malformed header lines, a head over 64 KiB.
 * NOT_THIS: the first bytes are not an HTTP/1 request line start, or the first line has no
 * " HTTP/" in it (another line protocol, HTTP/0.9), or it is the HTTP/2 preface
 * "PRI * HTTP/2.0". */
enum nx_sniff_result nx_sniff_http(const unsigned char *buf, size_t len, struct nx_sniff *out);

const char *nx_sniff_result_name(enum nx_sniff_result r);

/* TLS alert descriptions the relay sends. */
enum {
	NX_TLS_ALERT_HANDSHAKE_FAILURE = 40,
	NX_TLS_ALERT_DECODE_ERROR = 50,
	NX_TLS_ALERT_INTERNAL_ERROR = 80,
	NX_TLS_ALERT_UNRECOGNIZED_NAME = 112,
};

/* A fatal alert record into out[7]: 15 VV VV 00 02 02 desc. The record version is the
 * client's (0x0300..0x0303) when given, else 0x0301. Returns 7. */
size_t nx_tls_alert(unsigned char out[7], uint16_t client_record_version, uint8_t desc);

/* A short complete HTTP/1.1 error response with "Connection: close" for status 400, 408,
 * 502, 503 or 504 (anything else gives 500). Static bytes; *len gets their length. */
const char *nx_http_error_response(int status, size_t *len);

/* After such an answer and our FIN, how long what the client still sends is read and
 * dropped before we close: closing with unread input sends a RST, which can destroy the
 * answer before the client reads it. The relay and the hub both wait this long. */
#define NX_ANSWER_LINGER_MS 2000

/* The same response with body `body` + "\n" instead (a proxy that is not the relay says
 * why in its own words), into out. Returns its length, or 0 if it does not fit. */
size_t nx_http_error_format(int status, const char *body, char *out, size_t outlen);

#endif
