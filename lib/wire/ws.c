/* ws.c — RFC 6455 frames and message reassembly. The HTTP upgrade is in ws_upgrade.c. */
#include "wire/ws.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static int is_control(uint8_t op) { return op >= 0x8; }

static int known_opcode(uint8_t op)
{
	return op == NX_WS_OP_CONT || op == NX_WS_OP_TEXT || op == NX_WS_OP_BINARY ||
	       op == NX_WS_OP_CLOSE || op == NX_WS_OP_PING || op == NX_WS_OP_PONG;
}

static int invalid(struct nx_ws_frame_header *h, uint16_t code, char *err, size_t errlen,
                   const char *what)
{
	h->close_code = code;
	nx_err(err, errlen, "%s", what);
	return NX_WS_INVALID;
}

int nx_ws_parse_header(const uint8_t *buf, size_t len, enum nx_ws_role role,
                       uint64_t max_payload, struct nx_ws_frame_header *h, char *err,
                       size_t errlen)
{
	memset(h, 0, sizeof *h);
	if (len < 2)
		return NX_WS_NEED;
	h->fin = buf[0] >> 7;
	h->opcode = buf[0] & 0x0f;
	h->masked = buf[1] >> 7;
	if (buf[0] & 0x70)
		return invalid(h, NX_WS_CLOSE_PROTOCOL, err, errlen,
		               "frame with reserved bits set (no extension was negotiated)");
	if (!known_opcode(h->opcode))
		return invalid(h, NX_WS_CLOSE_PROTOCOL, err, errlen, "frame with unknown opcode");
	if (role == NX_WS_SERVER && !h->masked)
		return invalid(h, NX_WS_CLOSE_PROTOCOL, err, errlen, "unmasked frame from a client");
	if (role == NX_WS_CLIENT && h->masked)
		return invalid(h, NX_WS_CLOSE_PROTOCOL, err, errlen, "masked frame from a server");
	uint8_t len7 = buf[1] & 0x7f;
	size_t need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (h->masked ? 4 : 0);
	if (is_control(h->opcode)) {
		if (len7 > NX_WS_MAX_CONTROL)
			return invalid(h, NX_WS_CLOSE_PROTOCOL, err, errlen,
			               "control frame longer than 125 bytes");
		if (!h->fin)
			return invalid(h, NX_WS_CLOSE_PROTOCOL, err, errlen, "fragmented control frame");
	}
	if (len < need)
		return NX_WS_NEED;
	size_t p = 2;
	uint64_t plen = len7;
	if (len7 == 126) {
		plen = (uint64_t)buf[2] << 8 | buf[3];
		p = 4;
		if (plen < 126)
			return invalid(h, NX_WS_CLOSE_PROTOCOL, err, errlen, "non-minimal 16-bit length");
	} else if (len7 == 127) {
		plen = 0;
		for (int i = 0; i < 8; i++)
			plen = plen << 8 | buf[2 + i];
		p = 10;
		if (plen >> 63)
			return invalid(h, NX_WS_CLOSE_PROTOCOL, err, errlen, "64-bit length with top bit set");
		if (plen <= 0xffff)
			return invalid(h, NX_WS_CLOSE_PROTOCOL, err, errlen, "non-minimal 64-bit length");
	}
	if (plen > max_payload) {
		h->close_code = NX_WS_CLOSE_TOO_BIG;
		nx_err(err, errlen, "frame of %llu bytes exceeds the limit of %llu",
		       (unsigned long long)plen, (unsigned long long)max_payload);
		return NX_WS_INVALID;
	}
	if (h->masked) {
		memcpy(h->mask, buf + p, 4);
		p += 4;
	}
	h->payload_len = plen;
	h->header_len = p;
	return NX_WS_DONE;
}

