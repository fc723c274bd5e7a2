/* hubproto.c — Nexus Proxy backend protocol messages (shared/protocol.md §2–4). */
#include "wire/hubproto.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/hostname.h"
#include "core/util.h"

/* ---- UUID ------------------------------------------------------------------------------ */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int nx_uuid_parse(const char *s, size_t len, struct nx_uuid *u)
{
	if (len != NX_UUID_TEXT)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -1;
			i++;
			continue;
		}
		int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		u->b[o++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	return 0;
}

char *nx_uuid_format(const struct nx_uuid *u, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[u->b[i] >> 4];
		out[o++] = hex[u->b[i] & 15];
	}
	out[o] = 0;
	return out;
}

void nx_uuid_v4(struct nx_uuid *u, const uint8_t random[16])
{
	memcpy(u->b, random, 16);
	u->b[6] = (uint8_t)((u->b[6] & 0x0f) | 0x40);
	u->b[8] = (uint8_t)((u->b[8] & 0x3f) | 0x80);
}

int nx_uuid_equal(const struct nx_uuid *a, const struct nx_uuid *b)
{
	return memcmp(a->b, b->b, 16) == 0;
}

/* ---- binary messages ------------------------------------------------------------------- */

int nx_hub_msg_parse(const uint8_t *msg, size_t len, struct nx_hub_msg *m, char *err,
                     size_t errlen)
{
	return nx_hub_msg_parse_max(msg, len, NX_HUB_MAX_MESSAGE, m, err, errlen);
}

int nx_hub_msg_parse_max(const uint8_t *msg, size_t len, size_t max, struct nx_hub_msg *m,
                         char *err, size_t errlen)
{
	memset(m, 0, sizeof *m);
	if (len == 0)
		return nx_err(err, errlen, "empty binary message");
	if (len > max)
		return nx_err(err, errlen, "binary message of %zu bytes exceeds %zu", len, max);
	m->type = msg[0];
	if (msg[0] == NX_HUB_MSG_DATA) {
		if (len < NX_HUB_DATA_HEADER)
			return nx_err(err, errlen, "data message of %zu bytes has no complete client id",
			              len);
		memcpy(m->id.b, msg + 1, 16);
		m->data = msg + NX_HUB_DATA_HEADER;
		m->len = len - NX_HUB_DATA_HEADER;
		return 1;
	}
	if (msg[0] == NX_HUB_MSG_CONTROL) {
		m->data = msg + 1;
		m->len = len - 1;
		return 1;
	}
	return nx_err(err, errlen, "binary message of unknown type 0x%02x", msg[0]);
}

size_t nx_hub_data_header(uint8_t out[NX_HUB_DATA_HEADER], const struct nx_uuid *id)
{
	out[0] = NX_HUB_MSG_DATA;
	memcpy(out + 1, id->b, 16);
	return NX_HUB_DATA_HEADER;
}

/* ---- control messages ------------------------------------------------------------------ */

static const char *const EVENT_NAMES[] = {
	[NX_HUB_EV_UNKNOWN] = NULL,
	[NX_HUB_EV_CONNECT] = "connect",
	[NX_HUB_EV_DISCONNECT] = "disconnect",
	[NX_HUB_EV_RESUME_STREAM] = "resume_stream",
	[NX_HUB_EV_PAUSE_STREAM] = "pause_stream",
	[NX_HUB_EV_PING_CLIENT] = "ping_client",
	[NX_HUB_EV_PONG_CLIENT] = "pong_client",
	[NX_HUB_EV_OUTBOUND_CONNECT] = "outbound_connect",
	[NX_HUB_EV_OUTBOUND_RESULT] = "outbound_result",
};
#define N_EVENTS (sizeof EVENT_NAMES / sizeof EVENT_NAMES[0])

const char *nx_hub_event_name(enum nx_hub_event ev)
{
	if ((unsigned)ev >= N_EVENTS || !EVENT_NAMES[ev])
		return "unknown";
	return EVENT_NAMES[ev];
}

static enum nx_hub_event event_from_name(const char *s, size_t n)
{
	for (size_t i = 1; i < N_EVENTS; i++)
		if (strlen(EVENT_NAMES[i]) == n && memcmp(EVENT_NAMES[i], s, n) == 0)
			return (enum nx_hub_event)i;
	return NX_HUB_EV_UNKNOWN;
}

/* A string field: absent or null leaves dst empty; too long or not a string is an error. */
static int get_string(json_t *obj, const char *key, char *dst, size_t cap, char *err,
                      size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	dst[0] = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return nx_err(err, errlen, "control field %s is not a string", key);
	size_t n = json_string_length(v);
	if (n >= cap)
		return nx_err(err, errlen, "control field %s is too long (%zu bytes)", key, n);
	memcpy(dst, json_string_value(v), n);
	dst[n] = 0;
	return 0;
}

static int get_bool(json_t *obj, const char *key, bool *dst, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	*dst = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return nx_err(err, errlen, "control field %s is not a boolean", key);
	*dst = json_is_true(v);
	return 0;
}

