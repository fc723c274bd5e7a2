/* nexus-relay — the public edge: route client connections by TLS SNI / HTTP Host without
 * terminating TLS, to a TCP address (--route) or to nexus-hub over a unix socket (--hub). */
#include "core/hostname.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/opts.h"
#include "relay/relay.h"
#include "core/sock.h"
#include "core/units.h"
#include "core/util.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROG "nexus-relay"
#define usage_error nx_usage_error
#define MAX_LISTEN 32
#define MAX_ROUTES 1024
#define MAX_ACME_HOSTS 64

static const char usage[] =
    "usage: nexus-relay --listen ADDR... [--hub PATH] [--route NAME=ADDR]... [options]\n"
    "       nexus-relay --inetd [--hub PATH] [--route NAME=ADDR]... [options]\n"
    "\n"
    "Route each client connection by its TLS SNI or HTTP Host (else tcp:PORT) without\n"
    "terminating TLS: to a TCP address of its own (--route), else to nexus-hub (--hub).\n"
    "\n"
    "  -l, --listen ADDR            listen on host:port (repeatable; default: systemd sockets)\n"
    "      --listen-udp ADDR        UDP on host:port, flows carried by the hub (repeatable;\n"
    "                               also --listen udp:ADDR)\n"
    "  -H, --hub PATH               nexus-hub's handoff socket (SOCK_SEQPACKET)\n"
    "  -r, --route NAME=ADDR        NAME (host, *.wildcard, tcp:PORT) to host:port (repeatable)\n"
    "      --inetd                  serve the one connection on fd 0 (inetd, Accept=yes)\n"
    "  -u, --user USER              drop privileges to USER after binding\n"
    "      --first-bytes-timeout D  a silent client becomes tcp:PORT after D (default 1s)\n"
    "      --header-timeout D       give up on an incomplete ClientHello/head after D (10s)\n"
    "      --dial-timeout D         connect timeout for --route addresses (5s)\n"
    "      --idle-timeout D         close routed connections idle for D (default: never)\n"
    "      --hub-timeout D          the hub must answer a handoff within D (5s)\n"
    "      --max-conns N            connections in progress at once (4096)\n"
    "      --max-conns-per-source N of which from one address, IPv6 /64 (256)\n"
    "      --acme-challenge-dir DIR answer ACME HTTP-01 challenges for --acme-host names from DIR\n"
    "      --acme-host NAME         a name of the hub's own (repeatable; needs --acme-challenge-dir)\n"
    "      --splice                 --route connections: copy with splice(2), zero-copy\n"
    "      --proxy-protocol         --route connections: send a PROXY protocol v1 line first\n"
    "      --grace D                on SIGTERM, wait up to D for connections (10s)\n"
    "      --log-level LEVEL        error, warn, info (default) or debug\n"
    "  -n, --check                  check the configuration and exit\n"
    "      --config FILE            read options from FILE (one 'name value' per line)\n"
    "  -h, --help                   this help\n"
    "  -V, --version                print the version\n"
    "\n"
    "Every option can also be set as NEXUS_RELAY_<OPTION> in the environment.\n";

enum { O_LISTEN_UDP = 300 };
enum { O_ACME_DIR = 320, O_ACME_HOST };
enum { O_INETD = 256, O_SPLICE, O_PROXY, O_FIRST, O_HEADER, O_DIAL, O_IDLE, O_HUBT, O_MAXC, O_MAXCS, O_GRACE,
       O_LOGLVL, O_CONFIG };

