/* nexus-tunnel — publish local services through a nexus hub (or a Nexus Proxy server):
 * dial out, authenticate, serve the streams the hub sends. The session is lib/tunnel/. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gate/gate.h"
#include "token/backend_claims.h"
#include "token/keys.h"
#include "core/log.h"
#include "core/opts.h"
#include "core/sock.h"
#include "tunnel/tunnel.h"
#include "core/units.h"
#include "core/util.h"

#define MAX_LIST 64

static const char usage_text[] =
    "usage: nexus-tunnel --hub wss://HOST[:PORT]/connect\n"
    "                    (--key FILE | --secret-file FILE | --token-cmd CMD)\n"
    "                    (--hostname NAME | --tcp-port N | --udp-port N[:IDLE]=ADDR)...\n"
    "                    (--to HOST:PORT | --map KEY=HOST:PORT... | --exec CMD)\n"
    "                    [--cafile FILE] [--servername NAME] [--name NAME] [--weight N]\n"
    "                    [--ping DURATION] [--idle-timeout DURATION] [--max-streams N]\n"
    "                    [--max-streams-per-source N] [--connections N]\n"
    "                    [--max-frame SIZE] [--proxy-protocol v1|v2] [--retry]\n"
    "                    [--metrics HOST:PORT]\n"
    "                    [--gate-host NAME... --gate-verify-key FILE --gate-cert FILE\n"
    "                     --gate-cert-key FILE [--gate-revocations URL]]\n"
    "                    [-v | -q]\n"
    "                    [--config FILE] [-n]\n"
    "       nexus-tunnel --help | --version\n"
    "\n"
    "Dials the hub, authenticates with a token (built-in signer from --secret-file: an HMAC\n"
    "secret, RSA or EC private key; or the first line of --token-cmd's output), and serves\n"
    "each stream the hub opens: to the --map entry for its hostname and relay port, its\n"
    "hostname (exact, then *.wildcard) or its relay port, else to --to; or to a --exec\n"
    "command spawned per stream with the stream on stdin/stdout. Reconnects with backoff\n"
    "until SIGTERM; a refusal retrying cannot fix (wrong secret, certificate, path) before\n"
    "the first session served ends it with exit 1. SIGHUP re-reads --config and the\n"
    "environment and takes the new --map, --to and --proxy-protocol for new streams.\n"
    "\n"
    "  --hub URL            the hub's backend endpoint (wss:// only)\n"
    "  --key FILE           own private key (ES256/RS256; default ~/.config/nexus/id.key)\n"
    "  --secret-file FILE   key to sign tokens with (never on the command line itself)\n"
    "  --token-cmd CMD      run CMD (sh -c) for each token; NEXUS_ATTESTATION_STAGE etc. set\n"
    "  --hostname NAME      route to claim (repeatable; *.example.com wildcards allowed)\n"
    "  --tcp-port N         relay port to claim (repeatable)\n"
    "  --udp-port N[:IDLE]=HOST:PORT  UDP relay port to claim, its flows to HOST:PORT (repeatable)\n"
    "  --to HOST:PORT       where streams go by default\n"
    "  --map KEY=HOST:PORT  where streams for KEY go: NAME, *.WILDCARD, PORT or NAME:PORT\n"
    "                       (,proxy=v1|v2|none after the address: that entry's PROXY header)\n"
    "  --exec CMD           run CMD per stream (PROTO, TCPREMOTEIP, TCPREMOTEPORT, NEXUS_HOSTNAME)\n"
    "  --cafile FILE        CA bundle for the hub's certificate (default: system bundle)\n"
    "  --servername NAME    name the hub certificate must carry (default: the URL's host)\n"
    "  --name NAME          backend name in tokens (default: this machine's host name)\n"
    "  --weight N           share of traffic among backends of a route (default 1)\n"
    "  --ping DURATION      WebSocket ping interval (default 5s)\n"
    "  --idle-timeout DUR   drop a hub silent this long (default 10s)\n"
    "  --max-streams N      streams open at once per connection, more are refused (1024)\n"
    "  --max-streams-per-source N  of which from one end-user address (an eighth)\n"
    "  --connections N      N sessions to the hub, streams spread over them (default 1)\n"
    "  --max-frame SIZE     largest message accepted from the hub (default 1MiB)\n"
    "  --proxy-protocol V   start each local stream with a PROXY protocol v1 or v2 header\n"
    "  --metrics HOST:PORT  serve Prometheus metrics on GET /metrics there (a local address)\n"
    "  --gate-host NAME     serve NAME's browser sessions through the gate (repeatable)\n"
    "  --gate-verify-key F  public key of nexus-bind's session grants (ES256)\n"
    "  --gate-cert FILE     the gated host's certificate chain (PEM)\n"
    "  --gate-cert-key FILE its private key (PEM)\n"
    "  --gate-revocations U nexus-bind serve's /v1/revocations: fetched every 10s, fail closed\n"
    "  --gate-revocations-max-age D  fail closed once the list is older than D (60s)\n"
    "  --gate-acme-directory URL  the gated hosts' certificate from ACME (HTTP-01)\n"
    "  --gate-acme-email E  ACME account contact\n"
    "  --gate-acme-dir DIR  where the ACME account key and certificate live\n"
    "  --gate-acme-ca FILE  CA bundle to trust the ACME server with\n"
    "  --retry              keep retrying even a refusal at the first connection (services)\n"
    "  --random-name        quick start: a random name instead of the one derived from the key\n"
    "  -v, --verbose        one line per stream\n"
    "  -q, --quiet          warnings and errors only\n"
    "  --config FILE        read options from FILE (default ~/.config/nexus/tunnel.conf)\n"
    "  -n, --check-config   check the options, maps, key and CA files, print a summary, exit\n"
    "  -h, --help           this help\n"
    "  -V, --version        print the version\n"
    "\n"
    "Every option can also be set as NEXUS_TUNNEL_<OPTION> in the environment.\n";

/* The vector nx_opts_expand() builds lives as long as the program (optarg points into
 * it); holding it here keeps it reachable for the leak checker. */
