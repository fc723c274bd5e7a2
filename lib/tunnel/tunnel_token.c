/* tunnel_token.c — tokens for the hub's two-stage auth (shared/protocol.md §2): the
 * built-in signer (our JWS lib, any signing key) or an external command run without
 * blocking the loop, so a re-authentication never stalls the streams. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "token/backend_claims.h"
#include "token/jws.h"
#include "token/keys.h"
#include "core/spawn.h"
#include "tunnel/tunnel_int.h"
#include "core/util.h"

#define TOKEN_CMD_TIMEOUT_MS 10000
#define DEFAULT_TOKEN_TTL_MS 30000

static const char *const STAGE_NAMES[] = {"handshake", "attest", "reauth"};

/* ---- built-in ---------------------------------------------------------------------------- */

/* Claims in the order the Go backend writes them (vectors/README): route claims, weight,
 * session_nonce, iss, sub, aud, exp, iat. */
static int sign_builtin(struct tunnel *t, enum token_stage stage, const char *nonce,
                        char **token, char *err, size_t errlen)
{
	const struct nx_tunnel_cfg *c = t->cfg;
	json_t *claims = json_object();
	int rc = -1;
	if (!claims)
		return nx_err(err, errlen, "out of memory");
	for (size_t i = 0; i < c->n_hostnames; i++)
		if (nx_claims_add_hostname(claims, c->hostnames[i], err, errlen) < 0)
			goto out;
	/* quick start: stage 0 claims nothing, so the hub assigns a name; claim it after. A
	 * random name is claimed from stage 0 on once we have one, so a reconnect keeps it. */
	if ((stage != STAGE_HANDSHAKE || c->random_name) && t->assigned[0] &&
	    nx_claims_add_hostname(claims, t->assigned, err, errlen) < 0)
		goto out;
	if (stage == STAGE_HANDSHAKE && c->random_name && !t->assigned[0])
		json_object_set_new(claims, "extensions", json_pack("[s]", NX_HUB_EXT_RANDOM_NAME));
	for (size_t i = 0; i < c->n_tcp_ports; i++) {
		char p[8];
		snprintf(p, sizeof p, "%u", c->tcp_ports[i]);
		if (nx_claims_add_tcp_port(claims, p, err, errlen) < 0)
			goto out;
	}
	for (size_t i = 0; i < c->n_udp; i++) {
		char r[24];
		if (c->udp[i].idle_s)
			snprintf(r, sizeof r, "%u:%us", c->udp[i].port, c->udp[i].idle_s);
		else
			snprintf(r, sizeof r, "%u", c->udp[i].port);
		if (nx_claims_add_udp_route(claims, r, err, errlen) < 0)
			goto out;
	}
	if (c->weight > 0)
		json_object_set_new(claims, "weight", json_integer(c->weight));
	if (stage != STAGE_HANDSHAKE)
		json_object_set_new(claims, "session_nonce", json_string(nonce));
	if (stage != STAGE_HANDSHAKE && (t->half_close || t->initial_window)) {
		json_t *ext = json_array();
		if (t->half_close)
			json_array_append_new(ext, json_string(NX_HUB_EXT_HALF_CLOSE));
		if (t->initial_window)
			json_array_append_new(ext, json_string(NX_HUB_EXT_INITIAL_WINDOW));
		json_object_set_new(claims, "extensions", ext);
	}
	int64_t now = nx_unix_time();
	uint64_t ttl = c->token_ttl_ms ? c->token_ttl_ms : DEFAULT_TOKEN_TTL_MS;
	json_object_set_new(claims, "iss", json_string("authorizer"));
	json_object_set_new(claims, "sub", json_string(c->name ? c->name : "nexus-tunnel"));
	json_t *aud = json_array();
	json_array_append_new(aud, json_string("nexus"));
	json_object_set_new(claims, "aud", aud);
	json_object_set_new(claims, "exp", json_integer(now + (json_int_t)((ttl + 999) / 1000)));
	json_object_set_new(claims, "iat", json_integer(now));
	/* a key pair's tokens name it: the hub's --backends file is looked up by this kid */
	json_t *hdr = NULL;
	char kid[NX_KID_MAX];
	if (nx_key_type(t->key) != NX_KEY_HMAC && nx_key_thumbprint(t->key, kid, err, errlen) == 0)
		hdr = json_pack("{s:s}", "kid", kid);
	rc = nx_jws_sign(t->key, NX_ALG_NONE, hdr, claims, token, err, errlen);
	json_decref(hdr);
out:
	json_decref(claims);
	return rc;
}

