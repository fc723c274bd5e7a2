/* nexus-agent — the device side of MQTT: telemetry, commands with acknowledgements, at most
 * once per command id; `nexus-agent send` drives a device from a shell.
 * Options and signals here; the engine is lib/agent/. */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "agent/agent.h"
#include "agent/command.h"
#include "agent/identity.h"
#include "core/log.h"
#include "core/opts.h"
#include "core/random.h"
#include "core/units.h"
#include "core/util.h"

/* help lines both usages share (the text is the same in both places) */
#define SEND_SYNOPSIS                                                                              \
	"nexus-agent send --mqtt URL --device ID [--id ID] [--wait DUR] [--json] COMMAND [ARGS-JSON]\n"
#define BROKER_OPTS                                                                                \
	"  --mqtt URL               MQTT broker (mqtts:// for TLS)\n"                                 \
	"  --cafile FILE            CA certificate to trust the broker by\n"
#define KEY_OPT "  --key FILE               the client certificate's key\n"
#define SEND_OPTS                                                                                  \
	"  --id ID                  command id (default: a random UUID)\n"                            \
	"  --wait DUR               how long to wait for the ack (default 30s)\n"                     \
	"  --json                   print the whole ack instead of its output\n"
#define COMMON_TAIL                                                                                \
	"  --config FILE            options from FILE, one 'name value' per line\n"                   \
	"  -h, --help               this help\n"                                                      \
	"  -V, --version            print the version\n"

static const char usage[] =
    "usage: nexus-agent --mqtt mqtt[s]://HOST[:PORT] [--cert F --key F] [--device ID] [options]\n"
    "       " SEND_SYNOPSIS
    BROKER_OPTS
    "  --cert FILE              client certificate (mutual TLS; its CN is the device id)\n"
    KEY_OPT
    "  --device ID              device id: topics device/ID/..., MQTT client id (default: the --cert CN)\n"
    "  --interval DUR           telemetry period (default 10s)\n"
    "  --telemetry-cmd CMD      publish CMD's stdout (one JSON object) instead of the built-in telemetry\n"
    "  --handlers DIR           commands run as DIR/<command> (default: none, all unknown)\n"
    "  --timeout DUR            a handler's time limit, then TERM (default 30s)\n"
    "  --kill-after DUR         TERM to KILL (default 5s)\n"
    "  --max-running N          handlers at once (default 4)\n"
    "  --max-queued N           commands waiting for a slot; more are answered busy (default 16)\n"
    "  --max-output SIZE        handler stdout kept in the ack; more is an error (default 64KiB)\n"
    "  --journal FILE           command journal (default $STATE_DIRECTORY/journal or /var/lib/nexus-agent/journal)\n"
    "  --keepalive DUR          MQTT keepalive (default 60s)\n"
    "  -v, --verbose            debug log lines\n"
    COMMON_TAIL
    "send:\n"
    SEND_OPTS;

static const char send_usage[] =
    "usage: " SEND_SYNOPSIS
    "Send COMMAND (with ARGS-JSON, its JSON arguments) to device ID, print the ack's output;\n"
    "the exit status follows the ack's status (ok: 0; see nexus-agent(1)).\n"
    BROKER_OPTS
    "  --cert FILE              client certificate (mutual TLS)\n"
    KEY_OPT
    "  --device ID              the device to command\n"
    SEND_OPTS
    COMMON_TAIL;

#define usage_error nx_usage_error

static void notify_ready(void *ctx) { sd_notify(0, "READY=1"); }
static void notify_status(void *ctx, const char *status) { sd_notifyf(0, "STATUS=%s", status); }

static volatile int got_term;
static void on_signal(int sig) { got_term = 1; }
char **expanded_argv; /* lives as long as the process */

enum { O_MQTT = 256, O_CAFILE, O_CERT, O_KEY, O_DEVICE, O_INTERVAL, O_TCMD, O_HANDLERS,
       O_TIMEOUT, O_KILL, O_MAXRUN, O_MAXQ, O_MAXOUT, O_JOURNAL, O_KEEPALIVE, O_CONFIG,
       O_ID, O_WAIT, O_JSON };

