/* util.h — error buffers, bounded file I/O, secret wiping.
 *
 * Library convention: a function that can fail returns 0 on success and -1 on failure
 * (or a documented enum), and writes one human-readable line (no trailing newline, no
 * program name) into the caller's `err` buffer of `errlen` bytes. The library never
 * prints and never exits; the command decides what to say. */
#ifndef NEXUS_UTIL_H
#define NEXUS_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NX_ERRLEN 256

/* Format into err (if non-NULL) and return -1, so `return nx_err(err, n, "...")` reads well. */
int nx_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Read a whole file ("-" = stdin) of at most `max` bytes into a malloc'd, NUL-terminated
 * buffer. A larger file is an error, never a truncation. */
int nx_read_file(const char *path, size_t max, char **buf, size_t *len, char *err,
                 size_t errlen);

/* Read all of fd (at most `max` bytes) the same way. */
int nx_read_fd(int fd, size_t max, char **buf, size_t *len, char *err, size_t errlen);

/* Write `len` bytes to `path` atomically (temp file + fsync + rename) with `mode`. */
int nx_write_file(const char *path, const void *buf, size_t len, mode_t mode, char *err,
                  size_t errlen);

/* write(2) until done or a real error (EINTR retried). Returns 0 or -1 with errno set. */
int nx_write_all(int fd, const void *buf, size_t len);

/* 1 if `path` is readable by group or others (a secret with loose permissions), else 0. */
int nx_file_is_loose(const char *path);

/* Overwrite secret material so the compiler cannot drop the store. */
void nx_wipe(void *p, size_t n);
/* nx_wipe then free. */
void nx_free_secret(void *p, size_t n);

/* Copy `s` into dst (size n) for a log line: control bytes and non-ASCII become '?',
 * truncated with "..." when longer. Returns dst. Untrusted strings go through this. */
char *nx_sanitize(char *dst, size_t n, const char *s, size_t slen);

/* 1 if each of the n bytes is a letter, digit, '.', '_' or '-' (the characters of the
 * names we accept from files and peers: backend names, Kafka topics, command names, mesh
 * nodes); the caller checks the length and any other rule. */
int nx_name_chars_ok(const char *s, size_t n);

/* The monotonic clock in milliseconds; the wall clock in seconds and in milliseconds. */
uint64_t nx_now_ms(void);
int64_t nx_unix_time(void);
int64_t nx_unix_ms(void);

/* A user or group given by name or number (getpwnam / getgrnam, else a decimal id that
 * need not exist). 0 or -1 with the reason in err. */
int nx_parse_uid(const char *s, uint32_t *uid, char *err, size_t errlen);
int nx_parse_gid(const char *s, uint32_t *gid, char *err, size_t errlen);
/* File permission bits in octal ("0660", "660"), at most 0777. */
int nx_parse_mode(const char *s, unsigned *mode, char *err, size_t errlen);

#endif
