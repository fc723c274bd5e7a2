/* denylist.c — see denylist.h. */
#include "token/denylist.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define DENYLIST_MAX (64u << 20)

static int jti_valid(const char *jti)
{
	size_t n = strlen(jti);
	if (n == 0 || n >= NX_JTI_MAX || jti[0] == '#')
		return 0;
	for (const unsigned char *p = (const unsigned char *)jti; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

static int listed(const char *buf, const char *jti)
{
	size_t jl = strlen(jti);
	for (const char *line = buf; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t ll = nl ? (size_t)(nl - line) : strlen(line);
		size_t tok = strcspn(line, " \t\r\n");
		if (tok > ll)
			tok = ll;
		if (line[0] != '#' && tok == jl && memcmp(line, jti, jl) == 0)
			return 1;
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

int nx_denylist_contains(const char *path, const char *jti, char *err, size_t errlen)
{
	char *buf;
	size_t len;
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	if (nx_read_file(path, DENYLIST_MAX, &buf, &len, err, errlen) < 0)
		return -1;
	int r = listed(buf, jti);
	free(buf);
	return r;
}

int nx_denylist_add(const char *path, const char *jti, const char *note, char *err,
                    size_t errlen)
{
	if (!jti_valid(jti))
		return nx_err(err, errlen, "token id must be 1..%d printable bytes without spaces",
		              NX_JTI_MAX - 1);
	int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return nx_err(err, errlen, "%s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX) < 0) {
		int e = errno;
		close(fd);
		return nx_err(err, errlen, "%s: lock: %s", path, strerror(e));
	}
	char *buf = NULL;
	size_t len = 0;
	char e2[NX_ERRLEN];
	if (nx_read_fd(fd, DENYLIST_MAX, &buf, &len, e2, sizeof e2) < 0) {
		close(fd);
		return nx_err(err, errlen, "%s: %s", path, e2);
	}
	int rc = 0;
	if (!listed(buf, jti)) {
		char line[NX_JTI_MAX + 512];
		char clean[400] = "";
		if (note && *note)
			nx_sanitize(clean, sizeof clean, note, strlen(note));
		/* a file whose last line lacks its newline must not swallow ours */
		const char *lead = (len > 0 && buf[len - 1] != '\n') ? "\n" : "";
		int n = snprintf(line, sizeof line, "%s%s%s%s\n", lead, jti, clean[0] ? " " : "", clean);
		if (nx_write_all(fd, line, (size_t)n) < 0 || fsync(fd) < 0)
			rc = nx_err(err, errlen, "%s: %s", path, strerror(errno));
	}
	free(buf);
	close(fd);
	return rc;
}