#define COMMON_OPTS                                                                      \
	{"mqtt", required_argument, 0, O_MQTT}, {"cafile", required_argument, 0, O_CAFILE}, \
	{"cert", required_argument, 0, O_CERT}, {"key", required_argument, 0, O_KEY},       \
	{"device", required_argument, 0, O_DEVICE}, {"config", required_argument, 0, O_CONFIG}, \
	{"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'}

struct common {
	const char *url, *cafile, *cert, *key, *device;
	struct nx_mqtt_url mqtt;
};

static int common_opt(struct common *c, int opt)
{
	switch (opt) {
	case O_MQTT: c->url = optarg; return 1;
	case O_CAFILE: c->cafile = optarg; return 1;
	case O_CERT: c->cert = optarg; return 1;
	case O_KEY: c->key = optarg; return 1;
	case O_DEVICE: c->device = optarg; return 1;
	case O_CONFIG: return 1; /* expanded by nx_opts_expand */
	}
	return 0;
}

/* device_from_cert: --device may be left out (it will come from the certificate's CN). */
static int common_check(struct common *c, int device_from_cert)
{
	char err[NX_ERRLEN];
	if (!c->url)
		return usage_error("--mqtt URL is required");
	if (!c->device && !(device_from_cert && c->cert))
		return usage_error("--device ID is required (or --cert, whose CN is the id)");
	if (nx_mqtt_url_parse(c->url, &c->mqtt, err, sizeof err) < 0)
		return usage_error("--mqtt: %s", err);
	if (c->device && !nx_device_id_ok(c->device))
		return usage_error("--device '%s': want 1 to %d of [A-Za-z0-9._-], not starting with '.'",
		                   c->device, NX_DEVICE_ID_MAX);
	if (!c->mqtt.tls && (c->cafile || c->cert || c->key))
		return usage_error("--cafile/--cert/--key need an mqtts:// URL");
	if (!c->cert != !c->key)
		return usage_error("--cert and --key go together");
	if (c->mqtt.tls && !c->cafile)
		return usage_error("mqtts:// needs --cafile");
	return 0;
}

static int duration_opt(const char *name, const char *s, uint64_t min, uint64_t *out)
{
	char err[NX_ERRLEN];
	if (nx_parse_duration(s, out, err, sizeof err) < 0 || *out < min)
		return usage_error("%s: want a duration of at least %llums, got '%s'", name,
		                   (unsigned long long)min, s);
	return 0;
}

static int count_opt(const char *name, const char *s, long long lo, long long hi, int *out)
{
	char err[NX_ERRLEN];
	long long n;
	if (nx_parse_int(s, lo, hi, &n, err, sizeof err) < 0)
		return usage_error("%s: %s", name, err);
	*out = (int)n;
	return 0;
}

static int main_send(int argc, char **argv)
{
	static const struct option lo[] = {COMMON_OPTS,
	    {"id", required_argument, 0, O_ID}, {"wait", required_argument, 0, O_WAIT},
	    {"json", no_argument, 0, O_JSON}, {0, 0, 0, 0}};
	char err[NX_ERRLEN * 2];
	int orc = nx_opts_expand(&argc, &argv, "NEXUS_AGENT_", lo, err, sizeof err);
	if (orc < 0)
		return nx_opts_fail(orc, err);
	expanded_argv = argv;
	struct common cm = {0};
	struct nx_send_config c = {.wait_ms = 30000, .on_event = nx_log_sink};
	int json_out = 0, opt;
	char idbuf[NX_UUID_TEXT_LEN + 1];
	while ((opt = getopt_long(argc, argv, "+:hV", lo, NULL)) != -1) {
		if (common_opt(&cm, opt))
			continue;
		switch (opt) {
		case O_ID: c.id = optarg; break;
		case O_WAIT:
			if (duration_opt("--wait", optarg, 100, &c.wait_ms))
				return 2;
			break;
		case O_JSON: json_out = 1; break;
		case 'h': fputs(send_usage, stdout); return 0;
		case 'V': nx_print_version("nexus-agent"); return 0;
		default: return nx_usage_getopt(opt, argv);
		}
	}
	int rc = common_check(&cm, 0);
	if (rc)
		return rc;
	if (optind >= argc)
		return usage_error("send: which COMMAND?");
	if (argc - optind > 2)
		return usage_error("send: unexpected argument '%s'", argv[optind + 2]);
	c.command = argv[optind];
	c.args_json = optind + 1 < argc ? argv[optind + 1] : NULL;
	if (!nx_cmd_name_ok(c.command, strlen(c.command)))
		return usage_error("send: command name '%s' not allowed (want [A-Za-z0-9._-], not starting with '.')",
		                   c.command);
	if (c.args_json) {
		json_error_t je;
		json_t *j = json_loads(c.args_json, JSON_DECODE_ANY, &je);
		if (!j)
			return usage_error("send: ARGS-JSON is not JSON: %s", je.text);
		json_decref(j);
	}
	if (c.id && (!c.id[0] || strlen(c.id) > NX_CMD_ID_MAX))
		return usage_error("--id: want 1 to %d bytes", NX_CMD_ID_MAX);
	if (!c.id) {
		if (nx_random_uuid4(NULL, idbuf, err, sizeof err) < 0) {
			nx_say("%s", err);
			return 1;
		}
		c.id = idbuf;
	}
	c.mqtt = cm.mqtt;
	c.cafile = cm.cafile;
	c.certfile = cm.cert;
	c.keyfile = cm.key;
	c.device = cm.device;
	char *ack = NULL;
	if (nx_agent_send(&c, &ack, err, sizeof err) < 0) {
		nx_say("%s", err);
		return 1;
	}
	json_t *a = json_loads(ack, 0, NULL);
	json_t *st = json_object_get(a, "status"), *out = json_object_get(a, "output");
	const char *status = json_is_string(st) ? json_string_value(st) : "invalid";
	if (json_out)
		printf("%s\n", ack);
	else if (json_is_string(out))
		fwrite(json_string_value(out), 1, json_string_length(out), stdout);
	if (strcmp(status, "ok") != 0)
		nx_say("device %s: %s: %s", c.device, c.command, status);
	rc = nx_cmd_status_exit(status);
	json_decref(a);
	free(ack);
	return rc;
}

int main(int argc, char **argv)
{
	nx_log_setup("nexus-agent", NX_LOG_PLAIN, NX_LOG_INFO);
	if (argc > 1 && !strcmp(argv[1], "send"))
		return main_send(argc - 1, argv + 1);
	static const struct option lo[] = {COMMON_OPTS,
	    {"interval", required_argument, 0, O_INTERVAL},
	    {"telemetry-cmd", required_argument, 0, O_TCMD},
	    {"handlers", required_argument, 0, O_HANDLERS},
	    {"timeout", required_argument, 0, O_TIMEOUT},
	    {"kill-after", required_argument, 0, O_KILL},
	    {"max-running", required_argument, 0, O_MAXRUN},
	    {"max-queued", required_argument, 0, O_MAXQ},
	    {"max-output", required_argument, 0, O_MAXOUT},
	    {"journal", required_argument, 0, O_JOURNAL},
	    {"keepalive", required_argument, 0, O_KEEPALIVE},
	    {"verbose", no_argument, 0, 'v'},
	    {0, 0, 0, 0}};
	char err[NX_ERRLEN * 2];
	int orc = nx_opts_expand(&argc, &argv, "NEXUS_AGENT_", lo, err, sizeof err);
	if (orc < 0)
		return nx_opts_fail(orc, err);
	expanded_argv = argv;
	struct common cm = {0};
	struct nx_agent_config c = {
	    .version = NEXUS_VERSION, .interval_ms = 10000, .timeout_ms = 30000, .grace_ms = 5000,
	    .max_running = 4, .max_queued = 16, .max_output = 65536, .keepalive_s = 60,
	    .session_expiry_s = 7 * 86400, .journal_ids = 1024, .on_event = nx_log_sink,
	};
	int verbose = 0, opt;
	uint64_t v;
	while ((opt = getopt_long(argc, argv, ":hVv", lo, NULL)) != -1) {
		if (common_opt(&cm, opt))
			continue;
		switch (opt) {
		case O_INTERVAL:
			if (duration_opt("--interval", optarg, 100, &c.interval_ms))
				return 2;
			break;
		case O_TCMD: c.telemetry_cmd = optarg; break;
		case O_HANDLERS: c.handlers = optarg; break;
		case O_TIMEOUT:
			if (duration_opt("--timeout", optarg, 10, &c.timeout_ms))
				return 2;
			break;
		case O_KILL:
			if (duration_opt("--kill-after", optarg, 0, &c.grace_ms))
				return 2;
			break;
		case O_MAXRUN:
			if (count_opt("--max-running", optarg, 1, 256, &c.max_running))
				return 2;
			break;
		case O_MAXQ:
			if (count_opt("--max-queued", optarg, 0, 4096, &c.max_queued))
				return 2;
			break;
		case O_MAXOUT:
			if (nx_parse_size(optarg, &v, err, sizeof err) < 0 || v < 1 || v > (1u << 20))
				return usage_error("--max-output: want a size from 1 to 1MiB, got '%s'", optarg);
			c.max_output = (size_t)v;
			break;
		case O_JOURNAL: c.journal = optarg; break;
		case O_KEEPALIVE:
			if (duration_opt("--keepalive", optarg, 5000, &v))
				return 2;
			if (v > 65535000)
				return usage_error("--keepalive: at most 65535s");
			c.keepalive_s = (int)(v / 1000);
			break;
		case 'v': verbose++; break;
		case 'h': fputs(usage, stdout); return 0;
		case 'V': nx_print_version("nexus-agent"); return 0;
		default: return nx_usage_getopt(opt, argv);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	int rc = common_check(&cm, 1);
	if (rc)
		return rc;
	/* The certificate's CN is the device id: the broker's ACL keys on it. */
	char cn[NX_DEVICE_ID_MAX + 2];
	if (cm.cert) {
		if (nx_cert_common_name(cm.cert, cn, sizeof cn, err, sizeof err) < 0) {
			nx_say("--cert: %s", err);
			return 1;
		}
		if (!cm.device)
			cm.device = cn;
		else if (strcmp(cm.device, cn) != 0) {
			nx_say("--device '%s' but the certificate's CN is '%s': the broker would keep us out of "
			       "device/%s/ (the CN is the device id)", cm.device, cn, cm.device);
			return 1;
		}
		if (!nx_device_id_ok(cm.device))
			return usage_error("the certificate's CN '%s' is not a usable device id", cn);
	}
	c.mqtt = cm.mqtt;
	c.cafile = cm.cafile;
	c.certfile = cm.cert;
	c.keyfile = cm.key;
	c.device = cm.device;
	char jbuf[4096];
	if (!c.journal) {
		const char *sd = getenv("STATE_DIRECTORY");
		snprintf(jbuf, sizeof jbuf, "%s/journal", sd ? sd : "/var/lib/nexus-agent");
		c.journal = jbuf;
	}
	nx_log_setup("nexus-agent", NX_LOG_LOGFMT, verbose ? NX_LOG_DEBUG : NX_LOG_INFO);
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	c.stop = &got_term;
	c.on_ready = notify_ready;
	c.on_status = notify_status;
	int run = nx_agent_run(&c, err, sizeof err);
	sd_notify(0, "STOPPING=1");
	if (run < 0) {
		char q[sizeof err + 8];
		nx_error("stopping", "error=%s", nx_log_q(q, sizeof q, err));
		return 1;
	}
	return 0;
}
