#include "mqtt/tls_files.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static int readable(const char *opt, const char *path, char *err, size_t errlen)
{
	if (!path)
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return nx_err(err, errlen, "%s: cannot read %s: %s", opt, path, strerror(errno));
	close(fd);
	return 0;
}

int nx_mqtt_tls_files_ok(const char *cafile, const char *certfile, const char *keyfile, char *err,
                         size_t errlen)
{
	if (readable("--cafile", cafile, err, errlen) < 0 || readable("--cert", certfile, err, errlen) < 0 ||
	    readable("--key", keyfile, err, errlen) < 0)
		return -1;
	return 0;
}