void nx_ws_mask_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t mask[4],
                     uint64_t offset)
{
	/* 32 bytes a step (two SSE2 registers on x86-64) with the mask rotated to match, then
	 * the tail byte by byte; unaligned loads and stores are fine on every target we have */
	typedef uint8_t v16 __attribute__((vector_size(16)));
	size_t i = 0;
	if (n >= 32) {
		uint8_t m16[16];
		for (int k = 0; k < 16; k++)
			m16[k] = mask[(offset + (size_t)k) & 3];
		v16 m, a, b;
		memcpy(&m, m16, 16);
		for (; n - i >= 32; i += 32) {
			memcpy(&a, src + i, 16);
			memcpy(&b, src + i + 16, 16);
			a ^= m;
			b ^= m;
			memcpy(dst + i, &a, 16);
			memcpy(dst + i + 16, &b, 16);
		}
	}
	for (; i < n; i++)
		dst[i] = src[i] ^ mask[(offset + i) & 3];
}

void nx_ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], uint64_t offset)
{
	nx_ws_mask_copy(p, p, n, mask, offset);
}

size_t nx_ws_frame_size(uint64_t payload_len, int masked)
{
	size_t h = 2 + (payload_len > 0xffff ? 8 : payload_len > 125 ? 2 : 0) + (masked ? 4 : 0);
	return h + (size_t)payload_len;
}

size_t nx_ws_header_encode(uint8_t *out, int fin, enum nx_ws_opcode op, uint64_t payload_len,
                           const uint8_t *mask)
{
	size_t p = 2;
	out[0] = (uint8_t)((fin ? 0x80 : 0) | (op & 0x0f));
	uint8_t m = mask ? 0x80 : 0;
	if (payload_len <= 125) {
		out[1] = m | (uint8_t)payload_len;
	} else if (payload_len <= 0xffff) {
		out[1] = m | 126;
		out[2] = (uint8_t)(payload_len >> 8);
		out[3] = (uint8_t)payload_len;
		p = 4;
	} else {
		out[1] = m | 127;
		for (int i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)(payload_len >> (56 - 8 * i));
		p = 10;
	}
	if (mask) {
		memcpy(out + p, mask, 4);
		p += 4;
	}
	return p;
}

size_t nx_ws_frame_encode(uint8_t *out, size_t cap, enum nx_ws_opcode op, const void *payload,
                          size_t len, const uint8_t *mask)
{
	if (is_control(op) && len > NX_WS_MAX_CONTROL)
		return 0;
	size_t total = nx_ws_frame_size(len, mask != NULL);
	if (total > cap)
		return 0;
	size_t h = nx_ws_header_encode(out, 1, op, len, mask);
	if (len) {
		memcpy(out + h, payload, len);
		if (mask)
			nx_ws_unmask(out + h, len, mask, 0);
	}
	return total;
}

/* Cut a reason to n bytes without splitting a UTF-8 sequence. */
void nx_ws_out_init(struct nx_ws_out *f, enum nx_ws_opcode op, const void *a, size_t alen,
                    const void *b, size_t blen, const uint8_t *mask)
{
	f->masked = mask != NULL;
	if (mask)
		memcpy(f->mask, mask, 4);
	f->hl = nx_ws_header_encode(f->hdr, 1, op, alen + blen, mask);
	f->a = a;
	f->alen = alen;
	f->b = b;
	f->blen = blen;
	f->total = f->hl + alen + blen;
}

/* n bytes of one payload part, from offset off into it; poff: where the part starts in
 * the payload (the mask's phase) */
static void part_copy(uint8_t *dst, const struct nx_ws_out *f, const uint8_t *src, size_t off,
                      size_t n, size_t poff)
{
	if (f->masked)
		nx_ws_mask_copy(dst, src + off, n, f->mask, poff + off);
	else
		memcpy(dst, src + off, n);
}