char **kept_args;

#define usage_error nx_usage_error

/* ~/.config/nexus/NAME into buf when that file exists; NULL otherwise (or without $HOME). */
static const char *home_file(const char *name, char *buf, size_t n)
{
	const char *home = getenv("HOME");
	if (!home || !*home)
		return NULL;
	int w = snprintf(buf, n, "%s/.config/nexus/%s", home, name);
	return w > 0 && (size_t)w < n && access(buf, F_OK) == 0 ? buf : NULL;
}

/* The everyday command is short: ~/.config/nexus/tunnel.conf is read as a --config file
 * when there is one and no --config is given. A new vector, or argv itself. */
static char **with_default_config(int *argc, char **argv)
{
	static char conf[4096];
	for (int i = 1; i < *argc; i++)
		if (strcmp(argv[i], "--config") == 0 || strncmp(argv[i], "--config=", 9) == 0)
			return argv;
	if (!home_file("tunnel.conf", conf, sizeof conf))
		return argv;
	static char **v; /* lives as long as the program, like kept_args */
	v = calloc((size_t)*argc + 3, sizeof *v);
	if (!v)
		return argv;
	v[0] = argv[0];
	v[1] = "--config";
	v[2] = conf;
	for (int i = 1; i < *argc; i++)
		v[i + 2] = argv[i];
	*argc += 2;
	return v;
}

