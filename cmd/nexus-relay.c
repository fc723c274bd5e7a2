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
    "      --metrics HOST:PORT      serve GET /metrics there (Prometheus; a local address)\n"
    "  -n, --check-config           check the configuration and exit (also --check)\n"
    "      --config FILE            read options from FILE (one 'name value' per line)\n"
    "  -h, --help                   this help\n"
    "  -V, --version                print the version\n"
    "\n"
    "Every option can also be set as NEXUS_RELAY_<OPTION> in the environment.\n"
    "SIGHUP re-reads the options and --config file: routes, timeouts and limits.\n";

enum { O_LISTEN_UDP = 300 };
enum { O_ACME_DIR = 320, O_ACME_HOST };
enum { O_INETD = 256, O_SPLICE, O_PROXY, O_FIRST, O_HEADER, O_DIAL, O_IDLE, O_HUBT, O_MAXC, O_MAXCS, O_GRACE,
       O_LOGLVL, O_CONFIG, O_METRICS };

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
    {"metrics", required_argument, NULL, O_METRICS},
    {"check", no_argument, NULL, 'n'},
    {"check-config", no_argument, NULL, 'n'},
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

static void reload(void);
static void on_signal(struct nx_loop *loop, int signo, void *arg)
{
	if (signo == SIGHUP) {
		reload();
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

/* Everything the options say. The routes are copied by the relay; the strings point into
 * the option vector. */
struct opts {
	const char *listen[MAX_LISTEN], *listen_udp[MAX_LISTEN];
	size_t nlisten, nroutes, nudp;
	struct nx_relay_route routes[MAX_ROUTES];
	struct nx_relay_config cfg;
	const char *user;
	int inetd, check;
	enum nx_log_level lvl;
	uint64_t grace_ms;
	const char *acme_hosts[MAX_ACME_HOSTS];
	size_t nacme;
};

/* Parse argv into *o with the usage checks: -1 to go on, else the exit status (0 after
 * --help / --version, 2 after a usage error). SIGHUP runs it again. */
static int parse(int argc, char **argv, struct opts *o)
{
	char err[NX_ERRLEN];
	o->lvl = NX_LOG_INFO;
	o->grace_ms = 10000;
	optind = 0;
	int c;
	long long n;
	while ((c = getopt_long(argc, argv, ":l:H:r:u:nhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (strncmp(optarg, "udp:", 4) == 0) { /* a config file's "listen udp:ADDR" */
				optarg += 4;
				goto udp;
			}
			if (o->nlisten == MAX_LISTEN)
				return usage_error("more than %d --listen addresses", MAX_LISTEN);
			o->listen[o->nlisten++] = optarg;
			break;
		case O_LISTEN_UDP:
		udp:
			if (o->nudp == MAX_LISTEN)
				return usage_error("more than %d --listen-udp addresses", MAX_LISTEN);
			o->listen_udp[o->nudp++] = optarg;
			break;
		case 'H': o->cfg.hub_path = optarg; break;
		case 'r':
			if (o->nroutes == MAX_ROUTES)
				return usage_error("more than %d routes", MAX_ROUTES);
			if (nx_relay_parse_route(optarg, &o->routes[o->nroutes], err, sizeof err) < 0)
				return usage_error("--route: %s", err);
			for (size_t i = 0; i < o->nroutes; i++)
				if (strcmp(o->routes[i].key, o->routes[o->nroutes].key) == 0)
					return usage_error("route for '%s' given twice", o->routes[i].key);
			o->nroutes++;
			break;
		case O_ACME_DIR: o->cfg.acme_challenge_dir = optarg; break;
		case O_ACME_HOST: {
			char h[256];
			if (o->nacme == MAX_ACME_HOSTS)
				return usage_error("more than %d --acme-host names", MAX_ACME_HOSTS);
			if (nx_hostname_normalize(optarg, strlen(optarg), h, sizeof h, 0, err, sizeof err) < 0)
				return usage_error("--acme-host: %s", err);
			o->acme_hosts[o->nacme++] = optarg;
			break;
		}
		case O_INETD: o->inetd = 1; break;
		case O_SPLICE: o->cfg.splice = 1; break;
		case O_PROXY: o->cfg.proxy_protocol = 1; break;
		case 'u': o->user = optarg; break;
		case O_FIRST: if (parse_dur("first-bytes-timeout", optarg, &o->cfg.first_bytes_ms)) return 2; break;
		case O_HEADER: if (parse_dur("header-timeout", optarg, &o->cfg.header_ms)) return 2; break;
		case O_DIAL: if (parse_dur("dial-timeout", optarg, &o->cfg.dial_ms)) return 2; break;
		case O_IDLE: if (parse_dur("idle-timeout", optarg, &o->cfg.idle_ms)) return 2; break;
		case O_HUBT: if (parse_dur("hub-timeout", optarg, &o->cfg.hub_reply_ms)) return 2; break;
		case O_GRACE: if (parse_dur("grace", optarg, &o->grace_ms)) return 2; break;
		case O_MAXC:
			if (nx_parse_int(optarg, 1, 1000000, &n, err, sizeof err) < 0)
				return usage_error("--max-conns: %s", err);
			o->cfg.max_conns = (size_t)n;
			break;
		case O_MAXCS:
			if (nx_parse_int(optarg, 1, 1000000, &n, err, sizeof err) < 0)
				return usage_error("--max-conns-per-source: %s", err);
			o->cfg.max_conns_per_source = (size_t)n;
			break;
		case O_LOGLVL:
			if (!strcmp(optarg, "error")) o->lvl = NX_LOG_ERROR;
			else if (!strcmp(optarg, "warn")) o->lvl = NX_LOG_WARN;
			else if (!strcmp(optarg, "info")) o->lvl = NX_LOG_INFO;
			else if (!strcmp(optarg, "debug")) o->lvl = NX_LOG_DEBUG;
			else
				return usage_error("--log-level: want error, warn, info or debug, not '%s'", optarg);
			break;
		case O_METRICS: o->cfg.metrics_addr = optarg; break;
		case 'n': o->check = 1; break;
		case O_CONFIG: break; /* already read by nx_opts_expand */
		case 'h': fputs(usage, stdout); return 0;
		case 'V': nx_print_version(PROG); return 0;
		default: return nx_usage_getopt(c, argv);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (o->inetd && (o->nlisten || o->nudp))
		return usage_error("--inetd serves fd 0: it takes no --listen%s", o->nudp ? "-udp" : "");
	if (!o->cfg.hub_path && o->nroutes == 0)
		return usage_error("nothing to route to: give --hub PATH and/or --route NAME=ADDR");
	if (o->nacme && !o->cfg.acme_challenge_dir)
		return usage_error("--acme-host needs --acme-challenge-dir DIR");
	if (o->cfg.acme_challenge_dir && !o->nacme)
		return usage_error("--acme-challenge-dir needs the names to answer for (--acme-host)");
	/* the hub makes it (it may start after us): until then, challenges are answered 404 */
	struct stat ast;
	if (o->cfg.acme_challenge_dir &&
	    (stat(o->cfg.acme_challenge_dir, &ast) < 0 || !S_ISDIR(ast.st_mode)))
		nx_say("warning: --acme-challenge-dir %s is not a directory (yet)",
		       o->cfg.acme_challenge_dir);
	o->cfg.acme_hosts = o->acme_hosts;
	o->cfg.n_acme_hosts = o->nacme;
	for (size_t i = 0; i < o->nlisten; i++)
		if (nx_hostport_check(o->listen[i], err, sizeof err) < 0)
			return usage_error("--listen: %s", err);
	for (size_t i = 0; i < o->nudp; i++)
		if (nx_hostport_check(o->listen_udp[i], err, sizeof err) < 0)
			return usage_error("--listen-udp: %s", err);
	if (o->cfg.metrics_addr && nx_hostport_check(o->cfg.metrics_addr, err, sizeof err) < 0)
		return usage_error("--metrics: %s", err);
	if (o->nudp && !o->cfg.hub_path)
		return usage_error("--listen-udp needs --hub PATH (the hub carries UDP flows)");
	if (o->user && !getpwnam(o->user))
		return usage_error("--user: unknown user '%s'", o->user);
	return -1;
}

/* SIGHUP: the options, --config file and environment as they are now. The relay copies
 * the routes; the rest of a reload's vector and options live until the next reload. */
static int saved_argc;
static char **saved_argv;
static char **reload_vec;
static struct opts *reload_opts;
static struct opts first; /* what the relay started with */

static int same_list(const char *const *a, size_t na, const char *const *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	return 1;
}

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void reload_refused(const char *why)
{
	char q[NX_ERRLEN + 8];
	nx_error("configuration not reloaded, keeping the old one", "error=%s",
	         nx_log_q(q, sizeof q, why));
}

static void reload(void)
{
	char err[NX_ERRLEN];
	int argc = saved_argc;
	char **argv = saved_argv;
	if (nx_opts_expand(&argc, &argv, "NEXUS_RELAY_", longopts, err, sizeof err) < 0) {
		nx_relay_reload_failed(relay);
		return reload_refused(err);
	}
	struct opts *o = calloc(1, sizeof *o);
	int rc = o ? parse(argc, argv, o) : 1;
	if (rc != -1) {
		nx_opts_free(argv);
		free(o);
		nx_relay_reload_failed(relay);
		return reload_refused(!o ? "out of memory"
		                      : rc == 0 ? "--help or --version in the configuration"
		                                : "a usage error in the options (see the line above)");
	}
	struct nx_relay_config cfg = o->cfg;
	cfg.routes = o->routes;
	cfg.nroutes = o->nroutes;
	if (nx_relay_reload(relay, &cfg, err, sizeof err) < 0) {
		nx_opts_free(argv);
		free(o);
		return reload_refused(err);
	}
	nx_log_setup(PROG, NX_LOG_LOGFMT, o->lvl);
	grace_ms = o->grace_ms;
	nx_info("configuration reloaded", "routes=%zu", o->nroutes);
	if (!same_list(o->listen, o->nlisten, first.listen, first.nlisten) ||
	    !same_list(o->listen_udp, o->nudp, first.listen_udp, first.nudp) ||
	    !same_str(o->cfg.hub_path, first.cfg.hub_path) || !same_str(o->user, first.user) ||
	    !same_str(o->cfg.metrics_addr, first.cfg.metrics_addr))
		nx_warn("not reloaded: --listen, --listen-udp, --hub, --user and --metrics need a restart",
		        NULL);
	if (!same_str(o->cfg.acme_challenge_dir, first.cfg.acme_challenge_dir) ||
	    !same_list(o->acme_hosts, o->nacme, first.acme_hosts, first.nacme))
		nx_warn("not reloaded: --acme-challenge-dir and --acme-host need a restart", NULL);
	nx_opts_free(reload_vec);
	free(reload_opts);
	reload_vec = argv;
	reload_opts = o;
}

int main(int argc0, char **argv0)
{
	int argc = argc0;
	char **argv = argv0;
	char err[NX_ERRLEN];
	nx_log_setup(PROG, NX_LOG_LOGFMT, NX_LOG_INFO);
	int orc = nx_opts_expand(&argc, &argv, "NEXUS_RELAY_", longopts, err, sizeof err);
	if (orc < 0)
		return nx_opts_fail(orc, err);
	nexus_relay_argv = argv;
	saved_argc = argc0;
	saved_argv = argv0;
	struct opts *o = &first;
	int prc = parse(argc, argv, o);
	if (prc != -1)
		return prc;
	struct nx_relay_config cfg = o->cfg;
	grace_ms = o->grace_ms;
	if (o->check) {
		if (nx_relay_check_routes(o->routes, o->nroutes, err, sizeof err) < 0) {
			nx_say("%s", err);
			return 1;
		}
		char udp[32] = "";
		if (o->nudp)
			snprintf(udp, sizeof udp, ", %zu UDP", o->nudp);
		nx_say("configuration OK (%zu listen address%s%s, %zu route%s%s%s)", o->nlisten,
		       o->nlisten == 1 ? "" : "es", udp, o->nroutes, o->nroutes == 1 ? "" : "s",
		       cfg.hub_path ? ", hub " : "", cfg.hub_path ? cfg.hub_path : "");
		return 0;
	}
	if (o->inetd)
		protect_client_stream();
	nx_log_setup(PROG, NX_LOG_LOGFMT, o->lvl);
	signal(SIGPIPE, SIG_IGN);

	/* Bind first, then drop privileges: a relay on :443 needs root only for the bind. */
	int lfds[MAX_LISTEN + 64];
	size_t nl = 0;
	for (size_t i = 0; i < o->nlisten; i++) {
		int fd = nx_listen_tcp(o->listen[i], 1024, err, sizeof err);
		if (fd < 0) {
			nx_error("cannot listen", "error=\"%s\"", err);
			return 1;
		}
		lfds[nl++] = fd;
	}
	int ufds[MAX_LISTEN];
	for (size_t i = 0; i < o->nudp; i++) {
		ufds[i] = nx_bind_udp(o->listen_udp[i], err, sizeof err);
		if (ufds[i] < 0) {
			nx_error("cannot listen", "error=\"%s\"", err);
			return 1;
		}
	}
	if (!o->inetd && o->nlisten == 0 && o->nudp == 0) {
		int k = nx_listen_fds();
		for (int i = 0; i < k && nl < sizeof lfds / sizeof *lfds; i++)
			lfds[nl++] = 3 + i;
		if (nl == 0)
			return usage_error("no --listen address and no sockets from systemd (LISTEN_FDS)");
	}
	if (o->user && drop_privileges(o->user) < 0)
		return 1;

	struct nx_loop *loop = nx_loop_new(err, sizeof err);
	if (!loop) {
		nx_error("event loop", "error=\"%s\"", err);
		return 1;
	}
	cfg.routes = o->routes;
	cfg.nroutes = o->nroutes;
	cfg.exit_when_idle = o->inetd;
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
	for (size_t i = 0; i < o->nudp; i++) {
		if (nx_relay_add_udp(relay, ufds[i], err, sizeof err) < 0) {
			nx_error("listener", "error=\"%s\"", err);
			return 1;
		}
		char a[64];
		nx_info("listening", "addr=%s proto=udp", nx_local_addr(ufds[i], a, sizeof a, NULL, NULL));
	}
	if (o->inetd && nx_relay_add_conn(relay, 0, err, sizeof err) < 0) {
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
	nx_opts_free(reload_vec);
	free(reload_opts);
	if (!o->inetd)
		nx_info("stopped", NULL);
	return rc < 0 ? 1 : 0;
}
