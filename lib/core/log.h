/* log.h — one line per diagnostic on stderr.
 *
 * Two styles: NX_LOG_PLAIN for command-line tools ("nexus-token: expired token") and
 * NX_LOG_LOGFMT for daemons ("level=info msg=\"stream open\" host=app.test").
 * This is the one lib module that writes: it is the commands' voice, called only by cmd/. */
#ifndef NEXUS_LOG_H
#define NEXUS_LOG_H
#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>

enum nx_log_level { NX_LOG_ERROR = 0, NX_LOG_WARN = 1, NX_LOG_INFO = 2, NX_LOG_DEBUG = 3 };
enum nx_log_style { NX_LOG_PLAIN = 0, NX_LOG_LOGFMT = 1 };

/* prog: program name for plain lines; max: the most verbose level printed. */
void nx_log_setup(const char *prog, enum nx_log_style style, enum nx_log_level max);
enum nx_log_level nx_log_level(void);
const char *nx_log_prog(void);

/* Log `msg` with optional logfmt key=value pairs in `kv` (printf format, may be NULL).
 * Plain style: "prog: msg (k=v ...)"; logfmt: "level=L msg=\"msg\" k=v ...".
 * Values formatted into kv that come from the network must be sanitised or quoted with
 * nx_log_q() first. */
void nx_log(enum nx_log_level lvl, const char *msg, const char *kv, ...)
    __attribute__((format(printf, 3, 4)));

#define nx_error(msg, ...) nx_log(NX_LOG_ERROR, msg, __VA_ARGS__)
#define nx_warn(msg, ...) nx_log(NX_LOG_WARN, msg, __VA_ARGS__)
#define nx_info(msg, ...) nx_log(NX_LOG_INFO, msg, __VA_ARGS__)
#define nx_debug(msg, ...) nx_log(NX_LOG_DEBUG, msg, __VA_ARGS__)

/* printf-style "prog: ..." line on stderr regardless of style (usage errors, CLI answers). */
void nx_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Usage errors, the same in every command: "prog: <what is wrong>" and "try 'prog --help'"
 * on stderr. Returns 2, the exit status of a usage error. nx_log_setup() sets opterr = 0 so
 * getopt_long stays quiet; give it an optstring starting with ':' and hand what it returns
 * for a bad option ('?' or ':') to nx_usage_getopt(), which names the option. */
int nx_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int nx_usage_getopt(int c, char **argv);
/* The same words into err, for a parser that reports rather than prints (returns -1). */
int nx_getopt_error(int c, char **argv, char *err, size_t errlen);

/* How a lib module that runs a daemon (hub, relay, tunnel, bridge) reports what happens
 * without printing: it calls the command's sink with a level, a message and logfmt
 * key=value text (untrusted values already quoted; may be NULL or ""). The module keeps
 * the sink and its arg in its config; nx_log_sink is the sink that writes through nx_log().
 * Sinks may be called from any thread. */
typedef void (*nx_log_sink_fn)(void *arg, int level, const char *msg, const char *kv);
void nx_log_sink(void *arg, int level, const char *msg, const char *kv);
/* Format kvfmt (may be NULL) and hand it to sink; nothing when sink is NULL. */
void nx_log_vemit(nx_log_sink_fn sink, void *arg, int level, const char *msg, const char *kvfmt,
                  va_list ap);
/* The same for a line that stands for times events (a rate-limited one: nx_rates_note()):
 * times=N is appended; nothing when times is 0. */
void nx_log_vemit_times(nx_log_sink_fn sink, void *arg, int level, const char *msg,
                        uint64_t times, const char *kvfmt, va_list ap);

/* Quote an untrusted value for a logfmt line into buf: wraps in "" when it has spaces or
 * quotes, escapes " and \, replaces control/non-ASCII bytes. Returns buf. */
const char *nx_log_q(char *buf, unsigned n, const char *s);

#endif