struct args {
	struct nx_tunnel_cfg cfg;
	enum nx_log_level level;
	bool check;
	const char *key_file; /* --key: own private key, signs with its kid */
	char hostbuf[MAX_LIST][NX_HOSTNAME_MAX + 1];
	const char *hostnames[MAX_LIST];
	uint16_t ports[MAX_LIST];
	struct nx_tunnel_udp udp[MAX_LIST];
	struct nx_tunnel_route map[MAX_LIST];
	char **vec; /* the vector nx_opts_expand() built: optarg points into it */
	const char *gate_hosts[NX_GATE_MAX_HOSTS];
	struct nx_gate_cfg gate;
};

enum { O_GATE_HOST = 300, O_GATE_VKEY, O_GATE_CERT, O_GATE_CERT_KEY, O_GATE_REVOKE, O_GATE_MAXAGE, O_CONNECTIONS, O_MAX_PER_SOURCE,
       O_GATE_ACME, O_GATE_ACME_EMAIL, O_GATE_ACME_DIR, O_GATE_ACME_CA };

static const struct option lo[] = {
    {"hub", required_argument, 0, 'H'},         {"secret-file", required_argument, 0, 's'},
    {"key", required_argument, 0, 'k'},
    {"token-cmd", required_argument, 0, 'T'},   {"hostname", required_argument, 0, 'A'},
    {"tcp-port", required_argument, 0, 'p'},    {"to", required_argument, 0, 't'},
    {"udp-port", required_argument, 0, 'u'},
    {"map", required_argument, 0, 'm'},         {"exec", required_argument, 0, 'e'},
    {"cafile", required_argument, 0, 'c'},      {"servername", required_argument, 0, 'S'},
    {"name", required_argument, 0, 'N'},        {"weight", required_argument, 0, 'w'},
    {"ping", required_argument, 0, 'P'},        {"idle-timeout", required_argument, 0, 'I'},
    {"max-streams", required_argument, 0, 'M'}, {"retry", no_argument, 0, 'R'},
    {"random-name", no_argument, 0, 'D'},
    {"connections", required_argument, 0, O_CONNECTIONS},
    {"max-streams-per-source", required_argument, 0, O_MAX_PER_SOURCE},
    {"max-frame", required_argument, 0, 'F'},   {"proxy-protocol", required_argument, 0, 'X'},
    {"check-config", no_argument, 0, 'n'},     {"metrics", required_argument, 0, 'Z'},
    {"verbose", no_argument, 0, 'v'},           {"quiet", no_argument, 0, 'q'},
    {"config", required_argument, 0, 'C'},      {"help", no_argument, 0, 'h'},
    {"version", no_argument, 0, 'V'},
    {"gate-host", required_argument, 0, O_GATE_HOST},
    {"gate-verify-key", required_argument, 0, O_GATE_VKEY},
    {"gate-cert", required_argument, 0, O_GATE_CERT},
    {"gate-cert-key", required_argument, 0, O_GATE_CERT_KEY},
    {"gate-revocations", required_argument, 0, O_GATE_REVOKE},
    {"gate-revocations-max-age", required_argument, 0, O_GATE_MAXAGE},
    {"gate-acme-directory", required_argument, 0, O_GATE_ACME},
    {"gate-acme-email", required_argument, 0, O_GATE_ACME_EMAIL},
    {"gate-acme-dir", required_argument, 0, O_GATE_ACME_DIR},
    {"gate-acme-ca", required_argument, 0, O_GATE_ACME_CA},
    {0, 0, 0, 0}};

enum { PARSED = 0, PARSED_HELP = 1, PARSED_VERSION = 2, PARSE_USAGE = -1, PARSE_UNREADABLE = -2 };

static void args_free(void *mem)
{
	struct args *a = mem;
	if (a)
		nx_opts_free(a->vec);
	free(a);
}

/* Environment, --config FILE and argv into a (the usage checks included, nothing read
 * but the config file). Also what SIGHUP runs again. */
