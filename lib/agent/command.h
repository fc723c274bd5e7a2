/* command.h — the pure parts of nexus-agent's commands: the command message
 * {"id":…, "command":…, "args":…}, which names may run, exit code → status, the ack
 * {"id":…, "status":…, "output":…}. No I/O: easy to unit test and fuzz. */
#ifndef NEXUS_AGENT_COMMAND_H
#define NEXUS_AGENT_COMMAND_H
#include <stddef.h>

#define NX_CMD_ID_MAX 128      /* bytes of a command id */
#define NX_CMD_NAME_MAX 64     /* bytes of a command name */
#define NX_CMD_MSG_MAX 65536   /* bytes of a command message; larger is rejected unread */

struct nx_cmd {
	char id[NX_CMD_ID_MAX + 1];  /* "" when the message had no usable id */
	char name[NX_CMD_NAME_MAX + 1];
};

/* Parse a command message buf[0..len). 0 when it is a JSON object with a string id (1 to
 * NX_CMD_ID_MAX bytes, no control bytes) and a string command that nx_cmd_name_ok() accepts;
 * "args" may be anything or absent. -1 with err otherwise; c->id is still filled when the
 * message had a usable id, so the refusal can be acknowledged under it. */
int nx_cmd_parse(const char *buf, size_t len, struct nx_cmd *c, char *err, size_t errlen);

/* 1 if name may be looked up in the handler directory: 1 to NX_CMD_NAME_MAX bytes of
 * [A-Za-z0-9._-], not starting with '.', so never "/", "..", a hidden file or an option. */
int nx_cmd_name_ok(const char *name, size_t len);

/* A handler's exit code → status: 0 ok, 64/65 rejected, 77 forbidden, 127 unknown_command,
 * 69/75 busy, 124 timeout, anything else error. */
const char *nx_cmd_status(int exit_code);

/* The other way, for `nexus-agent send`: ok 0, rejected 65, forbidden 77, unknown_command
 * 127, busy 75, timeout 124, anything else (error, interrupted, unknown) 1. */
int nx_cmd_status_exit(const char *status);

/* The ack as compact JSON, malloc'd: {"id","status","output"} plus "truncated":true when
 * the output was cut. Bytes of output that are not UTF-8 become U+FFFD. id "" → null.
 * NULL when out of memory. */
char *nx_cmd_ack(const char *id, const char *status, const char *output, size_t outlen,
                 int truncated);

#endif
