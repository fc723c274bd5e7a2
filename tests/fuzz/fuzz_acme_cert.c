/* libFuzzer target: nx_acme_cert_info, which reads the certificate file an ACME server's
 * answer became (PEM, BearSSL's X.509 decoder, core/der for the serial). Each input is tried
 * twice through a memfd named by /proc/self/fd/N: as the file's contents, and as the DER of
 * a certificate wrapped in PEM (so the fuzzer reaches the decoders past base64). Checks its
 * promises: 0 or -1; on -1 a NUL-terminated reason; on 0 a validity that does not end before
 * it begins, a renewal time inside it, and a serial of upper-case hex byte pairs with no
 * leading zero byte, NUL-terminated in its 80 bytes; and no file descriptor left open. */
#include <bearssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "acme/acme.h"
#include "core/util.h"

static void check_serial(const char *s)
{
	size_t n = strnlen(s, 80);
	if (n == 80 || n % 2)
		abort();
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
			abort();
	if (n > 2 && s[0] == '0' && s[1] == '0')
		abort();
}

static void try_file(const void *text, size_t len)
{
	int fd = memfd_create("fuzz_acme_cert", MFD_CLOEXEC);
	if (fd < 0 || (len && write(fd, text, len) != (ssize_t)len))
		abort();
	char path[64], err[NX_ERRLEN], serial[80];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	/* the lowest free descriptor, before and after: a leak moves it */
	int probe = dup(fd);
	close(probe);
	memset(err, 'x', sizeof err);
	memset(serial, 'x', sizeof serial);
	int64_t nb = 0, na = 0;
	int rc = nx_acme_cert_info(path, &nb, &na, serial, err, sizeof err);
	int after = dup(fd);
	close(after);
	close(fd);
	if (after != probe)
		abort();
	if (rc == -1) {
		if (strnlen(err, sizeof err) == sizeof err || !err[0])
			abort();
		return;
	}
	if (rc != 0)
		abort();
	check_serial(serial);
	if (nb > na)
		abort();
	for (uint32_t rnd = 0; rnd < 4; rnd++) {
		int64_t at = nx_acme_renew_at(nb, na, rnd * 0x55555555u);
		if (at < nb || at > na)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	try_file(data, size);
	size_t plen = br_pem_encode(NULL, data, size, "CERTIFICATE", BR_PEM_LINE64);
	char *pem = malloc(plen + 1);
	if (!pem)
		abort();
	br_pem_encode(pem, data, size, "CERTIFICATE", BR_PEM_LINE64);
	try_file(pem, plen);
	free(pem);
	return 0;
}
