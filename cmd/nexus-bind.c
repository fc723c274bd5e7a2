/* nexus-bind — pairing devices with their owners, and the latest state of each device.
 * A verb per job (signify style); the work is in lib/bind.c and lib/ingest.c. */
#include "bind/api.h"
#include "bind/bind.h"
#include "bind/ingest.h"
#include "core/log.h"
#include "core/opts.h"
#include "core/sock.h"
#include "bind/pairing.h"
#include "bind/qrterm.h"
#include "bind/serve.h"
#include "bind/session.h"
#include "bind/store.h"
#include "core/units.h"
#include "core/util.h"
#include "token/jws.h"
#include "token/keys.h"

#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define usage_error nx_usage_error

static const char usage[] =
    "usage: nexus-bind [--db PATH|postgresql://...] [--key FILE] VERB [options]\n"
    "\n"
    "Verbs:\n"
    "  code --owner USER [--scope S]... [--ttl 5m] [--qr] [--json]\n"
    "                           a single-use pairing code for USER's next device\n"
    "  claim CODE --device ID [--pubkey FILE]\n"
    "                           bind device ID with CODE; prints the binding as JSON\n"
    "  ls [--owner USER] [--json]  bindings\n"
    "  show ID                  binding, token ids and latest state of a device\n"
    "  unbind ID                remove a binding (its tokens stay valid)\n"
    "  revoke ID [--deny-list FILE]  deny-list every token id of the device, then unbind\n"
    "  reissue ID [--jti JTI]   record a further token id; prints the binding JSON\n"
    "  ingest [--id-field PATH] [--batch N] [--flush 1s] [--json]\n"
    "                           JSON lines on stdin update each device's state\n"
    "  audit [--since 1h|DATE] [--json]\n"
    "                           who paired, claimed, unbound and revoked what\n"
    "  session ID --user-token FILE --verify-key FILE --grant-key FILE --host HOST [--ttl 15m]\n"
    "                           a one-time URL to the device's own web UI (through its gate)\n"
    "  end-session SID          end a browser session early\n"
    "  serve [--listen ADDR] --verify-key FILE [--iss I] [--aud A] [--rate N]\n"
    "                           the HTTP JSON API, one connection on stdin/stdout or a listener\n"
    "\n"
    "Options:\n"
    "      --db PATH|URI        SQLite file or postgresql:// URI (default $NEXUS_DB, then\n"
    "                           ~/.local/share/nexus/bind.db or /var/lib/nexus/bind.db)\n"
    "      --key FILE           pairing-code hash key (default: DB.key beside a SQLite file)\n"
    "      --deny-list FILE     revoke: where revoked token ids go (default: $NEXUS_DENY_LIST,\n"
    "                           then deny.list beside a SQLite database)\n"
    "  -o, --owner USER         code: the owner; ls: only USER's devices\n"
    "  -s, --scope S            code: a scope granted to the device (repeatable)\n"
    "      --ttl D              code: how long the code is valid (1s to 7d, default 5m)\n"
    "      --qr                 code: also draw the code as a QR code\n"
    "  -d, --device ID          claim: the device's id\n"
    "      --pubkey FILE        claim: the device's public key, recorded with the binding\n"
    "      --json               code, ls, ingest, audit: JSON output\n"
    "      --id-field PATH      ingest: the field holding the device id (default id)\n"
    "      --batch N            ingest: rows per transaction (default 5000)\n"
    "      --flush D            ingest: commit at least every D (default 1s)\n"
    "      --since D|DATE       audit: only entries newer than D ago or DATE\n"
    "      --jti JTI            reissue: the token id to record\n"
    "      --fail-rate N        wrong claims per minute, all codes together (default 30)\n"
    "      --listen ADDR        serve: listen on ADDR (host:port), a process per connection\n"
    "      --verify-key FILE    serve, session: key that verifies user tokens (HMAC or public)\n"
    "      --user-token FILE    session: the user's token (a JWT from nexus-token issue)\n"
    "      --grant-key FILE     session, serve: EC P-256 private key that signs session grants\n"
    "      --host HOST          session, serve: the device UI's host name; {device} is replaced\n"
    "      --iss ISS            serve: user tokens must have this issuer\n"
    "      --aud AUD            serve: user tokens must have this audience\n"
    "      --rate N             serve: requests per minute per token or API key (default 300)\n"
    "      --max-body SIZE      serve: largest request body (default 16K, at most 1M)\n"
    "      --idle-timeout D     serve: close a connection quiet for D (default 30s)\n"
    "      --max-conns N        serve --listen: connections at once (default 64)\n"
    "      --per-source N       serve --listen: connections at once from one address (default 8)\n"
    "      --config FILE        read options from FILE (one 'name value' per line)\n"
    "  -h, --help               this help\n"
    "  -V, --version            print the version\n"
    "\n"
    "Every option can also be set as NEXUS_BIND_<OPTION> in the environment.\n";

