/* tunnel_hubmsg.c — what the hub says once the WebSocket is up: the challenges of the
 * two-stage auth (shared/protocol.md §2) and the tokens that answer them, stream messages
 * (§3) handed to tunnel_stream.c, pings, and the close frame that ends or refuses the
 * session. tunnel.c owns the connection itself. */
#include <stdio.h>
#include <string.h>

#include "core/sock.h"
#include "core/util.h"
#include "tunnel/tunnel_int.h"

/* ---- describing what we serve ---------------------------------------------------------- */

static void say_serving(struct tunnel *t)
{
	char line[900];
	if (t->index > 0) { /* --connections: the first one says what is served */
		tunnel_say(t, NX_LOG_DEBUG, "serving too");
		return;
	}
	if (t->assigned[0]) { /* quick start: the URL the hub gave us, as ngrok prints it */
		tunnel_say(t, NX_LOG_INFO, "serving https://%s/ and http://%s/ → %s via %s",
		           t->assigned, t->assigned, t->cfg->to ? t->cfg->to : "--map/--exec",
		           t->cfg->hub_url);
		nx_notify_status("serving https://%s/", t->assigned);
		return;
	}
	nx_tunnel_describe(t->cfg, line, sizeof line);
	tunnel_say(t, NX_LOG_INFO, "serving %s", line);
	/* systemctl status shows it (NotifyAccess=main in the unit); harmless elsewhere */
	nx_notify_status("serving %s", line);
}

static void confirm_serving(struct tunnel *t)
{
	if (!t->confirm_pending || t->state != T_SERVING)
		return;
	t->confirm_pending = false;
	bool first = !t->ever_served;
	t->ever_served = true;
	t->stats.sessions_served++;
	say_serving(t);
	if (first)
		tunnel_group_served(t);
}

/* ---- tokens and auth ------------------------------------------------------------------- */

void tunnel_token_ready(struct tunnel *t, enum token_stage stage, const char *token,
                        const char *error)
{
	static const char *const names[] = {"handshake", "attest", "reauth"};
	if (t->failing || t->state == T_IDLE)
		return;
	if (error) {
		char why[NX_ERRLEN + 400];
		snprintf(why, sizeof why, "no %s token: %s", names[stage], error);
		tunnel_fail(t, why);
		return;
	}
	tunnel_send_frame(t, NX_WS_OP_TEXT, token, strlen(token), NULL, 0);
	if (stage == STAGE_ATTEST) {
		t->state = T_SERVING;
		t->serving_since = nx_loop_now(t->loop);
		/* success is silent (§2), but the hub reads in order: a pong to a ping sent right
		 * after stage 1 means it accepted stage 1, so "serving" is only said once true */
		tunnel_send_frame(t, NX_WS_OP_PING, NULL, 0, NULL, 0);
		t->confirm_pending = true;
	}
	tunnel_flush(t);
}

static void on_text(struct tunnel *t, const uint8_t *p, size_t n)
{
	struct nx_hub_challenge ch;
	char err[NX_ERRLEN];
	if (nx_hub_challenge_parse((const char *)p, n, &ch, err, sizeof err) < 0) {
		tunnel_fail(t, err);
		return;
	}
	if (ch.type == NX_HUB_CHALLENGE_HANDSHAKE && t->state == T_AUTH0) {
		snprintf(t->nonce, sizeof t->nonce, "%s", ch.nonce);
		if (!t->cfg->n_hostnames && !t->cfg->n_tcp_ports && !t->cfg->n_udp &&
		    t->key && /* quick start */
		    (ch.assigned[0] || !t->cfg->random_name)) /* a random name we claimed stays */
			snprintf(t->assigned, sizeof t->assigned, "%s", ch.assigned);
		/* §6: take half_close when offered; the claim goes into tokens we sign ourselves
		 * (an external command does not know about it, so then we do not use it) */
		for (int i = 0; i < ch.n_extensions && t->key; i++) {
			if (strcmp(ch.extensions[i], NX_HUB_EXT_HALF_CLOSE) == 0)
				t->half_close = true;
			if (strcmp(ch.extensions[i], NX_HUB_EXT_INITIAL_WINDOW) == 0)
				t->initial_window = true;
		}
		t->state = T_AUTH1;
		if (token_start(t, STAGE_ATTEST, ch.nonce) < 0)
			tunnel_fail(t, "cannot start the attest token");
	} else if (ch.type == NX_HUB_CHALLENGE_REAUTH && t->state == T_SERVING) {
		tunnel_say(t, NX_LOG_DEBUG, "hub asks to re-authenticate");
		if (token_start(t, STAGE_REAUTH, ch.nonce) < 0)
			tunnel_fail(t, "cannot start the reauth token");
	}
	/* anything else: text nobody asked for, ignored (§2) */
}