static int parse_args(int argc, char **argv, struct args *a, char *err, size_t errlen)
{
	struct nx_tunnel_cfg *cfg = &a->cfg;
	long long v;
	int c;
	char e[NX_ERRLEN];
#define BAD(name)                                                                       \
	do {                                                                                \
		snprintf(e, sizeof e, "%s", *err ? err : "must be more than 0");                \
		return nx_err(err, errlen, "%s: %s", name, e);                                  \
	} while (0)
	cfg->weight = 1;
	cfg->log = nx_log_sink;
	a->level = NX_LOG_INFO;
	int orc = nx_opts_expand(&argc, &argv, "NEXUS_TUNNEL_", lo, err, errlen);
	if (orc < 0)
		return orc == NX_OPTS_UNREADABLE ? PARSE_UNREADABLE : PARSE_USAGE;
	a->vec = argv;
	optind = 0; /* a full reset: SIGHUP parses again */
	while ((c = getopt_long(argc, argv, ":nvqhV", lo, NULL)) != -1) {
		switch (c) {
		case 'H': cfg->hub_url = optarg; break;
		case 's': cfg->secret_file = optarg; break;
		case 'k': a->key_file = optarg; break;
		case 'T': cfg->token_cmd = optarg; break;
		case 'A':
			if (cfg->n_hostnames == MAX_LIST)
				return nx_err(err, errlen, "too many --hostname options");
			if (nx_hostname_normalize(optarg, strlen(optarg), a->hostbuf[cfg->n_hostnames],
			                          sizeof a->hostbuf[0], NX_HOSTNAME_WILDCARD_OK, err,
			                          errlen) < 0)
				BAD("--hostname");
			a->hostnames[cfg->n_hostnames] = a->hostbuf[cfg->n_hostnames];
			cfg->n_hostnames++;
			break;
		case 'p':
			if (cfg->n_tcp_ports == MAX_LIST)
				return nx_err(err, errlen, "too many --tcp-port options");
			if (nx_parse_int(optarg, 1, 65535, &v, err, errlen) < 0)
				BAD("--tcp-port");
			a->ports[cfg->n_tcp_ports++] = (uint16_t)v;
			break;
		case 'u':
			if (cfg->n_udp == MAX_LIST)
				return nx_err(err, errlen, "too many --udp-port options");
			if (nx_tunnel_parse_udp(optarg, &a->udp[cfg->n_udp], err, errlen) < 0)
				BAD("--udp-port");
			for (size_t i = 0; i < cfg->n_udp; i++)
				if (a->udp[i].port == a->udp[cfg->n_udp].port)
					return nx_err(err, errlen, "--udp-port %u given twice", a->udp[i].port);
			cfg->n_udp++;
			break;
		case 't': cfg->to = optarg; break;
		case 'm':
			if (cfg->n_map == MAX_LIST)
				return nx_err(err, errlen, "too many --map options");
			if (nx_tunnel_parse_map(optarg, &a->map[cfg->n_map], err, errlen) < 0)
				return PARSE_USAGE;
			cfg->n_map++;
			break;
		case 'e': cfg->exec_cmd = optarg; break;
		case 'c': cfg->ca_file = optarg; break;
		case 'S': cfg->server_name = optarg; break;
		case 'N': cfg->name = optarg; break;
		case 'w':
			if (nx_parse_int(optarg, 1, 1000000, &v, err, errlen) < 0)
				BAD("--weight");
			cfg->weight = (int)v;
			break;
		case 'P':
			*err = 0;
			if (nx_parse_duration(optarg, &cfg->ping_ms, err, errlen) < 0 || !cfg->ping_ms)
				BAD("--ping");
			break;
		case 'I':
			*err = 0;
			if (nx_parse_duration(optarg, &cfg->idle_ms, err, errlen) < 0 || !cfg->idle_ms)
				BAD("--idle-timeout");
			break;
		case 'M':
			if (nx_parse_int(optarg, 1, 1000000, &v, err, errlen) < 0)
				BAD("--max-streams");
			cfg->max_streams = (size_t)v;
			break;
		case O_MAX_PER_SOURCE:
			if (nx_parse_int(optarg, 1, 1000000, &v, err, errlen) < 0)
				BAD("--max-streams-per-source");
			cfg->max_streams_per_source = (size_t)v;
			break;
		case O_CONNECTIONS:
			if (nx_parse_int(optarg, 1, NX_TUNNEL_MAX_CONNECTIONS, &v, err, errlen) < 0)
				BAD("--connections");
			cfg->connections = (size_t)v;
			break;
		case 'R': cfg->retry = true; break;
		case 'D': cfg->random_name = true; break;
		case 'F': {
			uint64_t b;
			if (nx_parse_size(optarg, &b, err, errlen) < 0)
				BAD("--max-frame");
			if (b < NX_TUNNEL_MAX_FRAME_MIN || b > NX_TUNNEL_MAX_FRAME_MAX)
				return nx_err(err, errlen, "--max-frame: %s is outside 32785 bytes .. 64MiB",
				              optarg);
			cfg->max_frame = (size_t)b;
			break;
		}
		case 'X': {
			int pv = nx_proxy_version_parse(optarg);
			if (pv < 0)
				return nx_err(err, errlen, "--proxy-protocol: '%s' is not v1, v2 or none",
				              optarg);
			cfg->proxy = (enum nx_proxy_version)pv;
			break;
		}
		case 'Z':
			if (nx_hostport_check(optarg, e, sizeof e) < 0)
				return nx_err(err, errlen, "--metrics: %s", e);
			cfg->metrics_addr = optarg;
			break;
		case O_GATE_HOST:
			if (a->gate.n_hosts == NX_GATE_MAX_HOSTS)
				return nx_err(err, errlen, "too many --gate-host options");
			a->gate_hosts[a->gate.n_hosts++] = optarg;
			break;
		case O_GATE_VKEY: a->gate.verify_key = optarg; break;
		case O_GATE_CERT: a->gate.cert = optarg; break;
		case O_GATE_CERT_KEY: a->gate.cert_key = optarg; break;
		case O_GATE_ACME:
			if (strncmp(optarg, "https://", 8) != 0 && strncmp(optarg, "http://127.", 11) != 0)
				return nx_err(err, errlen, "--gate-acme-directory: '%s' is not an https:// URL",
				              optarg);
			a->gate.acme_directory = optarg;
			break;
		case O_GATE_ACME_EMAIL: a->gate.acme_email = optarg; break;
		case O_GATE_ACME_DIR: a->gate.acme_dir = optarg; break;
		case O_GATE_ACME_CA: a->gate.acme_ca = optarg; break;
		case O_GATE_REVOKE:
			if (strncmp(optarg, "http://", 7) != 0 && strncmp(optarg, "https://", 8) != 0)
				return nx_err(err, errlen, "--gate-revocations: '%s' is not an http(s):// URL",
				              optarg);
			a->gate.revocations_url = optarg;
			break;
		case O_GATE_MAXAGE: {
			uint64_t ms;
			char why[NX_ERRLEN];
			if (nx_parse_duration(optarg, &ms, why, sizeof why) < 0)
				return nx_err(err, errlen, "--gate-revocations-max-age: %s", why);
			if (ms < 3000 || ms > 86400000)
				return nx_err(err, errlen,
				              "--gate-revocations-max-age: want 3s to 24h, not '%s'", optarg);
			a->gate.revocations_max_age_s = (int)(ms / 1000);
			break;
		}
		case 'n': a->check = true; break;
		case 'v': a->level = NX_LOG_DEBUG; break;
		case 'q': a->level = NX_LOG_WARN; break;
		case 'C': break;
		case 'h': return PARSED_HELP;
		case 'V': return PARSED_VERSION;
		default: return nx_getopt_error(c, argv, err, errlen);
		}
	}
	if (optind != argc)
		return nx_err(err, errlen, "unexpected argument '%s'", argv[optind]);
	if (!cfg->hub_url)
		return nx_err(err, errlen, "--hub URL is required");
	struct nx_hub_url url;
	if (nx_tunnel_parse_url(cfg->hub_url, &url, e, sizeof e) < 0)
		return nx_err(err, errlen, "--hub: %s", e);
	static char default_key[4096];
	if (!cfg->secret_file && !cfg->token_cmd && !a->key_file)
		a->key_file = home_file("id.key", default_key, sizeof default_key);
	if ((cfg->secret_file != NULL) + (cfg->token_cmd != NULL) + (a->key_file != NULL) != 1)
		return nx_err(err, errlen, "give exactly one of --secret-file and --token-cmd (or --key)");
	if (a->key_file) {
		struct nx_key *k;
		if (nx_key_load_file(a->key_file, &k, err, errlen) < 0)
			return PARSE_UNREADABLE;
		int pair = nx_key_type(k) != NX_KEY_HMAC && nx_key_can_sign(k);
		nx_key_free(k);
		if (!pair)
			return nx_err(err, errlen, "--key: %s is not a private key (ES256 or RS256)",
			              a->key_file);
		cfg->secret_file = a->key_file;
	}
	if (!cfg->n_hostnames && !cfg->n_tcp_ports && !cfg->n_udp && !a->key_file)
		return nx_err(err, errlen, "nothing to serve: give --hostname NAME or --tcp-port N "
		              "(or --key FILE: the hub assigns a name)");
	if (cfg->random_name && (cfg->n_hostnames || cfg->n_tcp_ports || cfg->n_udp || !a->key_file))
		return nx_err(err, errlen, "--random-name asks the hub for a name: it goes with --key and "
		              "without --hostname or --tcp-port");
	if (cfg->exec_cmd && (cfg->to || cfg->n_map))
		return nx_err(err, errlen, "--exec cannot be combined with --to or --map");
	if (!cfg->exec_cmd && !cfg->to && !cfg->n_map &&
	    (cfg->n_hostnames || cfg->n_tcp_ports || !cfg->n_udp))
		return nx_err(err, errlen,
		              "no target: give --to HOST:PORT, --map KEY=HOST:PORT or --exec CMD");
	if (cfg->to) {
		char host[256];
		uint16_t port;
		if (nx_split_hostport(cfg->to, host, sizeof host, &port, NULL, 0) < 0 || !port)
			return nx_err(err, errlen, "--to: bad address %s", cfg->to);
	}
	int acme = a->gate.acme_directory != NULL;
	if (!a->gate.n_hosts != !a->gate.verify_key ||
	    (!acme && (!a->gate.n_hosts != !a->gate.cert || !a->gate.n_hosts != !a->gate.cert_key)))
		return nx_err(err, errlen, "the gate needs --gate-host, --gate-verify-key, --gate-cert "
		              "and --gate-cert-key together (or --gate-acme-directory for the certificate)");
	if (!a->gate.cert != !a->gate.cert_key)
		return nx_err(err, errlen, "--gate-cert and --gate-cert-key go together");
	if (acme && (!a->gate.n_hosts || !a->gate.acme_dir))
		return nx_err(err, errlen, "--gate-acme-directory needs --gate-host and --gate-acme-dir");
	if (!acme && (a->gate.acme_email || a->gate.acme_dir || a->gate.acme_ca))
		return nx_err(err, errlen, "--gate-acme-email, --gate-acme-dir and --gate-acme-ca go "
		              "with --gate-acme-directory");
	if (a->gate.revocations_max_age_s && !a->gate.revocations_url)
		return nx_err(err, errlen, "--gate-revocations-max-age needs --gate-revocations");
	if (a->gate.revocations_url && !a->gate.n_hosts)
		return nx_err(err, errlen, "--gate-revocations needs --gate-host");
	if (a->gate.n_hosts && cfg->exec_cmd)
		return nx_err(err, errlen, "--gate-host cannot be combined with --exec");
	a->gate.hosts = a->gate_hosts;
	cfg->hostnames = a->hostnames;
	cfg->tcp_ports = a->ports;
	cfg->udp = a->udp;
	cfg->map = a->map;
	return PARSED;
#undef BAD
}

