/* relay_udp.c — --listen-udp: the relay binds each UDP socket (before dropping privileges)
 * and hands it to the hub once per hub connection, right after connecting and before any
 * client handoff, so the hub's first replies are these sockets' (wire/handoff.h, "NXU1").
 * The hub owns the flows from then on; the relay keeps its copy only to hand it again to
 * the next hub (a restarted one) and never reads it: datagrams that arrive while no hub
 * holds the socket wait in its receive buffer. */
#include "relay/relay_int.h"
#include "wire/handoff.h"
#include "core/log.h"
#include "core/sock.h"
#include "core/util.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void send_one(struct nx_relay *r, size_t i)
{
	char err[NX_ERRLEN], q[NX_ERRLEN + 8];
	struct relay_udp *u = &r->udp[i];
	if (nx_handoff_send_udp(r->hub_fd, u->fd, u->port, u->addr, err, sizeof err) < 0) {
		relay_log(r, NX_LOG_WARN, "udp listener not handed to the hub", "port=%u error=%s",
		          u->port, nx_log_q(q, sizeof q, err));
		return;
	}
	r->udp_sent[r->udp_reply + r->udp_wait++] = i;
}

int nx_relay_add_udp(struct nx_relay *r, int fd, char *err, size_t errlen)
{
	if (!r->cfg.hub_path)
		return nx_err(err, errlen, "UDP listeners need --hub (the hub carries the flows)");
	if (r->nudp == MAX_LISTENERS)
		return nx_err(err, errlen, "more than %d UDP listeners", MAX_LISTENERS);
	struct relay_udp *u = &r->udp[r->nudp];
	u->fd = fd;
	nx_local_addr(fd, u->addr, sizeof u->addr, NULL, &u->port);
	for (size_t i = 0; i < r->nudp; i++)
		if (r->udp[i].port == u->port)
			return nx_err(err, errlen, "two UDP listeners on port %u", u->port);
	r->nudp++;
	/* Connected already (at start) with nothing queued: its reply comes next. Otherwise it
	 * goes to the next hub connection. */
	if (r->hub_fd >= 0 && !r->wait_head && !r->send_head)
		send_one(r, r->nudp - 1);
	return 0;
}

void relay_udp_handoff(struct nx_relay *r)
{
	r->udp_wait = 0;
	r->udp_reply = 0;
	for (size_t i = 0; i < r->nudp && r->hub_fd >= 0; i++)
		send_one(r, i);
}

void relay_udp_reply(struct nx_relay *r, int status)
{
	struct relay_udp *u = &r->udp[r->udp_sent[r->udp_reply++]];
	r->udp_wait--;
	if (status == 0)
		relay_log(r, NX_LOG_INFO, "udp listener handed to the hub", "port=%u addr=%s", u->port,
		          u->addr);
	else if (status == 1)
		relay_log(r, NX_LOG_WARN, "hub does not allow this UDP port", "port=%u hint=\"nexus-hub --allow-udp-port %u\"",
		          u->port, u->port);
	else
		relay_log(r, NX_LOG_WARN, "hub did not take the UDP listener",
		          "port=%u hint=\"a hub without UDP support?\"", u->port);
}

void relay_udp_close(struct nx_relay *r)
{
	for (size_t i = 0; i < r->nudp; i++)
		close(r->udp[i].fd);
	r->nudp = 0;
}