static const struct option longopts[] = {
    {"listen", required_argument, NULL, 'l'},
    {"listen-udp", required_argument, NULL, O_LISTEN_UDP},
    {"hub", required_argument, NULL, 'H'},
    {"route", required_argument, NULL, 'r'},
    {"inetd", no_argument, NULL, O_INETD},
    {"user", required_argument, NULL, 'u'},
    {"first-bytes-timeout", required_argument, NULL, O_FIRST},
    {"header-timeout", required_argument, NULL, O_HEADER},
    {"dial-timeout", required_argument, NULL, O_DIAL},
    {"idle-timeout", required_argument, NULL, O_IDLE},
    {"hub-timeout", required_argument, NULL, O_HUBT},
    {"max-conns", required_argument, NULL, O_MAXC},
    {"max-conns-per-source", required_argument, NULL, O_MAXCS},
    {"acme-challenge-dir", required_argument, NULL, O_ACME_DIR},
    {"acme-host", required_argument, NULL, O_ACME_HOST},
    {"splice", no_argument, NULL, O_SPLICE},
    {"proxy-protocol", no_argument, NULL, O_PROXY},
    {"grace", required_argument, NULL, O_GRACE},
    {"log-level", required_argument, NULL, O_LOGLVL},
    {"check", no_argument, NULL, 'n'},
    {"config", required_argument, NULL, O_CONFIG},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static struct nx_relay *relay;
/* The expanded argv lives until exit; an external global keeps it reachable for LeakSanitizer
 * (a static that is never read would be optimised away). */
char **nexus_relay_argv;
static uint64_t grace_ms = 10000;

static void on_signal(struct nx_loop *loop, int signo, void *arg)
{
	if (signo == SIGHUP) { /* e.g. from log rotation: must not kill the edge */
		nx_info("SIGHUP ignored", "reason=\"routes are fixed at start; restart to change them\"");
		return;
	}
	nx_info("stopping", "signal=%d active=%zu", signo, nx_relay_active(relay));
	nx_notify_stopping();
	nx_relay_shutdown(relay, grace_ms);
}

static int drop_privileges(const char *user)
{
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		nx_say("unknown user '%s'", user);
		return -1;
	}
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		nx_say("cannot become %s: %s", user, strerror(errno));
		return -1;
	}
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		nx_say("privileges were not dropped");
		return -1;
	}
	return 0;
}

/* In inetd mode stderr may be the client's socket too (inetd hands it 0, 1 and 2): never
 * write diagnostics into the client's stream. */
static void protect_client_stream(void)
{
	struct stat s0, s2;
	if (fstat(0, &s0) == 0 && fstat(2, &s2) == 0 && s0.st_dev == s2.st_dev &&
	    s0.st_ino == s2.st_ino) {
		FILE *f = freopen("/dev/null", "w", stderr);
		(void)f;
	}
}

static int parse_dur(const char *name, const char *v, uint64_t *out)
{
	char err[NX_ERRLEN];
	if (nx_parse_duration(v, out, err, sizeof err) < 0)
		return usage_error("--%s: %s", name, err);
	return 0;
}

