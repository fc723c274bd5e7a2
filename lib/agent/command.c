/* command.c — see command.h. */
#include "agent/command.h"
#include "core/util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int nx_cmd_name_ok(const char *name, size_t len)
{
	if (len == 0 || len > NX_CMD_NAME_MAX || name[0] == '.')
		return 0;
	return nx_name_chars_ok(name, len);
}

static int id_ok(const char *s, size_t len)
{
	if (len == 0 || len > NX_CMD_ID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

int nx_cmd_parse(const char *buf, size_t len, struct nx_cmd *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	if (len > NX_CMD_MSG_MAX)
		return nx_err(err, errlen, "command message larger than %d bytes", NX_CMD_MSG_MAX);
	json_error_t je;
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return nx_err(err, errlen, "command message is not JSON: %s", je.text);
	int rc = -1;
	if (!json_is_object(root)) {
		nx_err(err, errlen, "command message is not a JSON object");
		goto out;
	}
	json_t *id = json_object_get(root, "id");
	if (!json_is_string(id) || !id_ok(json_string_value(id), json_string_length(id))) {
		nx_err(err, errlen, "command message needs an \"id\": a string of 1 to %d printable bytes",
		       NX_CMD_ID_MAX);
		goto out;
	}
	memcpy(c->id, json_string_value(id), json_string_length(id));
	json_t *name = json_object_get(root, "command");
	if (!json_is_string(name)) {
		nx_err(err, errlen, "command message needs a \"command\" string");
		goto out;
	}
	if (!nx_cmd_name_ok(json_string_value(name), json_string_length(name))) {
		nx_err(err, errlen, "command name not allowed (want 1 to %d of [A-Za-z0-9._-], not starting with '.')",
		       NX_CMD_NAME_MAX);
		goto out;
	}
	memcpy(c->name, json_string_value(name), json_string_length(name));
	rc = 0;
out:
	json_decref(root);
	return rc;
}

const char *nx_cmd_status(int code)
{
	switch (code) {
	case 0: return "ok";
	case 64: case 65: return "rejected";
	case 77: return "forbidden";
	case 127: return "unknown_command";
	case 69: case 75: return "busy";
	case 124: return "timeout";
	default: return "error";
	}
}

int nx_cmd_status_exit(const char *s)
{
	static const struct { const char *s; int code; } t[] = {
	    {"ok", 0}, {"rejected", 65}, {"forbidden", 77}, {"unknown_command", 127},
	    {"busy", 75}, {"timeout", 124},
	};
	for (size_t i = 0; s && i < sizeof t / sizeof t[0]; i++)
		if (!strcmp(s, t[i].s))
			return t[i].code;
	return 1;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when the bytes there are not one. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t need;
	unsigned min;
	unsigned cp;
	if (c < 0x80)
		return c ? 1 : 0; /* NUL: jansson takes it, but replace it for the readers' sake */
	if (c >= 0xc2 && c <= 0xdf)
		need = 2, cp = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		need = 3, cp = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 4, cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

char *nx_cmd_ack(const char *id, const char *status, const char *output, size_t outlen,
                 int truncated)
{
	/* worst case every byte becomes the 3-byte U+FFFD */
	char *clean = malloc(outlen * 3 + 1);
	if (!clean)
		return NULL;
	size_t o = 0;
	const unsigned char *p = (const unsigned char *)output;
	for (size_t i = 0; i < outlen;) {
		size_t n = utf8_seq(p + i, outlen - i);
		if (n) {
			memcpy(clean + o, p + i, n);
			o += n;
			i += n;
		} else {
			memcpy(clean + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	json_t *ack = json_object();
	json_object_set_new(ack, "id", id && id[0] ? json_string(id) : json_null());
	json_object_set_new(ack, "status", json_string(status));
	json_object_set_new(ack, "output", json_stringn(clean, o));
	if (truncated)
		json_object_set_new(ack, "truncated", json_true());
	free(clean);
	char *s = json_dumps(ack, JSON_COMPACT);
	json_decref(ack);
	return s;
}
