/* nexus-hub — the centre of the reverse tunnel: backends dial in over TLS WebSocket, the
 * relay hands it end-user connections, it carries them over the right backend's WebSocket.
 * The work is in lib/hub*.c; this file reads options, sets up the loop and signals, logs. */
#include "wire/tls.h"
#include "hub/hub.h"
#include "core/hostname.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/opts.h"
#include "core/sock.h"
#include "core/units.h"
#include "core/util.h"

#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: nexus-hub --listen ADDR --cert FILE --key FILE\n"
    "                 (--secret-file FILE | --verify-key FILE.pub | --backends FILE |\n"
    "                  --verify-url URL) --relay-socket PATH [options]\n"
    "       nexus-hub ... --acme-directory URL --hub-hostname NAME (instead of --cert/--key)\n"
    "\n"
    "Backends connect to wss://ADDR/connect and authenticate with two JWTs; nexus-relay\n"
    "hands end-user connections over PATH and the hub carries them to the right backend.\n"
    "\n"
    "  -l, --listen ADDR          backend listener host:port (default: the systemd socket)\n"
    "  -c, --cert FILE            TLS certificate chain (PEM) shown to backends\n"
    "  -k, --key FILE             its private key (PEM)\n"
    "      --secret-file FILE     HMAC secret backend tokens are signed with (HS256/384/512)\n"
    "      --verify-key FILE.pub  public key backend tokens are signed with (RS256/ES256)\n"
    "      --backends FILE        a key and a grant per backend (re-read when it changes)\n"
    "      --verify-url URL       POST backend tokens to this https verifier\n"
    "      --verify-ca FILE       CA certificates for the verifier's (default: the system's)\n"
    "      --verify-timeout D     time for one verification (default 10s)\n"
    "      --max-verify N         verifications in flight at once (default 64)\n"
    "  -r, --relay-socket PATH    unix socket nexus-relay hands connections over\n"
    "      --allow-tcp-port N     backends may claim tcp:N (repeatable)\n"
    "      --allow-udp-port N     backends may claim udp:N (repeatable)\n"
    "      --max-udp-flows N      UDP flows per port at once (default 4096)\n"
    "      --max-udp-flows-per-source N  of which from one address (default 256)\n"
    "      --deny-list FILE       revoked token ids (jti), one per line\n"
    "      --exclusive-hostnames  refuse a second sub for a hostname (1008)\n"
    "      --idle-timeout D       close streams idle for D (default 5m)\n"
    "      --leeway D             clock skew allowed on exp/nbf/iat (default 0s)\n"
    "      --auth-timeout D       time for each authentication stage (default 5s)\n"
    "      --handshake-timeout D  time for the TLS handshake and upgrade (default 5s)\n"
    "      --max-pending N        unauthenticated connections in all (1024)\n"
    "      --max-pending-per-source N  unauthenticated connections from one address (16)\n"
    "      --max-streams N        end-user streams at once (16384)\n"
    "      --max-streams-per-source N  of which from one client address (256)\n"
    "      --max-sessions N       live backend sessions in all (4096); more: close 1013\n"
    "      --max-sessions-per-backend N  of which with one backend name, the token's sub (256)\n"
    "      --max-buffered SIZE    bytes held for end users that do not read (256M); then\n"
    "                             the streams holding the most are shed\n"
    "      --relay-uid USER       also let USER hand connections over PATH (repeatable)\n"
    "      --relay-group GROUP    also let members of GROUP do so (repeatable)\n"
    "      --relay-socket-mode MODE  permissions of PATH (default 0660)\n"
    "      --relay-socket-group GROUP  group of PATH (default: the hub's)\n"
    "      --ping-interval D      ping backends every D (default 54s)\n"
    "      --backend-timeout D    drop a backend silent for D (default 60s)\n"
    "      --metrics HOST:PORT    serve GET /metrics and /backends there (a local address)\n"
    "      --workers N            threads carrying live sessions (default: one per CPU)\n"
    "      --peer URL             offer our backends to the hub at wss://HOST:PORT/mesh (repeatable)\n"
    "      --peer-secret-file FILE  HMAC secret shared by the mesh (serves /mesh too)\n"
    "      --peer-ca FILE         CA certificates for the peer hubs' (default: the system's)\n"
    "      --node-name NAME       this hub's name in the mesh (default: the host name)\n"
    "      --peer-client-ca FILE  hubs dialling /mesh must show a certificate from this CA\n"
    "      --peer-client-name PATTERN  ... with a DNS name matching PATTERN (*.example: one label)\n"
    "      --acme-directory URL   get and renew the certificate from this ACME directory\n"
    "      --acme-email EMAIL     contact address of the ACME account\n"
    "      --hub-hostname NAME    the name the certificate is for (repeatable)\n"
    "      --acme-dir DIR         ACME account and certificate (default $STATE_DIRECTORY/acme)\n"
    "      --acme-challenge-dir DIR  HTTP-01 answers for nexus-relay (default DIR/challenges)\n"
    "      --acme-ca FILE         CA bundle to trust the ACME server with (default: system)\n"
    "  -v, --verbose              log at debug level (one line per stream)\n"
    "      --config FILE          read options from FILE (one 'name value' per line)\n"
    "  -n, --check-config         load and check the configuration, print a summary, exit\n"
    "  -h, --help                 this help\n"
    "  -V, --version              print the version\n"
    "\n"
    "Every option can also be set as NEXUS_HUB_<OPTION> (e.g. NEXUS_HUB_IDLE_TIMEOUT=10m).\n"
    "SIGHUP re-reads the options and the files they name; SIGUSR1 logs a status line.\n";