/* SIGHUP: the same arguments, the config file and environment as they are now; only the
 * targets are taken (lib/tunnel says so in its log). The old vector stays alive while
 * streams may still point into it: lib/tunnel frees it through args_free. */
static int saved_argc;
static char **saved_argv;
static struct args *running;

static int reload(void *arg, struct nx_tunnel_targets *out, char *err, size_t errlen)
{
	struct args *n = calloc(1, sizeof *n);
	if (!n)
		return nx_err(err, errlen, "out of memory");
	int r = parse_args(saved_argc, saved_argv, n, err, errlen);
	if (r != PARSED) {
		if (r > 0)
			nx_err(err, errlen, "--help / --version in the configuration");
		args_free(n);
		return -1;
	}
	if (!n->cfg.exec_cmd != !running->cfg.exec_cmd) {
		args_free(n);
		return nx_err(err, errlen, "switching between --exec and --to/--map needs a restart");
	}
	out->map = n->map;
	out->n_map = n->cfg.n_map;
	out->to = n->cfg.to;
	out->proxy = n->cfg.proxy;
	out->mem = n;
	out->free_mem = args_free;
	return 0;
}

int main(int argc, char **argv)
{
	static struct args a;
	char err[NX_ERRLEN], self[256], line[900];

	nx_log_setup("nexus-tunnel", NX_LOG_PLAIN, NX_LOG_INFO);
	argv = with_default_config(&argc, argv);
	saved_argc = argc;
	saved_argv = argv;
	running = &a;
	int r = parse_args(argc, argv, &a, err, sizeof err);
	kept_args = a.vec;
	if (r == PARSE_UNREADABLE)
		return nx_opts_fail(NX_OPTS_UNREADABLE, err);
	if (r < 0)
		return usage_error("%s", err);
	if (r == PARSED_HELP) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (r == PARSED_VERSION) {
		nx_print_version("nexus-tunnel");
		return 0;
	}
	struct nx_tunnel_cfg *cfg = &a.cfg;
	if (cfg->secret_file && access(cfg->secret_file, R_OK) != 0) {
		nx_say("cannot read %s: %s", cfg->secret_file, strerror(errno));
		return 1;
	}
	if (cfg->secret_file && nx_file_is_loose(cfg->secret_file))
		nx_say("warning: %s is readable by group or others", cfg->secret_file);
	if (!cfg->name) {
		if (gethostname(self, sizeof self) < 0 || !self[0])
			snprintf(self, sizeof self, "nexus-tunnel");
		self[sizeof self - 1] = 0;
		cfg->name = self;
	}
	/* before the gate: its threads log from the start */
	nx_log_setup("nexus-tunnel", NX_LOG_PLAIN, a.level);
	static struct nx_gate *gate; /* lives as long as the program, like kept_args */
	if (a.gate.n_hosts) {
		a.gate.log = nx_log_sink;
		a.gate.check_only = a.check;
		if (!(gate = nx_gate_new(&a.gate, err, sizeof err))) {
			nx_say("%s", err);
			return 1;
		}
		cfg->stream_hook = nx_gate_hook;
		cfg->stream_hook_arg = gate;
	}
	if (a.check) {
		if (nx_tunnel_check(cfg, err, sizeof err) < 0) {
			nx_say("%s", err);
			return 1;
		}
		nx_tunnel_describe(cfg, line, sizeof line);
		printf("nexus-tunnel: configuration OK: %s\n", line);
		return 0;
	}
	cfg->reload = reload;
	if (nx_tunnel_run(cfg, err, sizeof err) < 0) {
		nx_say("%s", err);
		return 1;
	}
	return 0; /* the gate's threads may still run: it is not freed */
}