/* ---- external command ------------------------------------------------------------------ */

static void job_reset(struct tunnel *t)
{
	struct token_job *j = &t->job;
	if (j->fd >= 0) {
		nx_loop_del(t->loop, j->fd);
		close(j->fd);
	}
	nx_timer_stop(t->loop, &j->timeout);
	nx_wipe(j->buf, sizeof j->buf);
	j->fd = -1;
	j->len = 0;
	j->active = false;
	j->pid = 0;
}

static int token_chars(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '-' || ch == '_' || ch == '.' || ch == '='))
			return 0;
	}
	return 1;
}

/* The command's output: a bare token on the first line, or {"token":"…",…}. */
static int parse_output(char *buf, size_t len, char **token, char *err, size_t errlen)
{
	size_t i = 0;
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
		i++;
	if (i < len && buf[i] == '{') {
		json_t *o = json_loadb(buf + i, len - i, 0, NULL);
		json_t *tok = json_object_get(o, "token");
		if (!json_is_string(tok) || !token_chars(json_string_value(tok), json_string_length(tok))) {
			json_decref(o);
			return nx_err(err, errlen, "token command printed JSON without a usable \"token\"");
		}
		*token = strdup(json_string_value(tok));
		json_decref(o);
		return *token ? 0 : nx_err(err, errlen, "out of memory");
	}
	size_t end = i;
	while (end < len && buf[end] != '\n' && buf[end] != '\r')
		end++;
	while (end > i && (buf[end - 1] == ' ' || buf[end - 1] == '\t'))
		end--;
	if (!token_chars(buf + i, end - i))
		return nx_err(err, errlen, "token command printed no token on its first line");
	*token = strndup(buf + i, end - i);
	return *token ? 0 : nx_err(err, errlen, "out of memory");
}

static void job_maybe_done(struct tunnel *t)
{
	struct token_job *j = &t->job;
	if (!j->active || !j->eof || !j->exited)
		return;
	enum token_stage stage = j->stage;
	char err[NX_ERRLEN];
	char *token = NULL;
	if (WIFEXITED(j->status) && WEXITSTATUS(j->status) != 0)
		nx_err(err, sizeof err, "token command exited with status %d", WEXITSTATUS(j->status));
	else if (WIFSIGNALED(j->status))
		nx_err(err, sizeof err, "token command killed by signal %d", WTERMSIG(j->status));
	else
		parse_output(j->buf, j->len, &token, err, sizeof err);
	job_reset(t);
	tunnel_token_ready(t, stage, token, token ? NULL : err);
	if (token)
		nx_free_secret(token, strlen(token));
}

