/* spoolrec.h — the on-disk record of the nexus-mqtt2kafka spool. Pure: builds and parses
 * bytes, no I/O. The reader is fed bytes a crash may have torn, so every length is checked.
 *
 *   offset size
 *   0      4    magic "NXS1"
 *   4      4    body length B, big-endian (NX_SPOOL_FIXED <= B <= NX_SPOOL_BODY_MAX)
 *   8      4    CRC-32C of the B body bytes, big-endian
 *   12     B    body:
 *                 0  8  receive time, ms since the epoch, big-endian
 *                 8  1  flags: bits 0-1 QoS, bit 2 retain (others must be 0)
 *                 9  1  reserved, 0
 *                 10 2  topic length T, big-endian (1..65535)
 *                 12 4  payload length P, big-endian; T + P = B - NX_SPOOL_FIXED
 *                 16 T  MQTT topic
 *                 .. P  payload, byte-exact
 */
#ifndef NEXUS_SPOOLREC_H
#define NEXUS_SPOOLREC_H
#include <stddef.h>
#include <stdint.h>

#define NX_SPOOL_HDR 12
#define NX_SPOOL_FIXED 16
#define NX_SPOOL_PAYLOAD_MAX (256u * 1024 * 1024)   /* MQTT's own limit is 256 MiB */
#define NX_SPOOL_BODY_MAX (NX_SPOOL_FIXED + 65535u + NX_SPOOL_PAYLOAD_MAX)

struct nx_spool_rec {
	uint64_t recv_ms;
	int qos;
	int retain;
	const char *topic;
	size_t topic_len;
	const void *payload;
	size_t payload_len;
};

enum nx_spool_parse { NX_SPOOL_DONE = 0, NX_SPOOL_NEED_MORE = 1, NX_SPOOL_INVALID = 2 };

/* Parse the record at buf[0..len): DONE fills rec (pointing into buf) and *used; NEED_MORE
 * when buf ends inside the record (a torn tail); INVALID for bad magic, lengths or CRC. */
enum nx_spool_parse nx_spool_rec_parse(const void *buf, size_t len, struct nx_spool_rec *rec,
                                       size_t *used);

/* Write the NX_SPOOL_HDR + NX_SPOOL_FIXED bytes that precede topic and payload into hdr.
 * Returns the total record size, or 0 when the topic or payload is too long. */
size_t nx_spool_rec_head(uint8_t hdr[NX_SPOOL_HDR + NX_SPOOL_FIXED], const struct nx_spool_rec *rec);

/* CRC-32C (Castagnoli), chainable: start with crc = 0. */
uint32_t nx_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
