/* hub_sessmsg.c — what a backend (or a peer hub) says once its WebSocket is up: frames
 * (RFC 6455) to the auth stages (hub_auth.c) or the mesh (hub_mesh.c), multiplexed
 * messages (shared/protocol.md §3) to their streams, pings, and the close that ends the
 * session. hub_session.c owns the connection. */
#include "hub/hub_int.h"
#include "hub/hub_mesh_int.h"
#include "core/log.h"
#include "core/util.h"

#include <stdio.h>
#include <string.h>

static void on_control(struct hub_session *s, const uint8_t *json, size_t len)
{
	struct nx_hub_control c;
	char err[NX_ERRLEN];
	if (nx_hub_control_parse(json, len, &c, err, sizeof err) < 0) {
		char q[NX_ERRLEN + 8];
		hub_log(s->hub, 3, "control message ignored", "session=%llu reason=%s",
		        (unsigned long long)s->id, nx_log_q(q, sizeof q, err));
		return;
	}
	struct hub_stream *st = c.has_client_id ? hub_session_find(s, &c.client_id) : NULL;
	switch (c.event) {
	case NX_HUB_EV_DISCONNECT:
		if (st && s->mesh) /* a peer hub that lost the route: answer like the relay */
			hub_mesh_no_route(st, &c);
		if (st) /* for an id already removed (we closed first) there is nothing to do */
			hub_stream_backend_gone(st);
		return;
	case NX_HUB_EV_RESUME_STREAM:
	case NX_HUB_EV_PAUSE_STREAM:
		if (st)
			hub_stream_on_control(st, &c);
		return;
	case NX_HUB_EV_PING_CLIENT:
		if (st) {
			struct nx_hub_control pong = {.event = NX_HUB_EV_PONG_CLIENT, .client_id = c.client_id};
			hub_session_send_control(s, &pong);
		}
		return;
	case NX_HUB_EV_OUTBOUND_CONNECT:
		if (c.has_client_id) { /* the egress feature is not offered: say so, never hang */
			struct nx_hub_control res = {.event = NX_HUB_EV_OUTBOUND_RESULT,
			                             .client_id = c.client_id};
			snprintf(res.reason, sizeof res.reason, "not supported");
			hub_session_send_control(s, &res);
		}
		return;
	case NX_HUB_EV_UNKNOWN:
		if (st && s->half_close && strcmp(c.event_name, "shutdown_write") == 0)
			hub_stream_on_shutdown_write(st);
		return;
	default:
		return;
	}
}

static void on_binary(struct hub_session *s, const uint8_t *data, size_t len)
{
	if (s->state != SESS_LIVE) {
		hub_session_fail(s, NX_WS_CLOSE_POLICY, "binary message before authentication");
		return;
	}
	struct nx_hub_msg m;
	char err[NX_ERRLEN];
	if (nx_hub_msg_parse(data, len, &m, err, sizeof err) < 0) {
		hub_session_fail(s, NX_WS_CLOSE_PROTOCOL, err);
		return;
	}
	if (m.type == NX_HUB_MSG_CONTROL) {
		on_control(s, m.data, m.len);
		return;
	}
	struct hub_stream *st = hub_session_find(s, &m.id);
	if (st) /* data for an unknown id is dropped */
		hub_stream_on_data(st, m.data, m.len);
}

void hub_session_on_ws(struct hub_session *s, const uint8_t *buf, size_t len)
{
	char err[NX_ERRLEN];
	while (len && !s->dead && s->state != SESS_CLOSING) {
		if (s->moving) { /* authenticated: the worker it goes to reads on from here */
			if (hub_buf_append(&s->carry, buf, len) < 0)
				hub_session_kill(s, "out of memory");
			return;
		}
		size_t used = 0;
		struct nx_ws_msg msg;
		int ev = nx_ws_reader_feed(&s->ws, buf, len, &used, &msg, err, sizeof err);
		buf += used;
		len -= used;
		switch (ev) {
		case NX_WS_EV_ERROR:
			hub_session_fail(s, msg.close_code ? msg.close_code : NX_WS_CLOSE_PROTOCOL, err);
			return;
		case NX_WS_EV_NEED:
			if (!used)
				return;
			break;
		case NX_WS_EV_TEXT:
			if (s->mesh)
				hub_mesh_on_text(s, msg.data, msg.len);
			else
				hub_auth_on_text(s, msg.data, msg.len);
			break;
		case NX_WS_EV_BINARY:
			on_binary(s, msg.data, msg.len);
			break;
		case NX_WS_EV_PING:
			hub_session_send(s, NX_WS_OP_PONG, msg.data, msg.len, NULL, 0);
			break;
		case NX_WS_EV_PONG:
			break;
		case NX_WS_EV_CLOSE: {
			/* Echo the close (RFC 6455 §5.5.1), then end: the streams end with it. */
			uint8_t frame[NX_WS_MAX_HEADER + 2];
			uint16_t code = msg.close_code == NX_WS_CLOSE_NO_STATUS ? 0 : msg.close_code;
			size_t n = nx_ws_close_encode(frame, sizeof frame, code, NULL, NULL);
			if (n && s->state != SESS_CLOSING)
				hub_buf_append(&s->out, frame, n);
			if (s->state == SESS_LIVE) {
				hub_session_flush(s);
				hub_session_kill(s, NULL);
			} else {
				s->state = SESS_CLOSING;
				hub_session_flush(s);
			}
			return;
		}
		}
	}
}