#define usage_error nx_usage_error

/* systemctl status shows what the hub carries, refreshed every few seconds. */
static struct nx_timer status_timer;
static void status_tick(struct nx_loop *loop, void *arg)
{
	struct nx_hub_stats st;
	nx_hub_get_stats(arg, &st);
	nx_notify_status("backends=%zu streams=%zu routes=%zu buffered=%llu", st.sessions, st.streams,
	                 st.routes, (unsigned long long)st.buffered);
	nx_timer_start(loop, &status_timer, 5000, status_tick, arg);
}

static struct nx_hub *the_hub;

static void on_signal(struct nx_loop *loop, int signo, void *arg)
{
	if (signo == SIGHUP) {
		if (the_hub)
			nx_hub_reload(the_hub);
		return;
	}
	if (signo == SIGUSR1) {
		if (the_hub)
			nx_hub_log_status(the_hub);
		return;
	}
	nx_log(NX_LOG_INFO, "stopping", "signal=%d", signo);
	nx_loop_stop(loop);
}

static int duration_opt(const char *name, const char *s, uint64_t *ms)
{
	char err[NX_ERRLEN] = "";
	*ms = 1;
	if (nx_parse_duration(s, ms, err, sizeof err) < 0 || *ms == 0)
		return usage_error("--%s: %s", name, *ms == 0 && !err[0] ? "must be more than 0" : err);
	return 0;
}

static const struct option lo[] = {
    {"listen", required_argument, 0, 'l'},
    {"cert", required_argument, 0, 'c'},
    {"key", required_argument, 0, 'k'},
    {"secret-file", required_argument, 0, 's'},
    {"verify-key", required_argument, 0, 'p'},
    {"backends", required_argument, 0, 'K'},
    {"verify-url", required_argument, 0, 'W'},
    {"verify-ca", required_argument, 0, 'a'},
    {"verify-timeout", required_argument, 0, 'w'},
    {"max-verify", required_argument, 0, 'Y'},
    {"relay-socket", required_argument, 0, 'r'},
    {"allow-tcp-port", required_argument, 0, 'P'},
    {"allow-udp-port", required_argument, 0, 'Q'},
    {"max-udp-flows", required_argument, 0, 'F'},
    {"max-udp-flows-per-source", required_argument, 0, 'f'},
    {"idle-timeout", required_argument, 0, 'i'},
    {"leeway", required_argument, 0, 'L'},
    {"deny-list", required_argument, 0, 'D'},
    {"exclusive-hostnames", no_argument, 0, 'X'},
    {"auth-timeout", required_argument, 0, 'A'},
    {"handshake-timeout", required_argument, 0, 'T'},
    {"max-pending", required_argument, 0, 'N'},
    {"max-pending-per-source", required_argument, 0, 'S'},
    {"max-streams", required_argument, 0, 1011},
    {"max-streams-per-source", required_argument, 0, 1012},
    {"max-sessions", required_argument, 0, 1014},
    {"max-sessions-per-backend", required_argument, 0, 1015},
    {"max-buffered", required_argument, 0, 1013},
    {"relay-uid", required_argument, 0, 'U'},
    {"relay-group", required_argument, 0, 'G'},
    {"relay-socket-mode", required_argument, 0, 'M'},
    {"relay-socket-group", required_argument, 0, 'R'},
    {"ping-interval", required_argument, 0, 'I'},
    {"backend-timeout", required_argument, 0, 'B'},
    {"metrics", required_argument, 0, 'Z'},
    {"workers", required_argument, 0, 1010},
    {"peer", required_argument, 0, 1001},
    {"peer-secret-file", required_argument, 0, 1002},
    {"peer-ca", required_argument, 0, 1003},
    {"node-name", required_argument, 0, 1004},
    {"peer-client-ca", required_argument, 0, 1005},
    {"peer-client-name", required_argument, 0, 1006},
    {"acme-directory", required_argument, 0, 300},
    {"acme-email", required_argument, 0, 301},
    {"hub-hostname", required_argument, 0, 302},
    {"acme-dir", required_argument, 0, 303},
    {"acme-challenge-dir", required_argument, 0, 304},
    {"acme-ca", required_argument, 0, 305},
    {"verbose", no_argument, 0, 'v'},
    {"config", required_argument, 0, 'C'},
    {"check-config", no_argument, 0, 'n'},
    {"help", no_argument, 0, 'h'},
    {"version", no_argument, 0, 'V'},
    {0, 0, 0, 0}};