enum { O_DB = 256, O_KEY, O_DENY, O_TTL, O_QR, O_PUBKEY, O_JSON, O_IDFIELD, O_BATCH,
       O_FLUSH, O_SINCE, O_JTI, O_FAILRATE, O_CONFIG, O_HELP, O_VERSION, O_LISTEN, O_VKEY,
       O_ISS, O_AUD, O_RATE, O_MAXBODY, O_IDLE, O_MAXCONNS, O_PERSRC, O_UTOKEN,
       O_GKEY, O_HOST };

static const struct option longopts[] = {
    {"db", required_argument, NULL, O_DB},          {"key", required_argument, NULL, O_KEY},
    {"deny-list", required_argument, NULL, O_DENY}, {"owner", required_argument, NULL, 'o'},
    {"scope", required_argument, NULL, 's'},        {"ttl", required_argument, NULL, O_TTL},
    {"qr", no_argument, NULL, O_QR},                {"device", required_argument, NULL, 'd'},
    {"pubkey", required_argument, NULL, O_PUBKEY},  {"json", no_argument, NULL, O_JSON},
    {"id-field", required_argument, NULL, O_IDFIELD},
    {"batch", required_argument, NULL, O_BATCH},    {"flush", required_argument, NULL, O_FLUSH},
    {"since", required_argument, NULL, O_SINCE},    {"jti", required_argument, NULL, O_JTI},
    {"fail-rate", required_argument, NULL, O_FAILRATE},
    {"listen", required_argument, NULL, O_LISTEN},  {"verify-key", required_argument, NULL, O_VKEY},
    {"iss", required_argument, NULL, O_ISS},        {"aud", required_argument, NULL, O_AUD},
    {"rate", required_argument, NULL, O_RATE},      {"max-body", required_argument, NULL, O_MAXBODY},
    {"idle-timeout", required_argument, NULL, O_IDLE},
    {"max-conns", required_argument, NULL, O_MAXCONNS},
    {"per-source", required_argument, NULL, O_PERSRC},
    {"user-token", required_argument, NULL, O_UTOKEN},
    {"grant-key", required_argument, NULL, O_GKEY}, {"host", required_argument, NULL, O_HOST},
    {"config", required_argument, NULL, O_CONFIG},  {"help", no_argument, NULL, O_HELP},
    {"version", no_argument, NULL, O_VERSION},      {NULL, 0, NULL, 0},
};

struct args {
	const char *db, *key, *deny, *owner, *device, *pubkey, *idfield, *since, *jti;
	const char *listen, *vkey, *iss, *aud, *utoken, *gkey, *host;
	char scope[1024];
	uint64_t ttl_ms, flush_ms, max_body, idle_ms;
	long long batch, fail_rate, rate, max_conns, per_source;
	int qr, json, ttl_set;
};

static volatile int stop_ingest;
static void on_stop(int sig) { stop_ingest = 1; }

/* $XDG_<kind>_HOME/nexus/NAME, ~/.local/share or ~/.config as fallback; root: sysdir. */
static const char *default_path(const char *xdg, const char *fallback, const char *sysdir,
                                const char *name, char *buf, size_t n)
{
	if (geteuid() == 0) {
		snprintf(buf, n, "%s/%s", sysdir, name);
		return buf;
	}
	const char *x = getenv(xdg), *home = getenv("HOME");
	if (x && *x)
		snprintf(buf, n, "%s/nexus/%s", x, name);
	else
		snprintf(buf, n, "%s/%s/nexus/%s", home && *home ? home : ".", fallback, name);
	return buf;
}

static void mkdir_parent(const char *path)
{
	char d[4096];
	snprintf(d, sizeof d, "%s", path);
	char *slash = strrchr(d, '/');
	if (!slash || slash == d)
		return;
	*slash = '\0';
	for (char *p = d + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(d, 0700);
			*p = '/';
		}
	mkdir(d, 0700);
}

