/* credits.c — see credits.h. */
#include "wire/credits.h"

void nx_credits_init(struct nx_credits *c)
{
	*c = (struct nx_credits){.rx_window = NX_CREDITS_WINDOW};
}

int nx_credits_can_send(const struct nx_credits *c)
{
	return !c->paused && (!c->tx_limited || c->tx_avail > 0);
}

void nx_credits_sent(struct nx_credits *c)
{
	if (c->tx_limited && c->tx_avail > 0)
		c->tx_avail--;
}

void nx_credits_grant(struct nx_credits *c, int64_t n)
{
	c->paused = 0;
	if (n <= 0)
		return;
	c->tx_limited = 1;
	if (n > (int64_t)(NX_CREDITS_CLAMP - c->tx_avail))
		c->tx_avail = NX_CREDITS_CLAMP;
	else
		c->tx_avail += (uint32_t)n;
}

void nx_credits_pause(struct nx_credits *c) { c->paused = 1; }

int nx_credits_received(struct nx_credits *c)
{
	c->rx_window--;
	return c->rx_window < 0 ? -1 : 0;
}

uint32_t nx_credits_delivered(struct nx_credits *c)
{
	c->rx_owed++;
	if (c->rx_owed < NX_CREDITS_BATCH)
		return 0;
	uint32_t k = c->rx_owed;
	c->rx_owed = 0;
	c->rx_window += k;
	return k;
}
