/* libFuzzer target: the relay's sniffing decision as a client's first bytes arrive, in reads
 * of any size (relay_worth_parsing, which skips re-parsing while the new bytes cannot change
 * the answer). The first input byte says how the rest is split into reads: 0 one byte each
 * (the slow-drip client the skip is for), 1 all at once, N reads of 1..N bytes.
 * Checks the skip's promises: whenever it says "not worth it", parsing anyway would still
 * have said "need more" (TLS alone may say INVALID there: that verdict just comes later), so
 * a client that has sent its whole head and waits is never left waiting; and an HTTP client
 * is parsed a bounded number of times, however it splits its head. The buffer is exactly as
 * long as what has arrived, so a look past it is an ASan report. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/relay_int.h"
#include "wire/sniff.h"

/* What sniff_decide would answer now, without touching c: TLS first, then HTTP. */
static enum nx_sniff_result verdict(const struct conn *c, int *tls, size_t *need)
{
	struct nx_sniff s;
	enum nx_sniff_result t = nx_sniff_tls(c->in, c->inlen, &s);
	*tls = t != NX_SNIFF_NOT_THIS;
	*need = s.need;
	if (*tls)
		return t;
	return nx_sniff_http(c->in, c->inlen, &s);
}

static size_t next_read(uint8_t mode, uint32_t *seed)
{
	if (mode == 0)
		return 1;
	if (mode == 1)
		return SNIFF_BUF;
	*seed = *seed * 1103515245u + 12345u;
	return 1 + (*seed >> 16) % mode;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t mode = data[0];
	uint32_t seed = mode;
	const uint8_t *in = data + 1;
	size_t len = size - 1 < SNIFF_BUF ? size - 1 : SNIFF_BUF; /* a read never goes past it */
	struct conn c;
	memset(&c, 0, sizeof c);
	c.proto = P_UNKNOWN;
	unsigned parses = 0;
	while (c.inlen < len) {
		size_t n = next_read(mode, &seed);
		if (n > len - c.inlen)
			n = len - c.inlen;
		unsigned char *b = realloc(c.in, c.inlen + n);
		if (!b)
			abort();
		c.in = b;
		memcpy(c.in + c.inlen, in + c.inlen, n);
		size_t old = c.inlen;
		c.inlen += n;
		/* sniff_decide's test, as it makes it while the client has not closed */
		int worth = c.inlen >= SNIFF_BUF || relay_worth_parsing(&c, old);
		int tls;
		size_t need;
		enum nx_sniff_result v = verdict(&c, &tls, &need);
		if (!worth) {
			if (v != NX_SNIFF_NEED_MORE && !(tls && v == NX_SNIFF_INVALID))
				abort();
			continue;
		}
		parses++;
		if (v != NX_SNIFF_NEED_MORE)
			break; /* the connection leaves the sniff state */
		/* what sniff_decide keeps after "need more" */
		c.proto = tls ? P_TLS : P_HTTP;
		if (tls)
			c.tls_need = need;
	}
	/* HTTP: reads that begin within the first 32 bytes, the request line's end, the head's
	 * end, a full buffer */
	if (c.proto == P_HTTP && parses > 32 + 3)
		abort();
	free(c.in);
	return 0;
}