/* "from where": an address the spawning server exported, else this host. */
static const char *origin_of(char *buf, size_t n)
{
	const char *e;
	if ((e = getenv("NEXUS_BIND_ORIGIN")) && *e)
		snprintf(buf, n, "%s", e);
	else if ((e = getenv("TCPREMOTEIP")) && *e)
		snprintf(buf, n, "%s", e);
	else if ((e = getenv("SSH_CLIENT")) && *e)
		snprintf(buf, n, "%.*s", (int)strcspn(e, " "), e);
	else {
		char host[256] = "localhost";
		gethostname(host, sizeof host - 1);
		snprintf(buf, n, "local:%s", host);
	}
	char *clean = strdup(buf);
	if (clean) {
		nx_sanitize(buf, n, clean, strlen(clean));
		free(clean);
	}
	return buf;
}

static const char *actor_of(char *buf, size_t n)
{
	const char *sudo = getenv("SUDO_USER");
	struct passwd *pw = getpwuid(getuid());
	char me[64];
	snprintf(me, sizeof me, "%s", pw ? pw->pw_name : "?");
	if (sudo && *sudo && getuid() == 0)
		snprintf(buf, n, "%.60s(sudo)", sudo);
	else
		snprintf(buf, n, "%s", me);
	return buf;
}