static int get_int(json_t *obj, const char *key, long long min, long long max, long long *dst,
                   char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	*dst = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return nx_err(err, errlen, "control field %s is not an integer", key);
	long long x = json_integer_value(v);
	if (x < min || x > max)
		return nx_err(err, errlen, "control field %s out of range (%lld)", key, x);
	*dst = x;
	return 0;
}

int nx_hub_control_parse(const uint8_t *json, size_t len, struct nx_hub_control *c, char *err,
                         size_t errlen)
{
	memset(c, 0, sizeof *c);
	json_error_t jerr;
	json_t *o = json_loadb((const char *)json, len, 0, &jerr);
	if (!o)
		return nx_err(err, errlen, "control message is not JSON: %s", jerr.text);
	int rc = -1;
	if (!json_is_object(o)) {
		nx_err(err, errlen, "control message is not a JSON object");
		goto out;
	}
	json_t *ev = json_object_get(o, "event");
	if (ev && !json_is_null(ev)) {
		if (!json_is_string(ev)) {
			nx_err(err, errlen, "control field event is not a string");
			goto out;
		}
		const char *s = json_string_value(ev);
		size_t n = json_string_length(ev);
		c->event = event_from_name(s, n);
		size_t k = n < sizeof c->event_name - 1 ? n : sizeof c->event_name - 1;
		memcpy(c->event_name, s, k);
		c->event_name[k] = 0;
	}
	json_t *id = json_object_get(o, "client_id");
	if (id && !json_is_null(id)) {
		if (!json_is_string(id) ||
		    nx_uuid_parse(json_string_value(id), json_string_length(id), &c->client_id) < 0) {
			nx_err(err, errlen, "control field client_id is not a UUID");
			goto out;
		}
		c->has_client_id = true;
	}
	long long port, credits;
	if (get_int(o, "conn_port", 0, 65535, &port, err, errlen) < 0 ||
	    get_string(o, "client_ip", c->client_ip, sizeof c->client_ip, err, errlen) < 0 ||
	    get_string(o, "transport", c->transport, sizeof c->transport, err, errlen) < 0 ||
	    get_string(o, "hostname", c->hostname, sizeof c->hostname, err, errlen) < 0 ||
	    get_bool(o, "is_tls", &c->is_tls, err, errlen) < 0 ||
	    get_string(o, "reason", c->reason, sizeof c->reason, err, errlen) < 0 ||
	    get_string(o, "target_addr", c->target_addr, sizeof c->target_addr, err, errlen) < 0 ||
	    get_bool(o, "success", &c->success, err, errlen) < 0 ||
	    get_int(o, "credits", INT64_MIN, INT64_MAX, &credits, err, errlen) < 0)
		goto out;
	c->conn_port = (uint32_t)port;
	c->credits = credits;
	rc = 0;
out:
	json_decref(o);
	return rc;
}

/* jansson keeps insertion order, which is the order the Go peers write. Every key is one
 * of our literals, so jansson need not check it: its checks were half the cost of encoding
 * the control message every stream starts with. */
static int set_new(json_t *o, const char *key, json_t *v)
{
	return v ? json_object_set_new_nocheck(o, key, v) : -1;
}

/* A string value, checked as UTF-8 only when it is not plain ASCII (a route key from a
 * Host header may not be): invalid bytes still make the encoder fail. */
static json_t *string_value(const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return json_stringn(s, n);
	return json_stringn_nocheck(s, n);
}

int nx_hub_control_encode(const struct nx_hub_control *c, uint8_t *out, size_t cap)
{
	if ((unsigned)c->event >= N_EVENTS || !EVENT_NAMES[c->event] || cap < 2)
		return -1;
	char id[NX_UUID_TEXT + 1];
	json_t *o = json_object();
	if (!o)
		return -1;
	int bad = set_new(o, "event", string_value(EVENT_NAMES[c->event]));
	bad |= set_new(o, "client_id", string_value(nx_uuid_format(&c->client_id, id)));
	if (c->conn_port)
		bad |= set_new(o, "conn_port", json_integer(c->conn_port));
	if (c->client_ip[0])
		bad |= set_new(o, "client_ip", string_value(c->client_ip));
	if (c->transport[0])
		bad |= set_new(o, "transport", string_value(c->transport));
	if (c->hostname[0])
		bad |= set_new(o, "hostname", string_value(c->hostname));
	if (c->is_tls)
		bad |= set_new(o, "is_tls", json_true());
	if (c->reason[0])
		bad |= set_new(o, "reason", string_value(c->reason));
	if (c->target_addr[0])
		bad |= set_new(o, "target_addr", string_value(c->target_addr));
	if (c->success)
		bad |= set_new(o, "success", json_true());
	if (c->credits)
		bad |= set_new(o, "credits", json_integer(c->credits));
	int rc = -1;
	if (!bad) {
		out[0] = NX_HUB_MSG_CONTROL;
		size_t n = json_dumpb(o, (char *)out + 1, cap - 1, JSON_COMPACT);
		if (n > 0 && n <= cap - 1)
			rc = (int)(n + 1);
	}
	json_decref(o);
	return rc;
}

