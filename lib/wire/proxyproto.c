/* proxyproto.c — PROXY protocol v1 / v2 headers (see proxyproto.h). */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/sock.h"
#include "wire/proxyproto.h"

static const uint8_t V2_SIG[NX_PROXY_V2_SIG_LEN] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                    0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

int nx_proxy_version_parse(const char *s)
{
	if (strcmp(s, "none") == 0)
		return NX_PROXY_NONE;
	if (strcmp(s, "v1") == 0 || strcmp(s, "1") == 0)
		return NX_PROXY_V1;
	if (strcmp(s, "v2") == 0 || strcmp(s, "2") == 0)
		return NX_PROXY_V2;
	return -1;
}

const char *nx_proxy_version_name(enum nx_proxy_version v)
{
	return v == NX_PROXY_V1 ? "v1" : v == NX_PROXY_V2 ? "v2" : "none";
}

/* One address: family (4 / 6, 0 if unusable), its bytes and port. */
struct addr {
	int fam;
	uint8_t b[16];
	uint16_t port;
};

static void addr_parse(const char *s, struct addr *a)
{
	memset(a, 0, sizeof *a);
	char host[256];
	if (!s || !*s || nx_split_hostport(s, host, sizeof host, &a->port, NULL, 0) < 0)
		return;
	if (inet_pton(AF_INET, host, a->b) == 1) {
		a->fam = 4;
	} else if (inet_pton(AF_INET6, host, a->b) == 1) {
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		a->fam = 6;
		if (memcmp(a->b, mapped, 12) == 0) {
			memmove(a->b, a->b + 12, 4);
			memset(a->b + 4, 0, 12);
			a->fam = 4;
		}
	}
}

/* src and dst as the header needs them; false: no usable source (UNKNOWN / LOCAL). */
static bool addrs(const struct nx_proxy_info *pi, struct addr *src, struct addr *dst)
{
	addr_parse(pi->src, src);
	if (!src->fam)
		return false;
	if (pi->dst) {
		addr_parse(pi->dst, dst);
		return dst->fam == src->fam;
	}
	memset(dst, 0, sizeof *dst);
	dst->fam = src->fam;
	dst->port = pi->dst_port;
	return true;
}

static int encode_v1(const struct nx_proxy_info *pi, uint8_t *out, size_t cap)
{
	struct addr s, d;
	char line[NX_PROXY_V1_MAX + 1];
	int n;
	if (!addrs(pi, &s, &d)) {
		n = snprintf(line, sizeof line, "PROXY UNKNOWN\r\n");
	} else {
		int af = s.fam == 4 ? AF_INET : AF_INET6;
		char sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN];
		inet_ntop(af, s.b, sa, sizeof sa);
		inet_ntop(af, d.b, da, sizeof da);
		n = snprintf(line, sizeof line, "PROXY TCP%d %s %s %u %u\r\n", s.fam, sa, da, s.port,
		             d.port);
	}
	if (n < 0 || (size_t)n >= sizeof line || (size_t)n > cap)
		return -1;
	memcpy(out, line, (size_t)n);
	return n;
}

static int put_tlv(uint8_t *out, size_t cap, size_t *o, uint8_t type, const char *v, size_t max)
{
	if (!v || !*v)
		return 0;
	size_t len = strlen(v);
	if (len > max || *o + 3 + len > cap)
		return -1;
	out[(*o)++] = type;
	out[(*o)++] = (uint8_t)(len >> 8);
	out[(*o)++] = (uint8_t)len;
	memcpy(out + *o, v, len);
	*o += len;
	return 0;
}

static bool is_port_key(const char *k)
{
	return k && (strncmp(k, "tcp:", 4) == 0 || strncmp(k, "udp:", 4) == 0);
}

static int encode_v2(const struct nx_proxy_info *pi, uint8_t *out, size_t cap)
{
	struct addr s, d;
	if (cap < NX_PROXY_V2_HEADER)
		return -1;
	memcpy(out, V2_SIG, sizeof V2_SIG);
	size_t o = NX_PROXY_V2_HEADER;
	if (!addrs(pi, &s, &d)) {
		out[12] = 0x20; /* version 2, LOCAL */
		out[13] = 0x00; /* UNSPEC */
	} else {
		size_t alen = s.fam == 4 ? 4 : 16;
		if (o + 2 * alen + 4 > cap)
			return -1;
		out[12] = 0x21;                       /* version 2, PROXY */
		out[13] = s.fam == 4 ? 0x11 : 0x21;   /* TCP over IPv4 / IPv6 */
		memcpy(out + o, s.b, alen);
		memcpy(out + o + alen, d.b, alen);
		o += 2 * alen;
		out[o++] = (uint8_t)(s.port >> 8);
		out[o++] = (uint8_t)s.port;
		out[o++] = (uint8_t)(d.port >> 8);
		out[o++] = (uint8_t)d.port;
	}
	if ((!is_port_key(pi->authority) &&
	     put_tlv(out, cap, &o, NX_PP2_TYPE_AUTHORITY, pi->authority, 255) < 0) ||
	    put_tlv(out, cap, &o, NX_PP2_TYPE_UNIQUE_ID, pi->unique_id, 128) < 0 ||
	    put_tlv(out, cap, &o, NX_PP2_TYPE_BACKEND, pi->backend, 255) < 0)
		return -1;
	size_t body = o - NX_PROXY_V2_HEADER;
	out[14] = (uint8_t)(body >> 8);
	out[15] = (uint8_t)body;
	return (int)o;
}

int nx_proxy_encode(enum nx_proxy_version v, const struct nx_proxy_info *pi, uint8_t *out,
                    size_t cap)
{
	switch (v) {
	case NX_PROXY_V1: return encode_v1(pi, out, cap);
	case NX_PROXY_V2: return encode_v2(pi, out, cap);
	default: return -1;
	}
}
