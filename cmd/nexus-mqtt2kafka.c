/* nexus-mqtt2kafka — device telemetry from MQTT into Kafka, nothing lost.
 * Options and signals here; the engine is lib/bridge.c, the rules lib/mqttmap.c. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "bridge/bridge.h"
#include "bridge/kafkaprops.h"
#include "core/log.h"
#include "bridge/mqttmap.h"
#include "core/opts.h"
#include "core/sock.h"
#include "core/units.h"
#include "core/util.h"

#define MAX_RULES 64
#define MAX_PROPS 128

static const char usage[] =
    "usage: nexus-mqtt2kafka --mqtt mqtt[s]://HOST[:PORT] --kafka BROKERS\n"
    "                        --map 'FILTER=KAFKA_TOPIC[,key=EXPR]'... [options]\n"
    "  --mqtt URL               MQTT broker (mqtts:// for TLS)\n"
    "  --cafile FILE            CA bundle to trust the broker with (default: the system's)\n"
    "  --cert FILE              client certificate (mutual TLS)\n"
    "  --key FILE               its private key\n"
    "  --client-id ID           MQTT client id of the persistent session (default: nexus-mqtt2kafka-HOSTNAME)\n"
    "  --username U             MQTT user name\n"
    "  --password-file FILE     MQTT password (or $NEXUS_MQTT2KAFKA_PASSWORD)\n"
    "  --mqtt-version V         3.1.1 or 5 (default 5)\n"
    "  --keepalive DUR          MQTT keepalive (default 60s)\n"
    "  --session-expiry DUR     MQTT 5 session expiry (default 7d)\n"
    "  --receive-max N          MQTT 5 in-flight messages the broker may send (default 100)\n"
    "  --kafka BROKERS          Kafka bootstrap servers, host:port[,host:port...]\n"
    "  --map RULE               FILTER=KAFKA_TOPIC[,key=+|+N|#|topic|none]; repeatable, first match wins\n"
    "  -X NAME=VALUE            librdkafka property (repeatable); NAME=@FILE reads the value from FILE, as secrets must be (or $NEXUS_MQTT2KAFKA_X_NAME)\n"
    "  --spool DIR              spool directory (default $STATE_DIRECTORY or /var/lib/nexus-mqtt2kafka)\n"
    "  --spool-max SIZE         spool cap; MQTT intake pauses there (default 1GiB)\n"
    "  --fsync                  fdatasync every message before it is acknowledged (power-loss safe)\n"
    "  --stats-interval DUR     stats period for -v and sd_notify STATUS= (default 10s)\n"
    "  --drain-timeout DUR      on SIGTERM, wait this long for Kafka (default 10s)\n"
    "  --connect-timeout DUR    first MQTT connection (default 10s)\n"
    "  --metrics HOST:PORT      serve GET /metrics there (Prometheus; a local address)\n"
    "  -v, --verbose            periodic stats on stderr; twice: debug\n"
    "  --config FILE            read options from FILE (one 'name value' per line)\n"
    "  -h, --help               this help\n"
    "  -V, --version            print the version\n"
    "\n"
    "Every option can also be set as NEXUS_MQTT2KAFKA_<OPTION> in the environment.\n";

static volatile sig_atomic_t got_usr1;
static volatile int got_term; /* also read by the library to abandon a replay */
char **expanded_argv;
static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = 1;
}

#define usage_error nx_usage_error