int main(int argc, char **argv)
{
	char err[NX_ERRLEN];
	const char *listen[MAX_LISTEN], *listen_udp[MAX_LISTEN];
	size_t nlisten = 0, nroutes = 0, nudp = 0;
	static struct nx_relay_route routes[MAX_ROUTES];
	struct nx_relay_config cfg = {0};
	const char *user = NULL;
	int inetd = 0, check = 0;
	const char *acme_hosts[MAX_ACME_HOSTS];
	size_t nacme = 0;
	enum nx_log_level lvl = NX_LOG_INFO;

	nx_log_setup(PROG, NX_LOG_LOGFMT, NX_LOG_INFO);
	int orc = nx_opts_expand(&argc, &argv, "NEXUS_RELAY_", longopts, err, sizeof err);
	if (orc < 0)
		return nx_opts_fail(orc, err);
	nexus_relay_argv = argv;
	int c;
	long long n;
	while ((c = getopt_long(argc, argv, ":l:H:r:u:nhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (strncmp(optarg, "udp:", 4) == 0) { /* a config file's "listen udp:ADDR" */
				optarg += 4;
				goto udp;
			}
			if (nlisten == MAX_LISTEN)
				return usage_error("more than %d --listen addresses", MAX_LISTEN);
			listen[nlisten++] = optarg;
			break;
		case O_LISTEN_UDP:
		udp:
			if (nudp == MAX_LISTEN)
				return usage_error("more than %d --listen-udp addresses", MAX_LISTEN);
			listen_udp[nudp++] = optarg;
			break;
		case 'H': cfg.hub_path = optarg; break;
		case 'r':
			if (nroutes == MAX_ROUTES)
				return usage_error("more than %d routes", MAX_ROUTES);
			if (nx_relay_parse_route(optarg, &routes[nroutes], err, sizeof err) < 0)
				return usage_error("--route: %s", err);
			for (size_t i = 0; i < nroutes; i++)
				if (strcmp(routes[i].key, routes[nroutes].key) == 0)
					return usage_error("route for '%s' given twice", routes[i].key);
			nroutes++;
			break;
		case O_ACME_DIR: cfg.acme_challenge_dir = optarg; break;
		case O_ACME_HOST: {
			char h[256];
			if (nacme == MAX_ACME_HOSTS)
				return usage_error("more than %d --acme-host names", MAX_ACME_HOSTS);
			if (nx_hostname_normalize(optarg, strlen(optarg), h, sizeof h, 0, err, sizeof err) < 0)
				return usage_error("--acme-host: %s", err);
			acme_hosts[nacme++] = optarg;
			break;
		}
		case O_INETD: inetd = 1; break;
		case O_SPLICE: cfg.splice = 1; break;
		case O_PROXY: cfg.proxy_protocol = 1; break;
		case 'u': user = optarg; break;
		case O_FIRST: if (parse_dur("first-bytes-timeout", optarg, &cfg.first_bytes_ms)) return 2; break;
		case O_HEADER: if (parse_dur("header-timeout", optarg, &cfg.header_ms)) return 2; break;
		case O_DIAL: if (parse_dur("dial-timeout", optarg, &cfg.dial_ms)) return 2; break;
		case O_IDLE: if (parse_dur("idle-timeout", optarg, &cfg.idle_ms)) return 2; break;
		case O_HUBT: if (parse_dur("hub-timeout", optarg, &cfg.hub_reply_ms)) return 2; break;
		case O_GRACE: if (parse_dur("grace", optarg, &grace_ms)) return 2; break;
		case O_MAXC:
			if (nx_parse_int(optarg, 1, 1000000, &n, err, sizeof err) < 0)
				return usage_error("--max-conns: %s", err);
			cfg.max_conns = (size_t)n;
			break;
		case O_MAXCS:
			if (nx_parse_int(optarg, 1, 1000000, &n, err, sizeof err) < 0)
				return usage_error("--max-conns-per-source: %s", err);
			cfg.max_conns_per_source = (size_t)n;
			break;
		case O_LOGLVL:
			if (!strcmp(optarg, "error")) lvl = NX_LOG_ERROR;
			else if (!strcmp(optarg, "warn")) lvl = NX_LOG_WARN;
			else if (!strcmp(optarg, "info")) lvl = NX_LOG_INFO;
			else if (!strcmp(optarg, "debug")) lvl = NX_LOG_DEBUG;
			else
				return usage_error("--log-level: want error, warn, info or debug, not '%s'", optarg);
			break;
		case 'n': check = 1; break;
		case O_CONFIG: break; /* already read by nx_opts_expand */
		case 'h': fputs(usage, stdout); return 0;
		case 'V': nx_print_version(PROG); return 0;
		default: return nx_usage_getopt(c, argv);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (inetd && (nlisten || nudp))
		return usage_error("--inetd serves fd 0: it takes no --listen%s", nudp ? "-udp" : "");
	if (!cfg.hub_path && nroutes == 0)
		return usage_error("nothing to route to: give --hub PATH and/or --route NAME=ADDR");
	if (nacme && !cfg.acme_challenge_dir)
		return usage_error("--acme-host needs --acme-challenge-dir DIR");
	if (cfg.acme_challenge_dir && !nacme)
		return usage_error("--acme-challenge-dir needs the names to answer for (--acme-host)");
	/* the hub makes it (it may start after us): until then, challenges are answered 404 */
	struct stat ast;
	if (cfg.acme_challenge_dir && (stat(cfg.acme_challenge_dir, &ast) < 0 || !S_ISDIR(ast.st_mode)))
		nx_say("warning: --acme-challenge-dir %s is not a directory (yet)", cfg.acme_challenge_dir);
	cfg.acme_hosts = acme_hosts;
	cfg.n_acme_hosts = nacme;
	char host[256];
	uint16_t port;
	for (size_t i = 0; i < nlisten; i++)
		if (nx_split_hostport(listen[i], host, sizeof host, &port, err, sizeof err) < 0)
			return usage_error("--listen: %s", err);
	for (size_t i = 0; i < nudp; i++)
		if (nx_split_hostport(listen_udp[i], host, sizeof host, &port, err, sizeof err) < 0)
			return usage_error("--listen-udp: %s", err);
	if (nudp && !cfg.hub_path)
		return usage_error("--listen-udp needs --hub PATH (the hub carries UDP flows)");
	if (user && !getpwnam(user))
		return usage_error("--user: unknown user '%s'", user);
	if (check) {
		char udp[32] = "";
		if (nudp)
			snprintf(udp, sizeof udp, ", %zu UDP", nudp);
		nx_say("configuration OK (%zu listen address%s%s, %zu route%s%s%s)", nlisten,
		       nlisten == 1 ? "" : "es", udp, nroutes, nroutes == 1 ? "" : "s",
		       cfg.hub_path ? ", hub " : "", cfg.hub_path ? cfg.hub_path : "");
		return 0;
	}
	if (inetd)
		protect_client_stream();
	nx_log_setup(PROG, NX_LOG_LOGFMT, lvl);
	signal(SIGPIPE, SIG_IGN);

	/* Bind first, then drop privileges: a relay on :443 needs root only for the bind. */
	int lfds[MAX_LISTEN + 64];
	size_t nl = 0;
	for (size_t i = 0; i < nlisten; i++) {
		int fd = nx_listen_tcp(listen[i], 1024, err, sizeof err);
		if (fd < 0) {
			nx_error("cannot listen", "error=\"%s\"", err);
			return 1;
		}
		lfds[nl++] = fd;
	}
	int ufds[MAX_LISTEN];
	for (size_t i = 0; i < nudp; i++) {
		ufds[i] = nx_bind_udp(listen_udp[i], err, sizeof err);
		if (ufds[i] < 0) {
			nx_error("cannot listen", "error=\"%s\"", err);
			return 1;
		}
	}
	if (!inetd && nlisten == 0 && nudp == 0) {
		int k = nx_listen_fds();
		for (int i = 0; i < k && nl < sizeof lfds / sizeof *lfds; i++)
			lfds[nl++] = 3 + i;
		if (nl == 0)
			return usage_error("no --listen address and no sockets from systemd (LISTEN_FDS)");
	}
	if (user && drop_privileges(user) < 0)
		return 1;

	struct nx_loop *loop = nx_loop_new(err, sizeof err);
	if (!loop) {
		nx_error("event loop", "error=\"%s\"", err);
		return 1;
	}
	cfg.routes = routes;
	cfg.nroutes = nroutes;
	cfg.exit_when_idle = inetd;
	cfg.log = nx_log_sink;
	relay = nx_relay_new(loop, &cfg, err, sizeof err);
	if (!relay) {
		nx_error("relay", "error=\"%s\"", err);
		return 1;
	}
	for (size_t i = 0; i < nl; i++) {
		if (nx_relay_add_listener(relay, lfds[i], err, sizeof err) < 0) {
			nx_error("listener", "error=\"%s\"", err);
			return 1;
		}
		char a[64];
		nx_info("listening", "addr=%s", nx_local_addr(lfds[i], a, sizeof a, NULL, NULL));
	}
	for (size_t i = 0; i < nudp; i++) {
		if (nx_relay_add_udp(relay, ufds[i], err, sizeof err) < 0) {
			nx_error("listener", "error=\"%s\"", err);
			return 1;
		}
		char a[64];
		nx_info("listening", "addr=%s proto=udp", nx_local_addr(ufds[i], a, sizeof a, NULL, NULL));
	}
	if (inetd && nx_relay_add_conn(relay, 0, err, sizeof err) < 0) {
		nx_error("inetd connection", "error=\"%s\"", err);
		return 1;
	}
	int sigs[] = {SIGTERM, SIGINT, SIGHUP};
	if (nx_loop_signals(loop, sigs, 3, on_signal, NULL, err, sizeof err) < 0) {
		nx_error("signals", "error=\"%s\"", err);
		return 1;
	}
	nx_notify_ready();
	int rc = nx_loop_run(loop);
	nx_relay_free(relay);
	nx_loop_free(loop);
	if (!inetd)
		nx_info("stopped", NULL);
	return rc < 0 ? 1 : 0;
}