int nx_hub_encode_disconnect(uint8_t *out, size_t cap, const struct nx_uuid *id,
                             const char *reason)
{
	struct nx_hub_control c = {.event = NX_HUB_EV_DISCONNECT, .client_id = *id};
	if (reason)
		snprintf(c.reason, sizeof c.reason, "%s", reason);
	return nx_hub_control_encode(&c, out, cap);
}

int nx_hub_encode_resume(uint8_t *out, size_t cap, const struct nx_uuid *id, int64_t credits)
{
	struct nx_hub_control c = {.event = NX_HUB_EV_RESUME_STREAM, .client_id = *id,
	                           .credits = credits};
	return nx_hub_control_encode(&c, out, cap);
}

int nx_hub_encode_shutdown_write(uint8_t *out, size_t cap, const struct nx_uuid *id)
{
	char idt[NX_UUID_TEXT + 1];
	int n = snprintf((char *)out + (cap ? 1 : 0), cap > 1 ? cap - 1 : 0,
	                 "{\"event\":\"" NX_HUB_EVENT_SHUTDOWN_WRITE "\",\"client_id\":\"%s\"}",
	                 nx_uuid_format(id, idt));
	if (cap < 2 || n < 0 || (size_t)n >= cap - 1)
		return -1;
	out[0] = NX_HUB_MSG_CONTROL;
	return n + 1;
}

int64_t nx_hub_credit_add(int64_t *outstanding, int64_t grant)
{
	if (grant > 0) {
		if (grant > NX_HUB_CREDIT_CLAMP || *outstanding > NX_HUB_CREDIT_CLAMP - grant)
			*outstanding = NX_HUB_CREDIT_CLAMP;
		else
			*outstanding += grant;
	}
	return *outstanding;
}

/* ---- challenges ------------------------------------------------------------------------ */

static int is_b64url(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '-' || ch == '_'))
			return 0;
	}
	return 1;
}

int nx_hub_challenge_parse(const char *text, size_t len, struct nx_hub_challenge *c, char *err,
                           size_t errlen)
{
	memset(c, 0, sizeof *c);
	json_t *o = json_loadb(text, len, 0, NULL);
	if (!o)
		return 0; /* not JSON: a text nobody asked for, ignored */
	int rc = 0;
	json_t *type = json_object_get(o, "type");
	const char *t = json_is_string(type) ? json_string_value(type) : "";
	if (strcmp(t, "handshake_challenge") == 0)
		c->type = NX_HUB_CHALLENGE_HANDSHAKE;
	else if (strcmp(t, "reauth_challenge") == 0)
		c->type = NX_HUB_CHALLENGE_REAUTH;
	else
		goto out;
	json_t *nonce = json_object_get(o, "nonce");
	size_t n = json_is_string(nonce) ? json_string_length(nonce) : 0;
	if (n == 0 || n > NX_HUB_NONCE_MAX || !is_b64url(json_string_value(nonce), n)) {
		rc = nx_err(err, errlen, "%s without a usable nonce", t);
		c->type = NX_HUB_CHALLENGE_NONE;
		goto out;
	}
	memcpy(c->nonce, json_string_value(nonce), n);
	c->nonce[n] = 0;
	json_t *ext = json_object_get(o, "extensions");
	size_t i;
	json_t *e;
	json_array_foreach(ext, i, e) {
		if (c->n_extensions == NX_HUB_MAX_EXTENSIONS)
			break;
		if (!json_is_string(e) || json_string_length(e) >= sizeof c->extensions[0])
			continue;
		memcpy(c->extensions[c->n_extensions], json_string_value(e), json_string_length(e) + 1);
		c->n_extensions++;
	}
	json_t *hn = json_array_get(json_object_get(o, "hostnames"), 0);
	if (json_is_string(hn) &&
	    nx_hostname_normalize(json_string_value(hn), json_string_length(hn), c->assigned,
	                          sizeof c->assigned, 0, NULL, 0) < 0)
		c->assigned[0] = 0;
out:
	json_decref(o);
	return rc;
}

int nx_hub_challenge_encode(enum nx_hub_challenge_type type, const char *nonce,
                            const char *const *extensions, char *out, size_t cap)
{
	const char *t = type == NX_HUB_CHALLENGE_HANDSHAKE ? "handshake_challenge"
	                : type == NX_HUB_CHALLENGE_REAUTH  ? "reauth_challenge"
	                                                   : NULL;
	if (!t || !nonce || cap < 1)
		return -1;
	json_t *o = json_object();
	if (!o)
		return -1;
	int bad = set_new(o, "type", string_value(t));
	bad |= set_new(o, "nonce", string_value(nonce));
	if (extensions && extensions[0]) {
		json_t *a = json_array();
		for (size_t i = 0; a && extensions[i]; i++)
			bad |= json_array_append_new(a, string_value(extensions[i]));
		bad |= set_new(o, "extensions", a);
	}
	int rc = -1;
	if (!bad) {
		size_t n = json_dumpb(o, out, cap - 1, JSON_COMPACT);
		if (n > 0 && n <= cap - 1) {
			out[n] = 0;
			rc = (int)n;
		}
	}
	json_decref(o);
	return rc;
}