static void on_job_output(struct nx_loop *loop, int fd, unsigned events, void *arg)
{
	struct tunnel *t = arg;
	struct token_job *j = &t->job;
	for (;;) {
		if (j->len == sizeof j->buf) {
			/* more than a token: keep what we have, drain the rest */
			char sink[512];
			ssize_t r = read(fd, sink, sizeof sink);
			if (r > 0)
				continue;
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			break;
		}
		ssize_t r = read(fd, j->buf + j->len, sizeof j->buf - j->len);
		if (r > 0) {
			j->len += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		break; /* EOF or error */
	}
	nx_loop_del(loop, fd);
	close(fd);
	j->fd = -1;
	j->eof = true;
	job_maybe_done(t);
}

static void on_job_timeout(struct nx_loop *loop, void *arg)
{
	struct tunnel *t = arg;
	enum token_stage stage = t->job.stage;
	if (t->job.pid > 0)
		kill(t->job.pid, SIGKILL);
	job_reset(t);
	tunnel_token_ready(t, stage, NULL, "token command timed out");
}

static void join_hostnames(const struct nx_tunnel_cfg *c, char *out, size_t n)
{
	size_t o = 0;
	out[0] = 0;
	for (size_t i = 0; i < c->n_hostnames && o < n; i++)
		o += (size_t)snprintf(out + o, n - o, "%s%s", i ? "," : "", c->hostnames[i]);
}

static void join_ports(const struct nx_tunnel_cfg *c, char *out, size_t n)
{
	size_t o = 0;
	out[0] = 0;
	for (size_t i = 0; i < c->n_tcp_ports && o < n; i++)
		o += (size_t)snprintf(out + o, n - o, "%s%u", i ? "," : "", c->tcp_ports[i]);
}

static void join_udp(const struct nx_tunnel_cfg *c, char *out, size_t n)
{
	size_t o = 0;
	out[0] = 0;
	for (size_t i = 0; i < c->n_udp && o < n; i++)
		o += (size_t)(c->udp[i].idle_s
		                  ? snprintf(out + o, n - o, "%s%u:%u", i ? "," : "", c->udp[i].port,
		                             c->udp[i].idle_s)
		                  : snprintf(out + o, n - o, "%s%u", i ? "," : "", c->udp[i].port));
}

static int start_command(struct tunnel *t, enum token_stage stage, const char *nonce)
{
	const struct nx_tunnel_cfg *c = t->cfg;
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	char hosts[4096], ports[1024], weight[16];
	join_hostnames(c, hosts, sizeof hosts);
	join_ports(c, ports, sizeof ports);
	snprintf(weight, sizeof weight, "%d", c->weight > 0 ? c->weight : 1);
	/* protocol.md §2's environment contract for an attestation command */
	char e_stage[64], e_nonce[128], e_name[300], e_hosts[4200], e_weight[48], e_ports[1100];
	snprintf(e_stage, sizeof e_stage, "NEXUS_ATTESTATION_STAGE=%s", STAGE_NAMES[stage]);
	snprintf(e_nonce, sizeof e_nonce, "NEXUS_SESSION_NONCE=%s", nonce ? nonce : "");
	snprintf(e_name, sizeof e_name, "NEXUS_BACKEND_NAME=%s", c->name ? c->name : "nexus-tunnel");
	snprintf(e_hosts, sizeof e_hosts, "NEXUS_HOSTNAMES=%s", hosts);
	snprintf(e_weight, sizeof e_weight, "NEXUS_WEIGHT=%s", weight);
	snprintf(e_ports, sizeof e_ports, "NEXUS_TCP_PORTS=%s", ports);
	char udp[1024], e_udp[1100];
	join_udp(c, udp, sizeof udp);
	snprintf(e_udp, sizeof e_udp, "NEXUS_UDP_ROUTES=%s", udp);
	char *env[] = {e_stage, e_nonce, e_name, e_hosts, e_weight, e_ports, e_udp, NULL};
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pid_t pid = nx_spawn_sh(c->token_cmd, devnull >= 0 ? devnull : 0, pfd[1], env, NULL, 0);
	if (devnull >= 0)
		close(devnull);
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	close(pfd[1]);
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	struct token_job *j = &t->job;
	j->active = true;
	j->stage = stage;
	j->pid = pid;
	j->fd = pfd[0];
	j->eof = j->exited = false;
	j->len = 0;
	if (nx_loop_add(t->loop, j->fd, NX_EV_READ, on_job_output, t) < 0) {
		kill(pid, SIGKILL);
		job_reset(t);
		return -1;
	}
	nx_timer_start(t->loop, &j->timeout, TOKEN_CMD_TIMEOUT_MS, on_job_timeout, t);
	return 0;
}

/* ---- interface ------------------------------------------------------------------------- */

int token_start(struct tunnel *t, enum token_stage stage, const char *nonce)
{
	if (t->key) {
		char err[NX_ERRLEN];
		char *token = NULL;
		if (sign_builtin(t, stage, nonce, &token, err, sizeof err) < 0) {
			tunnel_token_ready(t, stage, NULL, err);
			return 0;
		}
		tunnel_token_ready(t, stage, token, NULL);
		nx_free_secret(token, strlen(token));
		return 0;
	}
	if (t->job.active) {
		/* a new challenge replaces an older one still being answered */
		if (t->job.pid > 0)
			kill(t->job.pid, SIGKILL);
		job_reset(t);
	}
	return start_command(t, stage, nonce);
}

void token_cancel(struct tunnel *t)
{
	if (!t->job.active)
		return;
	if (t->job.pid > 0)
		kill(t->job.pid, SIGKILL);
	job_reset(t);
}

int token_child_exited(struct tunnel *t, pid_t pid, int status)
{
	if (!t->job.active || pid != t->job.pid)
		return 0;
	t->job.exited = true;
	t->job.status = status;
	job_maybe_done(t);
	return 1;
}
