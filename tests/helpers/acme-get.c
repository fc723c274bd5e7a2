/* acme-get — drive lib/acme against an ACME server (tests/acme-client.bats, pebble):
 *   acme-get DIRECTORY_URL STATE_DIR CHALLENGE_DIR CA_FILE NAME...
 * Logs go to stderr (logfmt); on success prints "serial=… not_after=…" and exits 0; on
 * failure prints the error (and retry_at= when the server said when) and exits 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/acme.h"
#include "core/log.h"
#include "core/util.h"

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: acme-get DIRECTORY_URL STATE_DIR CHALLENGE_DIR CA_FILE NAME...\n");
		return 2;
	}
	struct nx_acme_config c = {
	    .directory_url = argv[1],
	    .email = "test@example.com",
	    .state_dir = argv[2],
	    .challenge_dir = argv[3],
	    .ca_file = argv[4][0] ? argv[4] : NULL,
	    .poll_ms = 100,
	    .timeout_ms = 60000,
	    .log = nx_log_sink,
	};
	for (int i = 5; i < argc && c.nhostnames < NX_ACME_MAX_NAMES; i++)
		c.hostnames[c.nhostnames++] = argv[i];
	nx_log_setup("acme-get", NX_LOG_LOGFMT, NX_LOG_DEBUG);
	struct nx_acme_result r;
	char err[NX_ERRLEN];
	if (nx_acme_obtain(&c, &r, err, sizeof err) < 0) {
		printf("error=\"%s\" retry_at=%lld\n", err, (long long)r.retry_at);
		return 1;
	}
	printf("serial=%s not_before=%lld not_after=%lld\n", r.serial, (long long)r.not_before,
	       (long long)r.not_after);
	return 0;
}