void nx_ws_out_copy(uint8_t *dst, const struct nx_ws_out *f, size_t from, size_t n)
{
	if (from < f->hl) {
		size_t k = f->hl - from < n ? f->hl - from : n;
		memcpy(dst, f->hdr + from, k);
		dst += k, from += k, n -= k;
	}
	size_t p = from - f->hl; /* payload offset */
	if (n && p < f->alen) {
		size_t k = f->alen - p < n ? f->alen - p : n;
		part_copy(dst, f, f->a, p, k, 0);
		dst += k, p += k, n -= k;
	}
	if (n)
		part_copy(dst, f, f->b, p - f->alen, n, f->alen);
}

static size_t utf8_cut(const char *s, size_t len, size_t n)
{
	if (len <= n)
		return len;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

size_t nx_ws_close_encode(uint8_t *out, size_t cap, uint16_t code, const char *reason,
                          const uint8_t *mask)
{
	uint8_t body[2 + NX_WS_MAX_CLOSE_REASON];
	size_t n = 0;
	if (code) {
		body[0] = (uint8_t)(code >> 8);
		body[1] = (uint8_t)code;
		n = 2;
		if (reason) {
			size_t r = utf8_cut(reason, strlen(reason), NX_WS_MAX_CLOSE_REASON);
			memcpy(body + 2, reason, r);
			n += r;
		}
	}
	return nx_ws_frame_encode(out, cap, NX_WS_OP_CLOSE, body, n, mask);
}

/* ---- reader ---------------------------------------------------------------------------- */

void nx_ws_reader_init(struct nx_ws_reader *r, enum nx_ws_role role, size_t max_message)
{
	memset(r, 0, sizeof *r);
	r->role = role;
	r->max_message = max_message;
}

void nx_ws_reader_free(struct nx_ws_reader *r)
{
	free(r->msg);
	r->msg = NULL;
	r->msg_cap = r->msg_len = 0;
}

size_t nx_ws_reader_heap(const struct nx_ws_reader *r) { return r->msg_cap; }

static int reader_fail(struct nx_ws_reader *r, struct nx_ws_msg *msg, uint16_t code)
{
	r->failed = 1;
	msg->close_code = code;
	return NX_WS_EV_ERROR;
}

static int msg_reserve(struct nx_ws_reader *r, size_t need)
{
	if (need <= r->msg_cap)
		return 0;
	size_t cap = r->msg_cap ? r->msg_cap : 1024;
	while (cap < need)
		cap *= 2;
	if (cap > r->max_message)
		cap = r->max_message;
	if (cap < need)
		return -1;
	uint8_t *p = realloc(r->msg, cap);
	if (!p)
		return -1;
	r->msg = p;
	r->msg_cap = cap;
	return 0;
}

/* The current frame's payload is complete: turn it into an event (or NEED for a
 * non-final data fragment). */
static int frame_done(struct nx_ws_reader *r, struct nx_ws_msg *msg, char *err, size_t errlen)
{
	struct nx_ws_frame_header *h = &r->fh;
	r->in_frame = 0;
	r->hdr_have = 0;
	if (is_control(h->opcode)) {
		size_t n = (size_t)h->payload_len;
		msg->data = r->ctl;
		msg->len = n;
		r->ctl[n] = 0;
		switch (h->opcode) {
		case NX_WS_OP_PING:
			return NX_WS_EV_PING;
		case NX_WS_OP_PONG:
			return NX_WS_EV_PONG;
		default:
			break;
		}
		if (n == 1) {
			nx_err(err, errlen, "close frame with a 1-byte payload");
			return reader_fail(r, msg, NX_WS_CLOSE_PROTOCOL);
		}
		msg->close_code = n >= 2 ? (uint16_t)(r->ctl[0] << 8 | r->ctl[1]) : NX_WS_CLOSE_NO_STATUS;
		msg->reason = n >= 2 ? (const char *)r->ctl + 2 : "";
		return NX_WS_EV_CLOSE;
	}
	if (!h->fin)
		return NX_WS_EV_NEED;
	msg->data = r->msg;
	msg->len = r->msg_len;
	int ev = r->msg_opcode == NX_WS_OP_TEXT ? NX_WS_EV_TEXT : NX_WS_EV_BINARY;
	r->msg_opcode = 0;
	r->msg_len = 0;
	return ev;
}

int nx_ws_reader_feed(struct nx_ws_reader *r, const uint8_t *buf, size_t len, size_t *used,
                      struct nx_ws_msg *msg, char *err, size_t errlen)
{
	size_t pos = 0;
	memset(msg, 0, sizeof *msg);
	*used = 0;
	if (r->failed) {
		nx_err(err, errlen, "websocket reader already failed");
		msg->close_code = NX_WS_CLOSE_PROTOCOL;
		return NX_WS_EV_ERROR;
	}
	for (;;) {
		if (!r->in_frame) {
			/* gather header bytes: take what could belong to the header, parse, and give
			 * back what turned out to be payload */
			size_t take = len - pos;
			if (take > NX_WS_MAX_HEADER - r->hdr_have)
				take = NX_WS_MAX_HEADER - r->hdr_have;
			memcpy(r->hdr + r->hdr_have, buf + pos, take);
			size_t have = r->hdr_have + take;
			int rc = nx_ws_parse_header(r->hdr, have, r->role, r->max_message, &r->fh, err,
			                            errlen);
			if (rc == NX_WS_INVALID) {
				*used = pos + take;
				return reader_fail(r, msg, r->fh.close_code);
			}
			if (rc == NX_WS_NEED) {
				r->hdr_have = have;
				*used = len;
				return NX_WS_EV_NEED;
			}
			pos += r->fh.header_len - r->hdr_have;
			r->hdr_have = r->fh.header_len;
			/* sequencing rules for data frames */
			uint8_t op = r->fh.opcode;
			if (op == NX_WS_OP_CONT) {
				if (!r->msg_opcode) {
					nx_err(err, errlen, "continuation frame without a message to continue");
					*used = pos;
					return reader_fail(r, msg, NX_WS_CLOSE_PROTOCOL);
				}
			} else if (!is_control(op)) {
				if (r->msg_opcode) {
					nx_err(err, errlen, "new message while a fragmented one is unfinished");
					*used = pos;
					return reader_fail(r, msg, NX_WS_CLOSE_PROTOCOL);
				}
				r->msg_opcode = op;
				r->msg_len = 0;
			}
			if (!is_control(op)) {
				if (r->fh.payload_len > r->max_message - r->msg_len) {
					nx_err(err, errlen, "message exceeds the limit of %zu bytes",
					       r->max_message);
					*used = pos;
					return reader_fail(r, msg, NX_WS_CLOSE_TOO_BIG);
				}
				if (msg_reserve(r, r->msg_len + (size_t)r->fh.payload_len) < 0) {
					nx_err(err, errlen, "out of memory for a %zu-byte message",
					       r->msg_len + (size_t)r->fh.payload_len);
					*used = pos;
					return reader_fail(r, msg, NX_WS_CLOSE_INTERNAL);
				}
			}
			r->in_frame = 1;
			r->frame_have = 0;
		}
		/* payload */
		uint64_t left = r->fh.payload_len - r->frame_have;
		size_t n = len - pos < left ? len - pos : (size_t)left;
		if (n) {
			uint8_t *dst = is_control(r->fh.opcode) ? r->ctl + r->frame_have
			                                        : r->msg + r->msg_len;
			if (r->fh.masked) /* copy and unmask in one pass */
				nx_ws_mask_copy(dst, buf + pos, n, r->fh.mask, r->frame_have);
			else
				memcpy(dst, buf + pos, n);
			if (!is_control(r->fh.opcode))
				r->msg_len += n;
			r->frame_have += n;
			pos += n;
		}
		if (r->frame_have < r->fh.payload_len) {
			*used = pos;
			return NX_WS_EV_NEED;
		}
		int ev = frame_done(r, msg, err, errlen);
		if (ev != NX_WS_EV_NEED) {
			*used = pos;
			return ev;
		}
		if (pos == len) {
			*used = pos;
			return NX_WS_EV_NEED;
		}
	}
}