static void on_binary(struct tunnel *t, const uint8_t *p, size_t n)
{
	struct nx_hub_msg m;
	char err[NX_ERRLEN];
	if (t->state != T_SERVING)
		return;
	if (nx_hub_msg_parse_max(p, n, tunnel_max_frame(t), &m, err, sizeof err) < 0) {
		tunnel_say(t, NX_LOG_DEBUG, "ignored a message from the hub: %s", err);
		return;
	}
	if (m.type == NX_HUB_MSG_DATA) {
		stream_on_data(t, &m.id, m.data, m.len);
		return;
	}
	struct nx_hub_control c;
	if (nx_hub_control_parse(m.data, m.len, &c, err, sizeof err) < 0) {
		tunnel_say(t, NX_LOG_DEBUG, "ignored a control message: %s", err);
		return;
	}
	stream_on_control(t, &c);
}

static void on_close_frame(struct tunnel *t, uint16_t code, const char *reason)
{
	char r[160];
	nx_sanitize(r, sizeof r, reason, strlen(reason));
	/* echo the close like the Go client does, then end */
	uint8_t body[2] = {(uint8_t)(code >> 8), (uint8_t)code};
	if (code != NX_WS_CLOSE_NO_STATUS)
		tunnel_send_frame(t, NX_WS_OP_CLOSE, body, 2, NULL, 0);
	else
		tunnel_send_frame(t, NX_WS_OP_CLOSE, NULL, 0, NULL, 0);
	tunnel_flush(t);
	const char *what = code == NX_WS_CLOSE_TRY_AGAIN /* authenticated, the hub full: retried */
	                       ? "hub refused the session for now"
	                   : t->state < T_SERVING || code == NX_WS_CLOSE_POLICY
	                       ? "hub refused authentication"
	                       : "hub closed the session";
	char why[256];
	snprintf(why, sizeof why, "%s (%u%s%s)", what, code, *r ? ": " : "", r);
	if (nx_tunnel_refusal_permanent(code, r))
		tunnel_refused(t, why, nx_tunnel_hint_refusal(r));
	else
		tunnel_fail(t, why);
}

void tunnel_feed_ws(struct tunnel *t, const uint8_t *p, size_t n)
{
	while (n > 0 && !t->failing) {
		size_t used;
		struct nx_ws_msg m;
		char err[NX_ERRLEN];
		int ev = nx_ws_reader_feed(&t->rd, p, n, &used, &m, err, sizeof err);
		p += used;
		n -= used;
		switch (ev) {
		case NX_WS_EV_NEED:
			break;
		case NX_WS_EV_TEXT:
			on_text(t, m.data, m.len);
			break;
		case NX_WS_EV_BINARY:
			confirm_serving(t); /* a hub sends streams only to a registered backend */
			on_binary(t, m.data, m.len);
			break;
		case NX_WS_EV_PING:
			tunnel_send_frame(t, NX_WS_OP_PONG, m.data, m.len, NULL, 0);
			break;
		case NX_WS_EV_PONG:
			confirm_serving(t);
			break;
		case NX_WS_EV_CLOSE:
			on_close_frame(t, m.close_code, m.reason);
			return;
		default: {
			uint8_t body[2] = {(uint8_t)(m.close_code >> 8), (uint8_t)m.close_code};
			tunnel_send_frame(t, NX_WS_OP_CLOSE, body, 2, NULL, 0);
			tunnel_flush(t);
			char why[NX_ERRLEN + 32];
			snprintf(why, sizeof why, "hub broke the protocol: %s", err);
			tunnel_fail(t, why);
			return;
		}
		}
	}
}
