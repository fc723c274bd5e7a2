/* libFuzzer target: the parsers of what an ACME server answers (lib/acme/acme_json.c):
 * directory, order, authorization, problem document, Retry-After. Whatever they accept
 * holds bounded, NUL-terminated strings; URLs are http(s); a token is base64url. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acme/acme_int.h"
#include "core/util.h"

static void url_ok(const char *u)
{
	if (u[0] && strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)
		abort();
	if (strlen(u) >= NX_ACME_URL_MAX)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	char err[NX_ERRLEN];
	static struct acme_directory d;
	static struct acme_order o;
	static struct acme_authz a;
	static struct acme_problem p;
	if (acme_parse_directory(buf, size, &d, err, sizeof err) == 0) {
		url_ok(d.new_nonce), url_ok(d.new_account), url_ok(d.new_order);
		if (!d.new_nonce[0] || !d.new_order[0])
			abort();
	}
	if (acme_parse_order(buf, size, &o, err, sizeof err) == 0) {
		if (o.nauthz > NX_ACME_MAX_NAMES || o.status == ACME_ST_UNKNOWN)
			abort();
		url_ok(o.finalize), url_ok(o.certificate);
		for (size_t i = 0; i < o.nauthz; i++)
			url_ok(o.authz[i]);
	}
	if (acme_parse_authz(buf, size, &a, err, sizeof err) == 0 && a.has_http01) {
		if (!nx_acme_token_ok(a.token, strlen(a.token)))
			abort();
		url_ok(a.chall_url);
	}
	acme_parse_problem(buf, size, &p);
	if (strlen(p.type) >= sizeof p.type || strlen(p.detail) >= sizeof p.detail)
		abort();
	/* Retry-After: a NUL-terminated copy of a short prefix */
	char ra[80];
	size_t n = size < sizeof ra - 1 ? size : sizeof ra - 1;
	memcpy(ra, data, n);
	ra[n] = 0;
	if (acme_parse_retry_after(ra, 1700000000) < -1)
		abort();
	return 0;
}