/* Environment, --config FILE and argv into *cfg, with the usage checks: -1 to go on, else
 * the exit status (0 after --help / --version, 2 after a usage error). Also what SIGHUP
 * runs again (reloading: the systemd socket is not looked for again). */
static int parse_opts(int argc, char **argv, struct nx_hub_config *cfg, int *verbose, int *check,
                      int reloading)
{
	char err[NX_ERRLEN];
	int c;
	long long v;
	uint64_t ms;
	optind = 0; /* a fresh scan (SIGHUP parses again) */
	cpu_set_t cpus; /* --workers: one per CPU we may run on */
	cfg->workers = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? (unsigned)CPU_COUNT(&cpus) : 1;
	while ((c = getopt_long(argc, argv, ":l:c:k:r:nvhV", lo, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (nx_hostport_check(optarg, err, sizeof err) < 0)
				return usage_error("--listen: %s", err);
			cfg->listen = optarg;
			break;
		case 'c': cfg->cert_file = optarg; break;
		case 'k': cfg->key_file = optarg; break;
		case 's': cfg->secret_file = optarg; break;
		case 'p': cfg->verify_key = optarg; break;
		case 'K': cfg->backends_file = optarg; break;
		case 'W':
			if (strncmp(optarg, "https://", 8) != 0 || !optarg[8])
				return usage_error("--verify-url: want an https:// URL, not '%s'", optarg);
			cfg->verify_url = optarg;
			break;
		case 'a': cfg->verify_ca = optarg; break;
		case 'w':
			if (duration_opt("verify-timeout", optarg, &cfg->verify_timeout_ms) != 0)
				return 2;
			break;
		case 'Y':
			if (nx_parse_int(optarg, 1, 100000, &v, err, sizeof err) < 0)
				return usage_error("--max-verify: %s", err);
			cfg->max_verify = (size_t)v;
			break;
		case 'r': cfg->relay_socket = optarg; break;
		case 'P':
			if (nx_parse_int(optarg, 1, 65535, &v, err, sizeof err) < 0)
				return usage_error("--allow-tcp-port: %s", err);
			if (cfg->n_allow_tcp_ports == NX_HUB_MAX_ALLOW_PORTS)
				return usage_error("--allow-tcp-port: at most %d ports", NX_HUB_MAX_ALLOW_PORTS);
			cfg->allow_tcp_ports[cfg->n_allow_tcp_ports++] = (uint16_t)v;
			break;
		case 'Q':
			if (nx_parse_int(optarg, 1, 65535, &v, err, sizeof err) < 0)
				return usage_error("--allow-udp-port: %s", err);
			if (cfg->n_allow_udp_ports == NX_HUB_MAX_ALLOW_PORTS)
				return usage_error("--allow-udp-port: at most %d ports", NX_HUB_MAX_ALLOW_PORTS);
			cfg->allow_udp_ports[cfg->n_allow_udp_ports++] = (uint16_t)v;
			break;
		case 'F':
		case 'f':
			if (nx_parse_int(optarg, 1, 1000000, &v, err, sizeof err) < 0)
				return usage_error("--max-udp-flows%s: %s", c == 'f' ? "-per-source" : "", err);
			*(c == 'F' ? &cfg->max_udp_flows : &cfg->max_udp_flows_per_source) = (size_t)v;
			break;
		case 'i':
			if (duration_opt("idle-timeout", optarg, &cfg->idle_timeout_ms) != 0)
				return 2;
			break;
		case 'L':
			if (nx_parse_duration(optarg, &ms, err, sizeof err) < 0)
				return usage_error("--leeway: %s", err);
			cfg->leeway_s = (int64_t)(ms / 1000);
			break;
		case 'D':
			cfg->deny_list = optarg;
			break;
		case 'X': cfg->exclusive_hostnames = 1; break;
		case 'A':
			if (duration_opt("auth-timeout", optarg, &cfg->auth_timeout_ms) != 0)
				return 2;
			break;
		case 'T':
			if (duration_opt("handshake-timeout", optarg, &cfg->handshake_timeout_ms) != 0)
				return 2;
			break;
		case 'N':
			if (nx_parse_int(optarg, 1, 1000000, &v, err, sizeof err) < 0)
				return usage_error("--max-pending: %s", err);
			cfg->max_pending = (size_t)v;
			break;
		case 'S':
			if (nx_parse_int(optarg, 1, 1000000, &v, err, sizeof err) < 0)
				return usage_error("--max-pending-per-source: %s", err);
			cfg->max_pending_per_source = (size_t)v;
			break;
		case 1011:
		case 1012:
			if (nx_parse_int(optarg, 1, 10000000, &v, err, sizeof err) < 0)
				return usage_error("--max-streams%s: %s", c == 1012 ? "-per-source" : "", err);
			*(c == 1011 ? &cfg->max_streams : &cfg->max_streams_per_source) = (size_t)v;
			break;
		case 1014:
		case 1015:
			if (nx_parse_int(optarg, 1, 1000000, &v, err, sizeof err) < 0)
				return usage_error("--max-sessions%s: %s", c == 1015 ? "-per-backend" : "", err);
			*(c == 1014 ? &cfg->max_sessions : &cfg->max_sessions_per_backend) = (size_t)v;
			break;
		case 1013: {
			uint64_t b;
			if (nx_parse_size(optarg, &b, err, sizeof err) < 0)
				return usage_error("--max-buffered: %s", err);
			if (b < (1u << 20))
				return usage_error("--max-buffered: at least 1M");
			cfg->max_buffered = b;
			break;
		}
		case 'U':
			if (cfg->n_relay_uids == NX_HUB_MAX_RELAY_IDS)
				return usage_error("--relay-uid: at most %d", NX_HUB_MAX_RELAY_IDS);
			if (nx_parse_uid(optarg, &cfg->relay_uids[cfg->n_relay_uids], err, sizeof err) < 0)
				return usage_error("--relay-uid: %s", err);
			cfg->n_relay_uids++;
			break;
		case 'G':
			if (cfg->n_relay_gids == NX_HUB_MAX_RELAY_IDS)
				return usage_error("--relay-group: at most %d", NX_HUB_MAX_RELAY_IDS);
			if (nx_parse_gid(optarg, &cfg->relay_gids[cfg->n_relay_gids], err, sizeof err) < 0)
				return usage_error("--relay-group: %s", err);
			cfg->n_relay_gids++;
			break;
		case 'M':
			if (nx_parse_mode(optarg, &cfg->relay_socket_mode, err, sizeof err) < 0)
				return usage_error("--relay-socket-mode: %s", err);
			break;
		case 'R':
			if (nx_parse_gid(optarg, &cfg->relay_socket_gid, err, sizeof err) < 0)
				return usage_error("--relay-socket-group: %s", err);
			cfg->relay_socket_group_set = 1;
			break;
		case 'I':
			if (duration_opt("ping-interval", optarg, &cfg->ping_ms) != 0)
				return 2;
			break;
		case 'B':
			if (duration_opt("backend-timeout", optarg, &cfg->silent_ms) != 0)
				return 2;
			break;
		case 'Z':
			if (nx_hostport_check(optarg, err, sizeof err) < 0)
				return usage_error("--metrics: %s", err);
			cfg->metrics_addr = optarg;
			break;
		case 1001:
			if (strncmp(optarg, "wss://", 6) != 0 || !optarg[6])
				return usage_error("--peer: want a wss:// URL, not '%s'", optarg);
			if (cfg->n_peers == NX_HUB_MAX_PEERS)
				return usage_error("--peer: at most %d peers", NX_HUB_MAX_PEERS);
			cfg->peers[cfg->n_peers++] = optarg;
			break;
		case 1002: cfg->peer_secret_file = optarg; break;
		case 1003: cfg->peer_ca = optarg; break;
		case 1004: cfg->node_name = optarg; break;
		case 1005: cfg->peer_client_ca = optarg; break;
		case 1006: cfg->peer_client_name = optarg; break;
		case 1010:
			if (nx_parse_int(optarg, 1, 256, &v, err, sizeof err) < 0)
				return usage_error("--workers: %s", err);
			cfg->workers = (unsigned)v;
			break;
		case 300: cfg->acme_directory = optarg; break;
		case 301: cfg->acme_email = optarg; break;
		case 302: {
			char h[256];
			if (cfg->n_hostnames == NX_HUB_MAX_HOSTNAMES)
				return usage_error("more than %d --hub-hostname names", NX_HUB_MAX_HOSTNAMES);
			if (nx_hostname_normalize(optarg, strlen(optarg), h, sizeof h, 0, err, sizeof err) < 0)
				return usage_error("--hub-hostname: %s", err);
			cfg->hostnames[cfg->n_hostnames++] = optarg;
			break;
		}
		case 303: cfg->acme_dir = optarg; break;
		case 304: cfg->acme_challenge_dir = optarg; break;
		case 305: cfg->acme_ca = optarg; break;
		case 'v': *verbose = 1; break;
		case 'C': break;
		case 'n': *check = 1; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': nx_print_version("nexus-hub"); return 0;
		default: return nx_usage_getopt(c, argv);
		}
	}
	if (optind != argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!reloading && nx_listen_fds() > 0)
		cfg->listen_fd = 3;
	if (!cfg->listen && cfg->listen_fd < 0)
		return usage_error("--listen ADDR is required");
	if (cfg->acme_directory) {
		static char acme_dir[4096];
		const char *sd = getenv("STATE_DIRECTORY"); /* systemd's StateDirectory= */
		if (!cfg->acme_dir && sd && !strchr(sd, ':')) {
			snprintf(acme_dir, sizeof acme_dir, "%s/acme", sd);
			cfg->acme_dir = acme_dir;
		}
		if (!cfg->acme_dir)
			return usage_error("--acme-directory needs --acme-dir DIR");
		if (!cfg->n_hostnames)
			return usage_error("--acme-directory needs --hub-hostname NAME");
		if (!cfg->cert_file != !cfg->key_file)
			return usage_error("give both --cert FILE and --key FILE, or neither (ACME only)");
	} else if (cfg->acme_email || cfg->n_hostnames || cfg->acme_dir || cfg->acme_ca ||
	           cfg->acme_challenge_dir) {
		return usage_error("--acme-email, --hub-hostname, --acme-dir, --acme-challenge-dir and "
		                   "--acme-ca need --acme-directory URL");
	} else if (!cfg->cert_file || !cfg->key_file) {
		return usage_error("--cert FILE and --key FILE are required (or --acme-directory URL)");
	}
	if (cfg->secret_file && cfg->verify_key)
		return usage_error("give only one of --secret-file and --verify-key");
	if (!cfg->secret_file && !cfg->verify_key && !cfg->backends_file && !cfg->verify_url)
		return usage_error("give exactly one of --secret-file and --verify-key, or --backends "
		                   "or --verify-url");
	if (!cfg->relay_socket)
		return usage_error("--relay-socket PATH is required");
	if (cfg->n_peers && !cfg->peer_secret_file)
		return usage_error("--peer needs --peer-secret-file FILE");
	if ((cfg->peer_client_ca || cfg->peer_client_name) && !cfg->peer_secret_file)
		return usage_error("--peer-client-ca/--peer-client-name need --peer-secret-file FILE");
	if (cfg->peer_client_name && !cfg->peer_client_ca)
		return usage_error("--peer-client-name needs --peer-client-ca FILE");
	return -1;
}

/* SIGHUP: the options, --config file and environment as they are now. The hub copies
 * what it keeps, so a reload's vector lives until the next one. */
static int saved_argc;
static char **saved_argv;
static char **reload_vec;
static struct nx_hub_config first_cfg;

static int reload(void *arg, struct nx_hub_config *out, char *err, size_t errlen)
{
	(void)arg;
	nx_opts_free(reload_vec);
	reload_vec = NULL;
	int argc = saved_argc;
	char **argv = saved_argv;
	int orc = nx_opts_expand(&argc, &argv, "NEXUS_HUB_", lo, err, errlen);
	if (orc < 0)
		return -1;
	reload_vec = argv;
	struct nx_hub_config nc = {.listen_fd = first_cfg.listen_fd};
	int verbose = 0, check = 0;
	int rc = parse_opts(argc, argv, &nc, &verbose, &check, 1);
	if (rc != -1)
		return nx_err(err, errlen, rc == 0 ? "--help / --version in the configuration"
		                                   : "usage error in the options (see above)");
	*out = nc;
	return 0;
}

static int run(int argc, char **argv)
{
	struct nx_hub_config cfg = {.listen_fd = -1};
	char err[NX_ERRLEN];
	int verbose = 0, check = 0;
	int prc = parse_opts(argc, argv, &cfg, &verbose, &check, 0);
	if (prc != -1)
		return prc;
	if (check) {
		char line[600];
		if (nx_hub_check(&cfg, line, sizeof line, err, sizeof err) < 0) {
			nx_say("%s", err);
			return 1;
		}
		printf("nexus-hub: configuration OK: %s\n", line);
		return 0;
	}
	first_cfg = cfg;
	cfg.reload = reload;
	if (cfg.secret_file && nx_file_is_loose(cfg.secret_file))
		nx_say("warning: %s is readable by group or others (chmod 600 %s)", cfg.secret_file,
		       cfg.secret_file);
	nx_log_setup("nexus-hub", NX_LOG_LOGFMT, verbose ? NX_LOG_DEBUG : NX_LOG_INFO);
	cfg.log = nx_log_sink;
	signal(SIGPIPE, SIG_IGN);

	struct nx_loop *loop = nx_loop_new(err, sizeof err);
	if (!loop) {
		nx_log(NX_LOG_ERROR, "cannot start", "error=\"%s\"", err);
		return 1;
	}
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1};
	if (nx_loop_signals(loop, sigs, 4, on_signal, NULL, err, sizeof err) < 0) {
		nx_log(NX_LOG_ERROR, "cannot start", "error=\"%s\"", err);
		nx_loop_free(loop);
		return 1;
	}
	struct nx_hub *hub = nx_hub_new(loop, &cfg, err, sizeof err);
	if (!hub) {
		char q[NX_ERRLEN + 8];
		nx_log(NX_LOG_ERROR, "cannot start", "error=%s", nx_log_q(q, sizeof q, err));
		nx_loop_free(loop);
		return 1;
	}
	the_hub = hub;
	nx_log(NX_LOG_INFO, "listening", "backends=%u relay_socket=%s workers=%u", nx_hub_port(hub),
	       cfg.relay_socket, nx_hub_workers(hub));
	int fast;
	const char *impl = nx_tls_crypto_impl(&fast);
	if (fast)
		nx_log(NX_LOG_DEBUG, "tls crypto", "impl=\"%s\"", impl);
	else
		nx_log(NX_LOG_WARN, "tls crypto without AES-NI/PCLMULQDQ: bulk costs several times the CPU",
		       "impl=\"%s\"", impl);
	nx_notify_ready();
	status_tick(loop, hub);
	int rc = nx_loop_run(loop) < 0 ? 1 : 0;
	nx_notify_stopping();
	nx_timer_stop(loop, &status_timer);
	the_hub = NULL;
	nx_hub_free(hub);
	nx_loop_free(loop);
	return rc;
}

int main(int argc, char **argv)
{
	char err[NX_ERRLEN];
	nx_log_setup("nexus-hub", NX_LOG_PLAIN, NX_LOG_INFO);
	saved_argc = argc;
	saved_argv = argv;
	int orc = nx_opts_expand(&argc, &argv, "NEXUS_HUB_", lo, err, sizeof err);
	if (orc < 0)
		return nx_opts_fail(orc, err);
	/* options point into the expanded vector: free it only after the hub */
	char **v = argv;
	int rc = run(argc, argv);
	nx_opts_free(v);
	nx_opts_free(reload_vec);
	return rc;
}