static void iso_time(char buf[32], int64_t secs)
{
	time_t t = (time_t)secs;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int print_json(json_t *v, int pretty)
{
	int rc = json_dumpf(v, stdout, pretty ? JSON_INDENT(2) | JSON_PRESERVE_ORDER
	                                      : JSON_COMPACT | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(v);
	return rc == 0 && fflush(stdout) == 0 ? 0 : 1;
}

static int need_name(const char *what, const char *v)
{
	if (!v) {
		usage_error("%s is required", what);
		return 0;
	}
	if (!nx_ingest_name_ok(v, strlen(v))) {
		usage_error("%s must be 1-%d printable ASCII characters without spaces", what,
		            NX_DEVICE_ID_MAX);
		return 0;
	}
	return 1;
}

static void on_bad_line(void *arg, uint64_t lineno, const char *reason)
{
	unsigned *shown = arg;
	if (++*shown <= 10)
		nx_say("line %llu: %s", (unsigned long long)lineno, reason);
	else if (*shown == 11)
		nx_say("more bad lines; counting them silently");
}

static int run_ingest(struct nx_store *st, const struct args *a)
{
	unsigned shown = 0;
	struct nx_ingest_opts o = {a->idfield, (unsigned)a->batch, a->flush_ms, on_bad_line,
	                           &shown, &stop_ingest};
	struct nx_ingest_stats s;
	char err[NX_ERRLEN];
	struct sigaction sa = {0};
	sa.sa_handler = on_stop; /* no SA_RESTART: a blocked read returns, the batch commits */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	uint64_t t0 = nx_now_ms();
	int rc = nx_ingest_run(st, STDIN_FILENO, &o, &s, err, sizeof err);
	double secs = (double)(nx_now_ms() - t0) / 1000.0;
	double rate = secs > 0 ? (double)s.lines / secs : 0;
	if (rc < 0)
		nx_say("ingest stopped: %s", err);
	if (a->json)
		print_json(json_pack("{s:I, s:I, s:I, s:I, s:f, s:f}", "lines", (json_int_t)s.lines,
		                     "bad", (json_int_t)s.bad, "written", (json_int_t)s.written,
		                     "batches", (json_int_t)s.batches, "seconds", secs,
		                     "lines_per_second", rate),
		           0);
	else
		nx_say("%llu lines, %llu bad, %llu device states written in %llu transactions "
		       "(%.0f lines/s)",
		       (unsigned long long)s.lines, (unsigned long long)s.bad,
		       (unsigned long long)s.written, (unsigned long long)s.batches, rate);
	return rc < 0 ? 1 : 0;
}

static int parse_since(const char *s, int64_t *ms)
{
	char err[NX_ERRLEN];
	uint64_t d;
	if (nx_parse_duration(s, &d, err, sizeof err) == 0) {
		*ms = (int64_t)time(NULL) * 1000 - (int64_t)d;
		return 0;
	}
	struct tm tm = {0};
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end) {
		memset(&tm, 0, sizeof tm);
		end = strptime(s, "%Y-%m-%d", &tm);
	}
	if (!end || (*end && strcmp(end, "Z") != 0)) {
		usage_error("--since: '%s' is neither a duration (1h, 7d) nor a date (2026-11-22[T10:00:00])", s);
		return -1;
	}
	*ms = (int64_t)timegm(&tm) * 1000;
	return 0;
}

/* One function per verb: `id` is the verb's argument (NULL for verbs without one). */
static int verb_code(struct nx_bind *b, const struct args *a, const char *id)
{
	char err[NX_ERRLEN], code[NX_PAIR_CODE_CHARS + 2];
	int64_t exp;
	if (nx_bind_code_new(b, a->owner, a->scope, a->ttl_ms, code, &exp, err, sizeof err) < 0)
		return nx_say("%s", err), 1;
	if (a->json)
		return print_json(json_pack("{s:s, s:s, s:s, s:I}", "code", code, "owner", a->owner,
		                            "scope", a->scope, "expires_at", (json_int_t)(exp / 1000)),
		                  0);
	printf("%s\n", code);
	if (a->qr) {
		char *qr = nx_qr_render_utf8(code, err, sizeof err);
		if (!qr)
			return nx_say("%s", err), 1;
		fputs(qr, stdout);
		free(qr);
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

static int verb_claim(struct nx_bind *b, const struct args *a, const char *code)
{
	char err[NX_ERRLEN], *pub = NULL;
	size_t publen;
	json_t *out;
	if (a->pubkey) {
		if (nx_read_file(a->pubkey, 16384, &pub, &publen, err, sizeof err) < 0)
			return nx_say("%s", err), 1;
		if (strlen(pub) != publen)
			return free(pub), nx_say("%s: not a text file", a->pubkey), 1;
	}
	int rc = nx_bind_claim(b, code, a->device, pub, &out, err, sizeof err);
	free(pub);
	if (rc != NX_CLAIM_OK)
		return nx_say("%s", err), 1;
	return print_json(out, 0);
}

static int verb_ls(struct nx_bind *b, const struct args *a, const char *id)
{
	char err[NX_ERRLEN];
	json_t *out, *e;
	size_t i;
	if (nx_bind_list(b, a->owner, &out, err, sizeof err) < 0)
		return nx_say("%s", err), 1;
	if (a->json)
		return print_json(out, 0);
	printf("%-24s %-16s %-20s %-20s %s\n", "DEVICE", "OWNER", "BOUND", "LAST-SEEN", "SCOPE");
	json_array_foreach(out, i, e)
	{
		char bt[32], ls[32] = "-";
		iso_time(bt, json_integer_value(json_object_get(e, "bound_at")));
		if (json_object_get(e, "last_seen"))
			iso_time(ls, json_integer_value(json_object_get(e, "last_seen")));
		printf("%-24s %-16s %-20s %-20s %s\n", json_string_value(json_object_get(e, "device")),
		       json_string_value(json_object_get(e, "owner")), bt, ls,
		       json_string_value(json_object_get(e, "scope")));
	}
	json_decref(out);
	return fflush(stdout) == 0 ? 0 : 1;
}

static int verb_show(struct nx_bind *b, const struct args *a, const char *id)
{
	char err[NX_ERRLEN];
	json_t *out;
	int rc = nx_bind_show(b, id, &out, err, sizeof err);
	if (rc < 0)
		return nx_say("%s", err), 1;
	if (rc == 0)
		return nx_say("no device %s", id), 1;
	return print_json(out, 1);
}

static int verb_unbind(struct nx_bind *b, const struct args *a, const char *id)
{
	char err[NX_ERRLEN];
	int rc = nx_bind_unbind(b, id, err, sizeof err);
	if (rc < 0)
		return nx_say("%s", err), 1;
	if (rc == 0)
		return nx_say("device %s is not bound", id), 1;
	return 0;
}

static int verb_revoke(struct nx_bind *b, const struct args *a, const char *id)
{
	char err[NX_ERRLEN];
	json_t *out, *e;
	size_t i;
	int rc = nx_bind_revoke(b, id, a->deny, &out, err, sizeof err);
	if (rc < 0)
		return nx_say("%s", err), 1;
	if (rc == 0)
		return nx_say("no device %s", id), 1;
	json_array_foreach(out, i, e) printf("%s\n", json_string_value(e));
	nx_say("device %s unbound, %zu token id(s) added to %s", id, json_array_size(out), a->deny);
	json_decref(out);
	return fflush(stdout) == 0 ? 0 : 1;
}

static int verb_reissue(struct nx_bind *b, const struct args *a, const char *id)
{
	char err[NX_ERRLEN];
	json_t *out;
	int rc = nx_bind_reissue(b, id, a->jti, &out, err, sizeof err);
	if (rc < 0)
		return nx_say("%s", err), 1;
	if (rc == 0)
		return nx_say("device %s is not bound", id), 1;
	return print_json(out, 0);
}

static int verb_audit(struct nx_bind *b, const struct args *a, const char *id)
{
	static const char *keys[] = {"device", "owner", "actor", "origin", "detail"};
	char err[NX_ERRLEN];
	int64_t since = 0;
	json_t *out, *e;
	size_t i;
	if (a->since && parse_since(a->since, &since) < 0)
		return 2;
	if (nx_bind_audit(b, since, &out, err, sizeof err) < 0)
		return nx_say("%s", err), 1;
	if (a->json)
		return print_json(out, 0);
	json_array_foreach(out, i, e)
	{
		char t[32];
		iso_time(t, (int64_t)json_real_value(json_object_get(e, "at")));
		printf("%s %s", t, json_string_value(json_object_get(e, "action")));
		for (int k = 0; k < 5; k++) {
			const char *s = json_string_value(json_object_get(e, keys[k]));
			if (s && *s)
				printf(strchr(s, ' ') ? " %s=\"%s\"" : " %s=%s", keys[k], s);
		}
		putchar('\n');
	}
	json_decref(out);
	return fflush(stdout) == 0 ? 0 : 1;
}

static int verb_ingest(struct nx_bind *b, const struct args *a, const char *id)
{
	return run_ingest(b->st, a);
}

/* A key file: loaded, and a secret one readable by others is worth a warning. */
static int load_key(const char *path, struct nx_key **k)
{
	char err[NX_ERRLEN];
	if (nx_key_load_file(path, k, err, sizeof err) < 0)
		return nx_say("%s: %s", path, err), -1;
	if ((nx_key_is_secret(*k) || nx_key_can_sign(*k)) && nx_file_is_loose(path))
		nx_warn("key file is readable by others", "file=%s", path);
	return 0;
}

/* session: the work is in lib/bind/session.c. */
static int verb_session(struct nx_bind *b, const struct args *a, const char *id)
{
	char err[NX_ERRLEN], user[NX_DEVICE_ID_MAX + 1], scope[1024], *tok = NULL;
	size_t tlen;
	struct nx_key *vk = NULL, *gk = NULL;
	json_t *out = NULL;
	int rc = 1;
	if (nx_read_file(a->utoken, NX_JWS_MAX + 16, &tok, &tlen, err, sizeof err) < 0) {
		nx_say("%s", err);
		goto done;
	}
	while (tlen && (tok[tlen - 1] == '\n' || tok[tlen - 1] == '\r' || tok[tlen - 1] == ' '))
		tok[--tlen] = '\0';
	if (load_key(a->vkey, &vk) < 0 || load_key(a->gkey, &gk) < 0)
		goto done;
	if (nx_session_user_token(vk, a->iss, a->aud, a->deny, tok, tlen, user, sizeof user, scope,
	                          sizeof scope, err, sizeof err) < 0) {
		nx_say("%s: %s", a->utoken, err);
		goto done;
	}
	struct nx_session_req r = {id, user, scope, a->host, gk, NX_SESSION_GRANT_TTL_MAX,
	                           a->ttl_set ? (int64_t)(a->ttl_ms / 1000) : NX_SESSION_TTL_DEFAULT};
	int n = nx_bind_session_new(b, &r, &out, err, sizeof err);
	if (n <= 0) {
		nx_say("%s", err);
		goto done;
	}
	if (a->json)
		rc = print_json(out, 0), out = NULL;
	else
		rc = printf("%s\n", json_string_value(json_object_get(out, "url"))) < 0 ||
		     fflush(stdout) != 0;
done:
	json_decref(out);
	if (tok)
		nx_free_secret(tok, strlen(tok));
	nx_key_free(vk);
	nx_key_free(gk);
	return rc;
}

static int verb_end_session(struct nx_bind *b, const struct args *a, const char *id)
{
	char err[NX_ERRLEN];
	int rc = nx_bind_session_end(b, id, err, sizeof err);
	if (rc < 0)
		return nx_say("%s", err), 1;
	if (rc == 0)
		return nx_say("no open session %s", id), 1;
	return 0;
}

/* serve: the work is in lib/bind/serve.c and lib/bind/api.c. */
static int verb_serve(struct nx_bind *b, const struct args *a, const char *id)
{
	char err[NX_ERRLEN], origin[64], ip[48];
	struct nx_key *vk = NULL;
	if (a->vkey) {
		if (nx_key_load_file(a->vkey, &vk, err, sizeof err) < 0)
			return nx_say("%s: %s", a->vkey, err), 1;
		if (nx_key_is_secret(vk) && nx_file_is_loose(a->vkey))
			nx_warn("key file is readable by others", "file=%s", a->vkey);
	}
	nx_log_setup("nexus-bind", NX_LOG_LOGFMT, NX_LOG_INFO);
	struct nx_key *gk = NULL;
	if (a->gkey && load_key(a->gkey, &gk) < 0)
		return nx_key_free(vk), 1;
	struct nx_api api = {.b = b, .verify_key = vk, .iss = a->iss, .aud = a->aud,
	                     .grant_key = gk, .session_host = a->host,
	                     .deny_list = a->deny, .rate = (long)a->rate,
	                     .max_body = (size_t)a->max_body, .origin = b->origin};
	struct nx_serve s = {.api = &api, .idle_ms = (int)a->idle_ms, .log = nx_log_sink,
	                     .db = a->db, .max_conns = (int)a->max_conns,
	                     .per_source = (int)a->per_source};
	int rc = 0;
	if (a->listen) {
		int lfd = nx_listen_tcp(a->listen, 128, err, sizeof err);
		if (lfd < 0) {
			nx_key_free(vk);
			nx_key_free(gk);
			return nx_say("--listen %s: %s", a->listen, err), 1;
		}
		struct sigaction sa = {0};
		sa.sa_handler = on_stop;
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		nx_store_close(b->st); /* each connection's process opens its own */
		b->st = NULL;
		nx_info("listening", "addr=%s", a->listen);
		rc = nx_serve_listen(&s, lfd, &stop_ingest, err, sizeof err) < 0 ? 1 : 0;
		close(lfd);
	} else {
		/* inetd / Accept=yes: the peer is on stdin; audit rows name its address. */
		if (nx_peer_addr(STDIN_FILENO, origin, sizeof origin, ip, NULL) && ip[0])
			api.origin = b->origin = ip;
		rc = nx_serve_conn(&s, STDIN_FILENO, STDOUT_FILENO) < 0 ? 1 : 0;
	}
	nx_key_free(gk);
	nx_key_free(vk);
	return rc;
}

static const struct verb {
	const char *name;
	int (*run)(struct nx_bind *b, const struct args *a, const char *id);
	int takes_id;    /* one argument: a device id (claim: the code) */
	int needs_key;   /* touches pairing codes: load and check the pairing key */
	int reads_only;  /* a missing database is an error, not a new empty one */
} verbs[] = {
    {"code", verb_code, 0, 1, 0},       {"claim", verb_claim, 1, 1, 0},
    {"ls", verb_ls, 0, 0, 1},           {"show", verb_show, 1, 0, 1},
    {"unbind", verb_unbind, 1, 0, 0},   {"revoke", verb_revoke, 1, 0, 0},
    {"reissue", verb_reissue, 1, 0, 0}, {"ingest", verb_ingest, 0, 0, 0},
    {"audit", verb_audit, 0, 0, 1},     {"serve", verb_serve, 0, 1, 0},
    {"session", verb_session, 1, 0, 0}, {"end-session", verb_end_session, 1, 0, 0},
};

static int run(int argc, char **argv);

/* A PostgreSQL connection string with a password (libpq's parser decides, store.h):
 * visible to every user through ps, so refused on argv (the environment and ~/.pgpass are
 * fine). "--db=..." is looked at after its '='. */
static int has_password(const char *s)
{
	int pw = 0;
	if (strncmp(s, "--", 2) == 0 && strchr(s, '='))
		s = strchr(s, '=') + 1;
	return nx_store_is_conninfo(s, &pw) && pw;
}

int main(int argc, char **argv)
{
	char err[NX_ERRLEN];
	nx_log_setup("nexus-bind", NX_LOG_PLAIN, NX_LOG_INFO);
	for (int i = 1; i < argc; i++)
		if (has_password(argv[i]))
			return usage_error("no passwords on the command line: use NEXUS_DB, PGPASSWORD, "
			              "PGPASSFILE or ~/.pgpass");
	int orc = nx_opts_expand(&argc, &argv, "NEXUS_BIND_", longopts, err, sizeof err);
	if (orc < 0)
		return nx_opts_fail(orc, err);
	int rc = run(argc, argv);
	nx_opts_free(argv); /* ours (strdup'ed strings): leak checkers stay quiet */
	return rc;
}

static int run(int argc, char **argv)
{
	char err[NX_ERRLEN], dbbuf[4096], keybuf[4096], denybuf[4096], actor[80], origin[160];
	struct args a = {.ttl_ms = 300000, .flush_ms = 1000, .batch = 5000, .fail_rate = 30,
	                 .rate = 300, .max_body = NX_API_MAX_BODY_DEFAULT, .idle_ms = 30000,
	                 .max_conns = 64, .per_source = 8};
	int c;
	size_t sl = 0;
	while ((c = getopt_long(argc, argv, ":o:s:d:hV", longopts, NULL)) != -1) {
		switch (c) {
		case O_DB: a.db = optarg; break;
		case O_KEY: a.key = optarg; break;
		case O_DENY: a.deny = optarg; break;
		case 'o': a.owner = optarg; break;
		case 'd': a.device = optarg; break;
		case O_PUBKEY: a.pubkey = optarg; break;
		case O_IDFIELD: a.idfield = optarg; break;
		case O_SINCE: a.since = optarg; break;
		case O_JTI: a.jti = optarg; break;
		case O_QR: a.qr = 1; break;
		case O_JSON: a.json = 1; break;
		case O_CONFIG: break; /* read by nx_opts_expand */
		case O_LISTEN:
			if (nx_hostport_check(optarg, err, sizeof err) < 0)
				return usage_error("--listen: %s", err);
			a.listen = optarg;
			break;
		case O_VKEY: a.vkey = optarg; break;
		case O_ISS: a.iss = optarg; break;
		case O_AUD: a.aud = optarg; break;
		case O_UTOKEN: a.utoken = optarg; break;
		case O_GKEY: a.gkey = optarg; break;
		case O_HOST: a.host = optarg; break;
		case O_RATE:
			if (nx_parse_int(optarg, 1, 1000000, &a.rate, err, sizeof err) < 0)
				return usage_error("--rate: %s", err);
			break;
		case O_MAXCONNS:
			if (nx_parse_int(optarg, 1, 10000, &a.max_conns, err, sizeof err) < 0)
				return usage_error("--max-conns: %s", err);
			break;
		case O_PERSRC:
			if (nx_parse_int(optarg, 1, 10000, &a.per_source, err, sizeof err) < 0)
				return usage_error("--per-source: %s", err);
			break;
		case O_MAXBODY:
			if (nx_parse_size(optarg, &a.max_body, err, sizeof err) < 0)
				return usage_error("--max-body: %s", err);
			if (a.max_body < 256 || a.max_body > 1024 * 1024)
				return usage_error("--max-body: between 256 and 1M");
			break;
		case O_IDLE:
			if (nx_parse_duration(optarg, &a.idle_ms, err, sizeof err) < 0)
				return usage_error("--idle-timeout: %s", err);
			if (a.idle_ms < 100 || a.idle_ms > 3600000)
				return usage_error("--idle-timeout: between 100ms and 1h");
			break;
		case 's':
			if (!nx_ingest_name_ok(optarg, strlen(optarg)) || sl + strlen(optarg) + 2 > sizeof a.scope)
				return usage_error("--scope: '%s' is not a scope (printable, no spaces)", optarg);
			sl += (size_t)snprintf(a.scope + sl, sizeof a.scope - sl, "%s%s", sl ? " " : "", optarg);
			break;
		case O_TTL:
			if (nx_parse_duration(optarg, &a.ttl_ms, err, sizeof err) < 0)
				return usage_error("--ttl: %s", err);
			if (a.ttl_ms < 1000 || a.ttl_ms > 7 * 86400000ull)
				return usage_error("--ttl: between 1s and 7d");
			a.ttl_set = 1;
			break;
		case O_FLUSH:
			if (nx_parse_duration(optarg, &a.flush_ms, err, sizeof err) < 0)
				return usage_error("--flush: %s", err);
			if (a.flush_ms == 0)
				return usage_error("--flush: must be more than 0");
			break;
		case O_BATCH:
			if (nx_parse_int(optarg, 1, 1000000, &a.batch, err, sizeof err) < 0)
				return usage_error("--batch: %s", err);
			break;
		case O_FAILRATE:
			if (nx_parse_int(optarg, 1, 1000000, &a.fail_rate, err, sizeof err) < 0)
				return usage_error("--fail-rate: %s", err);
			break;
		case 'h':
		case O_HELP: fputs(usage, stdout); return 0;
		case 'V':
		case O_VERSION: nx_print_version("nexus-bind"); return 0;
		default: return nx_usage_getopt(c, argv);
		}
	}
	if (optind >= argc)
		return usage_error("a verb is needed: code, claim, ls, show, unbind, revoke, reissue, "
		                   "ingest, audit, serve, session or end-session");
	const char *v = argv[optind++];
	int nargs = argc - optind;
	const struct verb *vb = NULL;
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		if (strcmp(v, verbs[i].name) == 0)
			vb = &verbs[i];
	if (!vb)
		return usage_error("unknown verb '%s'", v);
	if (vb->takes_id && nargs != 1)
		return usage_error("%s takes exactly one argument", v);
	if (!vb->takes_id && nargs != 0)
		return usage_error("%s takes no arguments", v);
	const char *id = vb->takes_id ? argv[optind] : NULL;
	if (vb->takes_id && vb->run != verb_claim && !need_name("device id", id))
		return 2;
	if (strcmp(v, "code") == 0 && !need_name("--owner", a.owner))
		return 2;
	/* Codes are made by owners and operators, never by a device: a nexus-bind spawned
	 * for a network peer (tcpserver, inetd, nexus-tunnel --exec set TCPREMOTEIP) is the
	 * device-facing side and only claims. */
	const char *peer = getenv("TCPREMOTEIP");
	if (strcmp(v, "code") == 0 && peer && *peer)
		return nx_say("code refused: this nexus-bind serves a network peer (TCPREMOTEIP "
		              "is set); pairing codes are made by owners and operators"),
		       1;
	if (strcmp(v, "claim") == 0) {
		if (!need_name("--device", a.device))
			return 2;
		if (strlen(id) > 64)
			return usage_error("pairing code too long");
	}
	if (a.owner && !need_name("--owner", a.owner))
		return 2;
	if (a.jti && !need_name("--jti", a.jti))
		return 2;
	int sess = strcmp(v, "session") == 0;
	if (strcmp(v, "serve") != 0 && (a.listen || (a.vkey && !sess)))
		return usage_error("--listen and --verify-key are options of serve");
	if (!sess && a.utoken)
		return usage_error("--user-token is an option of session");
	if (!sess && strcmp(v, "serve") != 0 && (a.gkey || a.host))
		return usage_error("--grant-key and --host are options of session and serve");
	if (sess && (!a.utoken || !a.vkey || !a.gkey || !a.host))
		return usage_error("session needs --user-token, --verify-key, --grant-key and --host");
	if (!sess && strcmp(v, "serve") == 0 && !a.gkey != !a.host)
		return usage_error("serve: --grant-key and --host go together");

	if (!a.db)
		a.db = getenv("NEXUS_DB");
	if (!a.db || !*a.db)
		a.db = default_path("XDG_DATA_HOME", ".local/share", "/var/lib/nexus", "bind.db", dbbuf,
		                    sizeof dbbuf);
	int revokes = strcmp(v, "revoke") == 0 || strcmp(v, "serve") == 0;
	if (revokes && !a.deny) {
		/* beside the database that knows the tokens, never a fixed place of its own */
		a.deny = getenv("NEXUS_DENY_LIST");
		if (!a.deny || !*a.deny)
			a.deny = nx_store_beside(a.db, "deny.list", denybuf, sizeof denybuf);
		if (!a.deny)
			return usage_error("%s with a PostgreSQL database needs --deny-list FILE "
			                   "(or NEXUS_DENY_LIST): the file the hub and nexus-token "
			                   "verify read", v);
		mkdir_parent(a.deny);
	}
	struct nx_store *st;
	if ((vb->reads_only ? nx_store_open_existing : nx_store_open)(a.db, &st, err, sizeof err) < 0)
		return nx_say("%s", err), 1;
	if (nx_bind_migrate(st, err, sizeof err) < 0) {
		nx_store_close(st);
		return nx_say("%s", err), 1;
	}
	struct nx_bind b = {st, NULL, actor_of(actor, sizeof actor), origin_of(origin, sizeof origin),
	                    (long)a.fail_rate, NULL};
	uint8_t key[NX_PAIR_KEY_BYTES];
	int rc = 0;
	if (vb->needs_key) {
		/* The code hash key lives beside a SQLite file, or in a per-user / system file for
		 * PostgreSQL, shared by every machine using that database. */
		if (!a.key && nx_store_kind(st) == NX_STORE_SQLITE)
			snprintf(keybuf, sizeof keybuf, "%s.key", a.db), a.key = keybuf;
		else if (!a.key)
			a.key = default_path("XDG_CONFIG_HOME", ".config", "/etc/nexus", "bind.key", keybuf,
			                     sizeof keybuf);
		mkdir_parent(a.key);
		if (nx_pair_key_load(a.key, key, err, sizeof err) < 0 ||
		    (b.key = key, nx_bind_key_check(&b, err, sizeof err) < 0))
			rc = (nx_say("%s", err), 1);
	}
	if (rc == 0)
		rc = vb->run(&b, &a, id);
	nx_wipe(key, sizeof key);
	nx_store_close(b.st);
	return rc;
}