static void stats_line(struct nx_bridge *b, int to_stderr)
{
	struct nx_bridge_stats s;
	nx_bridge_get_stats(b, &s);
	char line[512];
	snprintf(line, sizeof line,
	         "received=%llu delivered=%llu dropped=%llu unmatched=%llu replayed=%llu "
	         "pending=%llu kafka_queue=%d spool_bytes=%llu spool_segments=%u waits=%llu "
	         "mqtt=%s reconnects=%llu",
	         (unsigned long long)s.received, (unsigned long long)s.delivered,
	         (unsigned long long)s.dropped, (unsigned long long)s.unmatched,
	         (unsigned long long)s.replayed, (unsigned long long)s.spool_pending, s.kafka_queue,
	         (unsigned long long)s.spool_bytes, s.spool_segments, (unsigned long long)s.waits,
	         s.mqtt_up ? "up" : "down", (unsigned long long)s.reconnects);
	if (to_stderr)
		nx_log(NX_LOG_INFO, "stats", "%s", line);
	sd_notifyf(0, "STATUS=%s", line);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"mqtt", required_argument, 0, 'm'},      {"cafile", required_argument, 0, 'A'},
	    {"cert", required_argument, 0, 'C'},      {"key", required_argument, 0, 'K'},
	    {"client-id", required_argument, 0, 'i'}, {"username", required_argument, 0, 'u'},
	    {"password-file", required_argument, 0, 'P'},
	    {"mqtt-version", required_argument, 0, 256},
	    {"keepalive", required_argument, 0, 'k'}, {"session-expiry", required_argument, 0, 'e'},
	    {"receive-max", required_argument, 0, 'r'}, {"kafka", required_argument, 0, 'b'},
	    {"map", required_argument, 0, 'M'},       {"spool", required_argument, 0, 's'},
	    {"spool-max", required_argument, 0, 'S'}, {"fsync", no_argument, 0, 'f'},
	    {"stats-interval", required_argument, 0, 'I'},
	    {"drain-timeout", required_argument, 0, 'D'},
	    {"connect-timeout", required_argument, 0, 'T'},
	    {"metrics", required_argument, 0, 257},
	    {"verbose", no_argument, 0, 'v'},         {"config", required_argument, 0, 'c'},
	    {"help", no_argument, 0, 'h'},            {"version", no_argument, 0, 'V'},
	    {0, 0, 0, 0}};
	char err[NX_ERRLEN * 2];
	nx_log_setup("nexus-mqtt2kafka", NX_LOG_LOGFMT, NX_LOG_INFO);
	int orc = nx_opts_expand(&argc, &argv, "NEXUS_MQTT2KAFKA_", lo, err, sizeof err);
	if (orc < 0)
		return nx_opts_fail(orc, err);
	expanded_argv = argv; /* lives as long as the process: reachable, not a leak */
	static struct nx_map_rule rules[MAX_RULES];
	static char *props[MAX_PROPS];
	struct nx_bridge_config c = {
	    .mqtt_version = 5, .keepalive_s = 60, .session_expiry_s = 7 * 86400, .receive_max = 100,
	    .connect_timeout_ms = 10000, .rules = rules,
	    .spool = {.max_bytes = 1ull << 30}, .on_event = nx_log_sink,
	};
	const char *mqtt_url = NULL, *password_file = NULL, *metrics_addr = NULL;
	uint64_t stats_ms = 10000, drain_ms = 10000, v;
	int verbose = 0, nrules = 0, nprops = 0, opt;
	while ((opt = getopt_long(argc, argv, ":X:vhV", lo, NULL)) != -1) {
		switch (opt) {
		case 'm': mqtt_url = optarg; break;
		case 'A': c.cafile = optarg; break;
		case 'C': c.certfile = optarg; break;
		case 'K': c.keyfile = optarg; break;
		case 'i': c.client_id = optarg; break;
		case 'u': c.username = optarg; break;
		case 'P': password_file = optarg; break;
		case 256:
			if (!strcmp(optarg, "5"))
				c.mqtt_version = 5;
			else if (!strcmp(optarg, "3.1.1") || !strcmp(optarg, "311") || !strcmp(optarg, "4"))
				c.mqtt_version = 4;
			else
				return usage_error("--mqtt-version: want 3.1.1 or 5, not '%s'", optarg);
			break;
		case 'k':
			if (nx_parse_duration(optarg, &v, err, sizeof err) < 0 || v < 5000 || v > 65535000)
				return usage_error("--keepalive: want 5s to 65535s, got '%s'", optarg);
			c.keepalive_s = (int)(v / 1000);
			break;
		case 'e':
			if (nx_parse_duration(optarg, &v, err, sizeof err) < 0 || v / 1000 > 0xFFFFFFFFull)
				return usage_error("--session-expiry: bad duration '%s'", optarg);
			c.session_expiry_s = (uint32_t)(v / 1000);
			break;
		case 'r': {
			long long n;
			if (nx_parse_int(optarg, 1, 65535, &n, err, sizeof err) < 0)
				return usage_error("--receive-max: %s", err);
			c.receive_max = (int)n;
			break;
		}
		case 'b': c.kafka_brokers = optarg; break;
		case 'M':
			if (nrules == MAX_RULES)
				return usage_error("too many --map rules (at most %d)", MAX_RULES);
			if (nx_map_rule_parse(optarg, strlen(optarg), &rules[nrules], err, sizeof err) < 0)
				return usage_error("--map '%s': %s", optarg, err);
			nrules++;
			break;
		case 'X':
			if (nprops == MAX_PROPS)
				return usage_error("too many -X properties (at most %d)", MAX_PROPS);
			props[nprops++] = optarg;
			break;
		case 's': c.spool.dir = optarg; break;
		case 'S':
			if (nx_parse_size(optarg, &c.spool.max_bytes, err, sizeof err) < 0 || c.spool.max_bytes < 65536)
				return usage_error("--spool-max: want a size of at least 64KiB, got '%s'", optarg);
			break;
		case 'f': c.spool.fsync = 1; break;
		case 'I':
			if (nx_parse_duration(optarg, &stats_ms, err, sizeof err) < 0 || stats_ms < 100)
				return usage_error("--stats-interval: want at least 100ms, got '%s'", optarg);
			break;
		case 'D':
			if (nx_parse_duration(optarg, &drain_ms, err, sizeof err) < 0)
				return usage_error("--drain-timeout: %s", err);
			break;
		case 'T':
			if (nx_parse_duration(optarg, &c.connect_timeout_ms, err, sizeof err) < 0)
				return usage_error("--connect-timeout: %s", err);
			break;
		case 257:
			if (nx_hostport_check(optarg, err, sizeof err) < 0)
				return usage_error("--metrics: %s", err);
			metrics_addr = optarg;
			break;
		case 'v': verbose++; break;
		case 'c': break; /* expanded by nx_opts_expand */
		case 'h': fputs(usage, stdout); return 0;
		case 'V': nx_print_version("nexus-mqtt2kafka"); return 0;
		default: return nx_usage_getopt(opt, argv);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!mqtt_url)
		return usage_error("--mqtt URL is required");
	if (!c.kafka_brokers)
		return usage_error("--kafka BROKERS is required");
	if (nrules == 0)
		return usage_error("at least one --map RULE is required");
	if (nx_mqtt_url_parse(mqtt_url, &c.mqtt, err, sizeof err) < 0)
		return usage_error("--mqtt: %s", err);
	if (!c.mqtt.tls && (c.cafile || c.certfile || c.keyfile))
		return usage_error("--cafile/--cert/--key need an mqtts:// URL");
	if (!c.certfile != !c.keyfile)
		return usage_error("--cert and --key go together");
	if (nx_kafka_props_check_argv(props, nprops, err, sizeof err) < 0)
		return usage_error("-X %s", err);
	if (nx_kafka_props_load(props, nprops, &c.kafka_props, &c.nkafka_props, MAX_PROPS, getenv,
	                        err, sizeof err) < 0) {
		nx_say("%s", err);
		return 1;
	}
	if (nx_bridge_kafka_check(c.kafka_props, c.nkafka_props, err, sizeof err) < 0)
		return usage_error("-X: %s", err);
	c.nrules = nrules;
	if (!c.spool.dir)
		c.spool.dir = getenv("STATE_DIRECTORY") ? getenv("STATE_DIRECTORY") : "/var/lib/nexus-mqtt2kafka";
	c.spool.segment_bytes = c.spool.max_bytes / 16 < (64u << 20) ? c.spool.max_bytes / 16 : (64u << 20);
	char idbuf[300];
	if (!c.client_id) {
		char host[256] = "localhost";
		gethostname(host, sizeof host - 1);
		snprintf(idbuf, sizeof idbuf, "nexus-mqtt2kafka-%s", host);
		c.client_id = idbuf;
	}
	char *password = NULL;
	size_t pwlen = 0;
	if (password_file) {
		if (nx_read_file(password_file, 4096, &password, &pwlen, err, sizeof err) < 0) {
			nx_say("--password-file: %s", err);
			return 1;
		}
		while (pwlen && (password[pwlen - 1] == '\n' || password[pwlen - 1] == '\r'))
			password[--pwlen] = '\0';
		c.password = password;
	} else {
		c.password = getenv("NEXUS_MQTT2KAFKA_PASSWORD");
	}
	nx_log_setup("nexus-mqtt2kafka", NX_LOG_LOGFMT, verbose >= 2 ? NX_LOG_DEBUG : NX_LOG_INFO);

	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct nx_bridge *b = NULL;
	struct nx_bridge_metrics *metrics = NULL;
	int rc = 0, started = 0;
	c.interrupt = &got_term;
	if (metrics_addr) {
		if (!(metrics = nx_bridge_metrics_start(metrics_addr, err, sizeof err))) {
			char q[sizeof err + 8];
			nx_error("cannot serve --metrics", "error=%s", nx_log_q(q, sizeof q, err));
			if (password)
				nx_free_secret(password, pwlen);
			nx_kafka_props_free(c.kafka_props, c.nkafka_props);
			return 1;
		}
		nx_info("metrics", "url=http://%s/metrics", nx_bridge_metrics_addr(metrics));
	}
	int st = nx_bridge_start(&b, &c, err, sizeof err);
	if (st < 0) {
		char q[sizeof err + 8];
		nx_error("cannot start", "error=%s", nx_log_q(q, sizeof q, err));
		rc = 1;
	} else if (st > 0) {
		nx_info("stopped during the spool replay; the rest stays in the spool", NULL);
	} else {
		started = 1;
		nx_bridge_metrics_attach(metrics, b);
		char q[300];
		nx_info("running", "mqtt=%s:%d kafka=%s rules=%d spool=%s", c.mqtt.host, c.mqtt.port,
		        nx_log_q(q, sizeof q, c.kafka_brokers), nrules, c.spool.dir);
		sd_notify(0, "READY=1");
		uint64_t next = nx_now_ms() + stats_ms;
		while (!got_term) {
			if (nx_bridge_poll(b, 100, err, sizeof err) < 0) {
				char q[sizeof err + 8];
				nx_error("stopping", "error=%s", nx_log_q(q, sizeof q, err));
				rc = 1;
				break;
			}
			if (got_usr1 || nx_now_ms() >= next) {
				stats_line(b, verbose || got_usr1);
				got_usr1 = 0;
				next = nx_now_ms() + stats_ms;
			}
		}
		sd_notify(0, "STOPPING=1");
	}
	nx_bridge_metrics_stop(metrics);
	if (b) {
		uint64_t left = 0;
		nx_bridge_stop(b, drain_ms, &left);
		if (started)
			stats_line(b, verbose);
		if (started && left)
			nx_warn("stopped with messages Kafka has not confirmed; they stay in the spool for the next start",
			        "pending=%llu", (unsigned long long)left);
		else if (started)
			nx_info("stopped", "pending=0");
	}
	nx_bridge_free(b);
	nx_kafka_props_free(c.kafka_props, c.nkafka_props);
	if (password)
		nx_free_secret(password, pwlen);
	return rc;
}
