/* libFuzzer target: PROXY protocol headers from what the hub's connect carries (client_ip
 * and hostname are peer bytes). Input: src, authority and backend separated by NUL bytes.
 * Properties: v1 is one line of at most 107 bytes ending in CRLF, starting "PROXY TCP4 ",
 * "PROXY TCP6 " or exactly "PROXY UNKNOWN\r\n"; v2 starts with the signature and its
 * length field covers exactly the rest; nothing is written past the buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/proxyproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[1024], *f[3] = {"", "", ""};
	if (size >= sizeof buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = 0;
	char *p = buf;
	for (int i = 0; i < 3 && p <= buf + size; i++) {
		f[i] = p;
		p += strlen(p) + 1;
	}
	struct nx_proxy_info pi = {.src = f[0], .dst_port = 443, .authority = f[1],
	                           .unique_id = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0",
	                           .backend = f[2]};
	uint8_t out[NX_PROXY_MAX + 8];
	memset(out, 0xAA, sizeof out);
	int n = nx_proxy_encode(NX_PROXY_V1, &pi, out, NX_PROXY_MAX);
	if (n < 0 || n > 107 || out[n - 2] != '\r' || out[n - 1] != '\n' || out[NX_PROXY_MAX] != 0xAA)
		abort();
	if (memcmp(out, "PROXY TCP4 ", 11) && memcmp(out, "PROXY TCP6 ", 11) &&
	    !(n == 15 && memcmp(out, "PROXY UNKNOWN\r\n", 15) == 0))
		abort();
	if (memchr(out, '\n', (size_t)n - 1))
		abort();
	n = nx_proxy_encode(NX_PROXY_V2, &pi, out, NX_PROXY_MAX);
	if (out[NX_PROXY_MAX] != 0xAA)
		abort();
	if (n >= 0 && (n < 16 || (size_t)(out[14] << 8 | out[15]) != (size_t)n - 16 ||
	               memcmp(out, "\r\n\r\n\0\r\nQUIT\n", 12) != 0))
		abort();
	if (n < 0 && strlen(f[1]) <= 255 && strlen(f[2]) <= 255)
		abort(); /* everything at its largest fits NX_PROXY_MAX */
	return 0;
}
