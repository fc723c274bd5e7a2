/* pairing.c — see pairing.h. */
#include "bind/pairing.h"
#include "core/random.h"
#include "core/util.h"

#include <bearssl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

int nx_pair_code_new(char canon[NX_PAIR_CODE_CHARS + 1], char *err, size_t errlen)
{
	uint8_t b[5]; /* 40 bits: exactly 8 base32 digits */
	if (nx_random_bytes(b, sizeof b, err, errlen) < 0)
		return -1;
	uint64_t v = 0;
	for (int i = 0; i < 5; i++)
		v = v << 8 | b[i];
	for (int i = NX_PAIR_CODE_CHARS - 1; i >= 0; i--) {
		canon[i] = alphabet[v & 31];
		v >>= 5;
	}
	canon[NX_PAIR_CODE_CHARS] = '\0';
	nx_wipe(b, sizeof b);
	return 0;
}

void nx_pair_code_display(const char *canon, char out[NX_PAIR_CODE_CHARS + 2])
{
	memcpy(out, canon, 4);
	out[4] = '-';
	memcpy(out + 5, canon + 4, 4);
	out[9] = '\0';
}

static int decode_char(unsigned char c)
{
	if (c >= 'a' && c <= 'z')
		c = (unsigned char)(c - 'a' + 'A');
	if (c == 'I' || c == 'L')
		c = '1';
	if (c == 'O')
		c = '0';
	const char *p = c ? strchr(alphabet, c) : NULL;
	return p ? (int)(p - alphabet) : -1;
}

int nx_pair_code_parse(const char *buf, size_t len, char canon[NX_PAIR_CODE_CHARS + 1],
                       char *err, size_t errlen)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c == '-' || c == ' ' || c == '\t')
			continue;
		int d = decode_char(c);
		if (d < 0) {
			if (c >= 0x21 && c < 0x7f)
				return nx_err(err, errlen, "'%c' is not a pairing code character", c);
			return nx_err(err, errlen, "pairing code has a byte that is not a letter or digit");
		}
		if (n == NX_PAIR_CODE_CHARS)
			return nx_err(err, errlen, "pairing code too long (%d characters expected)",
			              NX_PAIR_CODE_CHARS);
		canon[n++] = alphabet[d];
	}
	if (n != NX_PAIR_CODE_CHARS)
		return nx_err(err, errlen, "pairing code too short (%d characters expected)",
		              NX_PAIR_CODE_CHARS);
	canon[n] = '\0';
	return 0;
}

void nx_pair_code_hash(const uint8_t *key, size_t keylen, const char *canon,
                       char hex[NX_PAIR_HASH_HEX])
{
	static const char domain[] = "nexus-bind code v1:";
	br_hmac_key_context kc;
	br_hmac_context hc;
	uint8_t mac[32];
	br_hmac_key_init(&kc, &br_sha256_vtable, key, keylen);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, domain, sizeof domain - 1);
	br_hmac_update(&hc, canon, strlen(canon));
	br_hmac_out(&hc, mac);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	nx_wipe(&kc, sizeof kc);
	nx_wipe(&hc, sizeof hc);
}

int nx_pair_jti_new(char out[NX_PAIR_JTI_LEN + 1], char *err, size_t errlen)
{
	/* the same shape nexus-token issue --jti auto gives, so ids look alike everywhere */
	return nx_random_uuid4(NULL, out, err, errlen);
}

int nx_pair_key_load(const char *path, uint8_t key[NX_PAIR_KEY_BYTES], char *err,
                     size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		uint8_t fresh[NX_PAIR_KEY_BYTES];
		if (nx_random_bytes(fresh, sizeof fresh, err, errlen) < 0)
			return -1;
		/* O_EXCL: two first runs racing must not end up with two different keys. */
		int wfd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (wfd >= 0) {
			int bad = nx_write_all(wfd, fresh, sizeof fresh) < 0 || fsync(wfd) < 0;
			close(wfd);
			nx_wipe(fresh, sizeof fresh);
			if (bad) {
				unlink(path);
				return nx_err(err, errlen, "%s: %s", path, strerror(errno));
			}
		} else if (errno != EEXIST) {
			nx_wipe(fresh, sizeof fresh);
			return nx_err(err, errlen, "%s: %s", path, strerror(errno));
		}
		nx_wipe(fresh, sizeof fresh);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return nx_err(err, errlen, "%s: %s", path, strerror(errno));
	size_t got = 0;
	while (got < NX_PAIR_KEY_BYTES) {
		ssize_t r = read(fd, key + got, NX_PAIR_KEY_BYTES - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got != NX_PAIR_KEY_BYTES) {
		nx_wipe(key, NX_PAIR_KEY_BYTES);
		return nx_err(err, errlen, "%s: pairing key must be %d bytes", path,
		              NX_PAIR_KEY_BYTES);
	}
	return 0;
}
