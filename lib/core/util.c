/* util.c — see util.h. */
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int nx_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int nx_read_fd(int fd, size_t max, char **buf, size_t *len, char *err, size_t errlen)
{
	size_t cap = 4096, n = 0;
	char *b = malloc(cap + 1);
	if (!b)
		return nx_err(err, errlen, "out of memory");
	for (;;) {
		if (n == cap) {
			if (cap > max) {
				free(b);
				return nx_err(err, errlen, "input larger than %zu bytes", max);
			}
			size_t ncap = cap * 2;
			char *nb = realloc(b, ncap + 1);
			if (!nb) {
				free(b);
				return nx_err(err, errlen, "out of memory");
			}
			b = nb;
			cap = ncap;
		}
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(b);
			return nx_err(err, errlen, "read: %s", strerror(e));
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			free(b);
			return nx_err(err, errlen, "input larger than %zu bytes", max);
		}
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

int nx_read_file(const char *path, size_t max, char **buf, size_t *len, char *err,
                 size_t errlen)
{
	if (strcmp(path, "-") == 0)
		return nx_read_fd(0, max, buf, len, err, errlen);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return nx_err(err, errlen, "%s: %s", path, strerror(errno));
	char e2[NX_ERRLEN];
	int rc = nx_read_fd(fd, max, buf, len, e2, sizeof e2);
	close(fd);
	if (rc < 0)
		return nx_err(err, errlen, "%s: %s", path, e2);
	return 0;
}

int nx_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int nx_write_file(const char *path, const void *buf, size_t len, mode_t mode, char *err,
                  size_t errlen)
{
	if (strcmp(path, "-") == 0) {
		if (nx_write_all(1, buf, len) < 0)
			return nx_err(err, errlen, "stdout: %s", strerror(errno));
		return 0;
	}
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 16);
	if (!tmp)
		return nx_err(err, errlen, "out of memory");
	snprintf(tmp, plen + 16, "%s.tmpXXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		int e = errno;
		free(tmp);
		return nx_err(err, errlen, "%s: %s", path, strerror(e));
	}
	if (fchmod(fd, mode) < 0 || nx_write_all(fd, buf, len) < 0 || fsync(fd) < 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		free(tmp);
		return nx_err(err, errlen, "%s: %s", path, strerror(e));
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		free(tmp);
		return nx_err(err, errlen, "%s: %s", path, strerror(e));
	}
	free(tmp);
	return 0;
}

int nx_file_is_loose(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return 0;
	return (st.st_mode & 077) != 0;
}

void nx_wipe(void *p, size_t n)
{
	if (p && n)
		explicit_bzero(p, n);
}

void nx_free_secret(void *p, size_t n)
{
	nx_wipe(p, n);
	free(p);
}

int nx_name_chars_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

char *nx_sanitize(char *dst, size_t n, const char *s, size_t slen)
{
	size_t o = 0;
	if (n == 0)
		return dst;
	for (size_t i = 0; i < slen && s[i]; i++) {
		if (o + 1 >= n) {
			if (n >= 4)
				memcpy(dst + n - 4, "...", 3), o = n - 1;
			break;
		}
		unsigned char c = (unsigned char)s[i];
		dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[o] = '\0';
	return dst;
}

uint64_t nx_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* CLOCK_REALTIME, not time(NULL): glibc's time() reads the coarse clock, which can still
 * say second N while another process's precise clock (Python's time.time(), say) has
 * stamped a token's iat with N+1 — and the token would look "issued in the future". */
int64_t nx_unix_time(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

int64_t nx_unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse_id(const char *s, uint32_t *id)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || errno || v >= 0xffffffffUL || s[0] == '-' || s[0] == '+')
		return -1;
	*id = (uint32_t)v;
	return 0;
}

int nx_parse_uid(const char *s, uint32_t *uid, char *err, size_t errlen)
{
	struct passwd *pw = getpwnam(s);
	if (pw) {
		*uid = (uint32_t)pw->pw_uid;
		return 0;
	}
	if (parse_id(s, uid) == 0)
		return 0;
	return nx_err(err, errlen, "unknown user '%s'", s);
}

int nx_parse_gid(const char *s, uint32_t *gid, char *err, size_t errlen)
{
	struct group *gr = getgrnam(s);
	if (gr) {
		*gid = (uint32_t)gr->gr_gid;
		return 0;
	}
	if (parse_id(s, gid) == 0)
		return 0;
	return nx_err(err, errlen, "unknown group '%s'", s);
}

int nx_parse_mode(const char *s, unsigned *mode, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 8);
	if (!*s || *end || errno || v > 0777 || s[0] == '-' || s[0] == '+')
		return nx_err(err, errlen, "want an octal mode like 0660, not '%s'", s);
	if (v == 0)
		return nx_err(err, errlen, "mode 0 would let nobody connect");
	*mode = (unsigned)v;
	return 0;
}
