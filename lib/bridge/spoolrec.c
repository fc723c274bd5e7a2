/* spoolrec.c — see spoolrec.h. */
#include "bridge/spoolrec.h"

#include <string.h>

static const uint8_t magic[4] = {'N', 'X', 'S', '1'};

uint32_t nx_crc32c(uint32_t crc, const void *buf, size_t len)
{
	/* Bitwise with a lazily built table: a spool append is dominated by write(2), not this. */
	static uint32_t table[256];
	static int ready;
	if (!ready) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++)
				c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
			table[i] = c;
		}
		__atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
	}
	const uint8_t *p = buf;
	crc = ~crc;
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

size_t nx_spool_rec_head(uint8_t hdr[NX_SPOOL_HDR + NX_SPOOL_FIXED], const struct nx_spool_rec *rec)
{
	if (rec->topic_len == 0 || rec->topic_len > 65535 || rec->payload_len > NX_SPOOL_PAYLOAD_MAX)
		return 0;
	uint8_t *b = hdr + NX_SPOOL_HDR;
	uint64_t t = rec->recv_ms;
	put32(b, (uint32_t)(t >> 32));
	put32(b + 4, (uint32_t)t);
	b[8] = (uint8_t)((rec->qos & 3) | (rec->retain ? 4 : 0));
	b[9] = 0;
	b[10] = (uint8_t)(rec->topic_len >> 8);
	b[11] = (uint8_t)rec->topic_len;
	put32(b + 12, (uint32_t)rec->payload_len);
	uint32_t body = (uint32_t)(NX_SPOOL_FIXED + rec->topic_len + rec->payload_len);
	uint32_t crc = nx_crc32c(0, b, NX_SPOOL_FIXED);
	crc = nx_crc32c(crc, rec->topic, rec->topic_len);
	crc = nx_crc32c(crc, rec->payload, rec->payload_len);
	memcpy(hdr, magic, 4);
	put32(hdr + 4, body);
	put32(hdr + 8, crc);
	return NX_SPOOL_HDR + (size_t)body;
}

enum nx_spool_parse nx_spool_rec_parse(const void *buf, size_t len, struct nx_spool_rec *rec,
                                       size_t *used)
{
	const uint8_t *p = buf;
	/* A torn tail can end anywhere, even inside the magic. */
	size_t m = len < 4 ? len : 4;
	if (memcmp(p, magic, m) != 0)
		return NX_SPOOL_INVALID;
	if (len < NX_SPOOL_HDR)
		return NX_SPOOL_NEED_MORE;
	uint32_t body = get32(p + 4);
	if (body < NX_SPOOL_FIXED || body > NX_SPOOL_BODY_MAX)
		return NX_SPOOL_INVALID;
	if (len - NX_SPOOL_HDR < body)
		return NX_SPOOL_NEED_MORE;
	const uint8_t *b = p + NX_SPOOL_HDR;
	if (nx_crc32c(0, b, body) != get32(p + 8))
		return NX_SPOOL_INVALID;
	uint32_t tl = (uint32_t)b[10] << 8 | b[11];
	uint32_t pl = get32(b + 12);
	if ((b[8] & ~7u) || b[9] || tl == 0 || (b[8] & 3) == 3 || pl > NX_SPOOL_PAYLOAD_MAX ||
	    (uint64_t)NX_SPOOL_FIXED + tl + pl != body)
		return NX_SPOOL_INVALID;
	rec->recv_ms = (uint64_t)get32(b) << 32 | get32(b + 4);
	rec->qos = b[8] & 3;
	rec->retain = (b[8] & 4) != 0;
	rec->topic = (const char *)b + NX_SPOOL_FIXED;
	rec->topic_len = tl;
	rec->payload = b + NX_SPOOL_FIXED + tl;
	rec->payload_len = pl;
	*used = NX_SPOOL_HDR + body;
	return NX_SPOOL_DONE;
}
