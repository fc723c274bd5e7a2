/* nexus-vault — credentials for agents and scripts, sealed at rest (AES-256-GCM under a
 * master key with versions), handed over as a header line or in a command's environment.
 * A verb per job; the work is in lib/vault/. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/opts.h"
#include "core/units.h"
#include "core/util.h"
#include "oauth/http.h"
#include "oauth/oidc.h"
#include "vault/connect.h"
#include "vault/cred.h"
#include "vault/refresh.h"
#include "vault/seal.h"
#include "vault/vault.h"

#define usage_error nx_usage_error

static const char usage[] =
    "usage: nexus-vault [--db PATH] [--key-file FILE] VERB [ARGS] [options]\n"
    "\n"
    "Verbs:\n"
    "  connect NAME --issuer URL --client-id ID [--scope S]...  log in to an OpenID\n"
    "                           provider and store its access and refresh token as NAME\n"
    "  put NAME                 store the credential JSON read on stdin as NAME\n"
    "  get NAME [--json]        print its secret (basic: user:password), or all of it as JSON\n"
    "  ls [--json]              names, types and expiry (never secrets)\n"
    "  rm NAME                  delete a credential\n"
    "  header NAME              print its HTTP header line (for curl -H @-)\n"
    "  exec NAME -- CMD [ARG]...  run CMD with the credential in its environment\n"
    "  rotate-key --new-key-file FILE  re-encrypt every credential under a new key version\n"
    "  refresh [NAME]... [--before 5m]  refresh oauth credentials that expire within the margin\n"
    "\n"
    "Options:\n"
    "      --db PATH            the SQLite file (default $NEXUS_VAULT_DB, then\n"
    "                           ~/.local/share/nexus/vault.db, or /var/lib/nexus/vault.db as root)\n"
    "  -k, --key-file FILE      the master key: 32 bytes, raw or base64url (default: the\n"
    "                           key itself in $NEXUS_VAULT_KEY)\n"
    "      --new-key-file FILE  rotate-key: the new master key\n"
    "      --before DUR         refresh: the margin before expiry (default 5m)\n"
    "      --issuer URL         connect: the OpenID provider\n"
    "      --client-id ID       connect: our client at the provider\n"
    "      --client-secret-file FILE  connect: the client secret (a confidential client)\n"
    "      --scope S            connect: a scope to ask for (repeatable; offline_access added)\n"
    "      --device-flow        connect: the device grant, for a terminal without a browser\n"
    "      --timeout DUR        connect: how long to wait for the user (default 5m)\n"
    "      --json               get, ls: JSON output\n"
    "      --config FILE        read options from FILE (one 'name value' per line)\n"
    "  -h, --help               this help\n"
    "  -V, --version            print the version\n"
    "\n"
    "Every option can also be set as NEXUS_VAULT_<OPTION> in the environment.\n";

enum { O_DB = 256, O_NEWKEY, O_JSON, O_CONFIG, O_BEFORE, O_ISSUER, O_CLIENT, O_SECRET, O_SCOPE,
       O_DEVICE, O_TIMEOUT };

static const struct option longopts[] = {
    {"db", required_argument, NULL, O_DB},
    {"key-file", required_argument, NULL, 'k'},
    {"new-key-file", required_argument, NULL, O_NEWKEY},
    {"json", no_argument, NULL, O_JSON},
    {"before", required_argument, NULL, O_BEFORE},
    {"issuer", required_argument, NULL, O_ISSUER},
    {"client-id", required_argument, NULL, O_CLIENT},
    {"client-secret-file", required_argument, NULL, O_SECRET},
    {"scope", required_argument, NULL, O_SCOPE},
    {"device-flow", no_argument, NULL, O_DEVICE},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"config", required_argument, NULL, O_CONFIG},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static struct nx_vault *vault; /* exec closes it before it runs the command */

struct args {
	const char *db, *key_file, *new_key_file;
	int json;
	uint64_t before_ms;
	char **cmd;   /* exec: what follows "--" */
	char **names; /* refresh: the names given */
	size_t nnames;
	/* connect */
	const char *issuer, *client_id, *client_secret_file;
	char scope[1024];
	int device_flow, timeout_s, connect_opts;
};

/* $XDG_DATA_HOME/nexus/vault.db, ~/.local/share/nexus/vault.db; root: /var/lib/nexus. */
static const char *default_db(char *buf, size_t n)
{
	const char *x = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	if (geteuid() == 0)
		snprintf(buf, n, "/var/lib/nexus/vault.db");
	else if (x && *x)
		snprintf(buf, n, "%s/nexus/vault.db", x);
	else
		snprintf(buf, n, "%s/.local/share/nexus/vault.db", home && *home ? home : ".");
	return buf;
}

/* The master key from --key-file, else $NEXUS_VAULT_KEY (taken out of the environment so
 * no child ever inherits it). 0, 1 runtime failure, 2 usage error. */
static int load_key(const char *file, const char *what, uint8_t key[NX_VAULT_KEY_BYTES])
{
	char err[NX_ERRLEN];
	int loose = 0;
	if (file) {
		if (nx_vault_key_read(file, key, &loose, err, sizeof err) < 0)
			return nx_say("%s: %s", what, err), 1;
		if (loose)
			nx_say("warning: %s %s is readable by others", what, file);
		return 0;
	}
	const char *env = getenv("NEXUS_VAULT_KEY");
	if (!env || !*env)
		return usage_error("a master key is needed: --key-file FILE or $NEXUS_VAULT_KEY");
	int rc = nx_vault_key_parse(env, strlen(env), key, err, sizeof err);
	nx_wipe((char *)env, strlen(env));
	unsetenv("NEXUS_VAULT_KEY");
	if (rc < 0)
		return nx_say("$NEXUS_VAULT_KEY: %s", err), 1;
	return 0;
}

static int print_json(json_t *v)
{
	int rc = json_dumpf(v, stdout, JSON_COMPACT | JSON_SORT_KEYS);
	putchar('\n');
	return rc == 0 && fflush(stdout) == 0 ? 0 : 1;
}

/* Print a secret and wipe it. */
static int print_secret(char *s)
{
	if (!s)
		return nx_say("out of memory"), 1;
	int rc = printf("%s\n", s) < 0 || fflush(stdout) != 0;
	nx_free_secret(s, strlen(s));
	return rc;
}

static int verb_put(struct nx_vault *v, const struct args *a, const char *name)
{
	char err[NX_ERRLEN], *buf;
	size_t len;
	json_t *cred;
	if (nx_read_fd(STDIN_FILENO, NX_VAULT_PLAIN_MAX, &buf, &len, err, sizeof err) < 0)
		return nx_say("cannot read the credential on stdin: %s", err), 1;
	int rc = nx_cred_parse(buf, len, &cred, err, sizeof err);
	nx_free_secret(buf, len);
	if (rc < 0)
		return nx_say("%s: %s", name, err), 1;
	rc = nx_vault_put(v, name, cred, err, sizeof err);
	json_decref(cred);
	return rc < 0 ? (nx_say("%s", err), 1) : 0;
}

static int get_cred(struct nx_vault *v, const char *name, json_t **cred)
{
	char err[NX_ERRLEN];
	if (nx_vault_get(v, name, cred, err, sizeof err) < 0)
		return nx_say("%s", err), 1;
	return 0;
}

static int verb_get(struct nx_vault *v, const struct args *a, const char *name)
{
	json_t *cred;
	if (get_cred(v, name, &cred))
		return 1;
	int rc = a->json ? print_json(cred) : print_secret(nx_cred_secret(cred));
	json_decref(cred);
	return rc;
}

static int verb_header(struct nx_vault *v, const struct args *a, const char *name)
{
	json_t *cred;
	if (get_cred(v, name, &cred))
		return 1;
	int rc = print_secret(nx_cred_header(cred));
	json_decref(cred);
	return rc;
}

static int verb_rm(struct nx_vault *v, const struct args *a, const char *name)
{
	char err[NX_ERRLEN];
	return nx_vault_rm(v, name, err, sizeof err) < 0 ? (nx_say("%s", err), 1) : 0;
}

struct ls_state {
	int json, refused;
	json_t *arr;
};

static void ls_one(void *arg, const char *name, const json_t *cred, const char *problem)
{
	struct ls_state *s = arg;
	char when[32] = "-";
	int64_t exp = cred ? nx_cred_expires(cred) : 0;
	if (exp > 0) {
		time_t t = (time_t)exp;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	if (!cred) {
		s->refused++;
		nx_say("%s", problem);
	}
	if (s->json) {
		json_t *o = json_pack("{s:s}", "name", name);
		if (cred) {
			json_object_set_new(o, "type", json_string(nx_cred_type_name(cred)));
			json_object_set_new(o, "expires_at", exp > 0 ? json_integer(exp) : json_null());
		} else
			json_object_set_new(o, "error", json_string(problem));
		json_array_append_new(s->arr, o);
	} else
		printf("%s\t%s\t%s\n", name, cred ? nx_cred_type_name(cred) : "?",
		       cred ? when : "refused");
}

static int verb_ls(struct nx_vault *v, const struct args *a, const char *name)
{
	char err[NX_ERRLEN];
	struct ls_state s = {a->json, 0, json_array()};
	int rc = nx_vault_list(v, ls_one, &s, err, sizeof err);
	if (rc < 0)
		nx_say("%s", err);
	else if (a->json)
		rc = print_json(s.arr) ? -1 : 0;
	json_decref(s.arr);
	return rc < 0 || s.refused ? 1 : fflush(stdout) != 0;
}

static int set_env(void *arg, const char *name, const char *value)
{
	return setenv(name, value, 1);
}

static int verb_exec(struct nx_vault *v, const struct args *a, const char *name)
{
	json_t *cred;
	if (get_cred(v, name, &cred))
		return 1;
	int rc = nx_cred_env(cred, set_env, NULL);
	json_decref(cred);
	if (rc < 0)
		return nx_say("cannot set the environment for %s", a->cmd[0]), 1;
	nx_vault_close(vault); /* wipes the master key; the command gets only the credential */
	vault = NULL;
	execvp(a->cmd[0], a->cmd);
	nx_say("cannot run %s: %s", a->cmd[0], strerror(errno));
	return 127;
}

static int verb_rotate(struct nx_vault *v, const struct args *a, const char *name)
{
	char err[NX_ERRLEN];
	uint8_t key[NX_VAULT_KEY_BYTES];
	int rc = load_key(a->new_key_file, "--new-key-file", key);
	if (rc)
		return rc;
	uint32_t ver;
	size_t n;
	rc = nx_vault_rotate(v, key, &ver, &n, err, sizeof err);
	nx_wipe(key, sizeof key);
	if (rc < 0)
		return nx_say("rotate-key: %s", err), 1;
	nx_say("%zu credential%s re-encrypted under key version %u", n, n == 1 ? "" : "s", ver);
	return 0;
}

static int verb_connect(struct nx_vault *v, const struct args *a, const char *name)
{
	char err[NX_ERRLEN], what[NX_VAULT_NAME_MAX + 16];
	snprintf(what, sizeof what, "connect %s", name);
	struct nx_vault_connect c = {a->issuer, a->client_id, a->client_secret_file, a->scope,
	                             a->device_flow, a->timeout_s, nx_oidc_show_say, what};
	json_t *cred;
	if (nx_vault_connect(&c, &cred, err, sizeof err) < 0)
		return nx_say("connect %s: %s", name, err), 1;
	int rc = nx_vault_put(v, name, cred, err, sizeof err);
	int refreshable = json_object_get(cred, "refresh_token") != NULL;
	nx_oauth_json_free_secret(cred);
	if (rc < 0)
		return nx_say("%s", err), 1;
	nx_say("%s: connected%s", name,
	       refreshable ? "" : " (the provider gave no refresh token: it cannot be refreshed)");
	return 0;
}

static void refresh_report(void *arg, const char *name, enum nx_refresh_outcome o,
                           const char *msg)
{
	if (o == NX_REFRESH_DONE)
		nx_say("%s: refreshed", name);
	else if (o == NX_REFRESH_FAILED)
		nx_say("%s: not refreshed, the stored credential is unchanged: %s", name, msg);
}

static int verb_refresh(struct nx_vault *v, const struct args *a, const char *name)
{
	char err[NX_ERRLEN];
	int failed = nx_vault_refresh(v, a->names, a->nnames, (int64_t)(a->before_ms / 1000),
	                              refresh_report, NULL, err, sizeof err);
	if (failed < 0)
		return nx_say("refresh: %s", err), 1;
	return failed ? 1 : 0;
}

static const struct verb {
	const char *name;
	int (*run)(struct nx_vault *v, const struct args *a, const char *name);
	int takes_name, creates;
} verbs[] = {
    {"connect", verb_connect, 1, 1}, {"put", verb_put, 1, 1}, {"get", verb_get, 1, 0},
    {"ls", verb_ls, 0, 0},         {"rm", verb_rm, 1, 0},
    {"header", verb_header, 1, 0}, {"exec", verb_exec, 1, 0},
    {"rotate-key", verb_rotate, 0, 0}, {"refresh", verb_refresh, -1, 0},
};

static int run(int argc, char **argv);

int main(int argc, char **argv)
{
	char err[NX_ERRLEN];
	nx_log_setup("nexus-vault", NX_LOG_PLAIN, NX_LOG_INFO);
	nx_oauth_json_wipe_frees(); /* tokens pass through jansson: wipe what it frees */
	int orc = nx_opts_expand(&argc, &argv, "NEXUS_VAULT_", longopts, err, sizeof err);
	if (orc < 0)
		return nx_opts_fail(orc, err);
	int rc = run(argc, argv);
	nx_opts_free(argv);
	return rc;
}

static int run(int argc, char **argv)
{
	char err[NX_ERRLEN], dbbuf[4096];
	struct args a = {.before_ms = 300000};
	/* exec's command is everything after the first "--", never our options */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			a.cmd = argv + i + 1;
			argc = i;
			break;
		}
	int c;
	while ((c = getopt_long(argc, argv, ":k:hV", longopts, NULL)) != -1) {
		switch (c) {
		case O_DB: a.db = optarg; break;
		case 'k': a.key_file = optarg; break;
		case O_NEWKEY: a.new_key_file = optarg; break;
		case O_JSON: a.json = 1; break;
		case O_BEFORE:
			if (nx_parse_duration(optarg, &a.before_ms, err, sizeof err) < 0)
				return usage_error("--before: %s", err);
			break;
		case O_ISSUER: a.issuer = optarg; a.connect_opts = 1; break;
		case O_CLIENT: a.client_id = optarg; a.connect_opts = 1; break;
		case O_SECRET: a.client_secret_file = optarg; a.connect_opts = 1; break;
		case O_DEVICE: a.device_flow = 1; a.connect_opts = 1; break;
		case O_SCOPE: {
			size_t sl = strlen(a.scope);
			a.connect_opts = 1;
			if (!*optarg || strchr(optarg, ' ') || sl + strlen(optarg) + 2 > sizeof a.scope)
				return usage_error("--scope: '%s' is not one scope", optarg);
			snprintf(a.scope + sl, sizeof a.scope - sl, "%s%s", sl ? " " : "", optarg);
			break;
		}
		case O_TIMEOUT: {
			uint64_t ms;
			a.connect_opts = 1;
			if (nx_parse_duration(optarg, &ms, err, sizeof err) < 0)
				return usage_error("--timeout: %s", err);
			if (ms < 1000 || ms > 86400000)
				return usage_error("--timeout: between 1s and 1d");
			a.timeout_s = (int)(ms / 1000);
			break;
		}
		case O_CONFIG: break; /* read by nx_opts_expand */
		case 'h': fputs(usage, stdout); return 0;
		case 'V': nx_print_version("nexus-vault"); return 0;
		default: return nx_usage_getopt(c, argv);
		}
	}
	if (optind >= argc)
		return usage_error("a verb is needed: connect, put, get, ls, rm, header, exec, "
		                   "rotate-key or refresh");
	const char *vname = argv[optind++];
	const struct verb *vb = NULL;
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		if (strcmp(vname, verbs[i].name) == 0)
			vb = &verbs[i];
	if (!vb)
		return usage_error("unknown verb '%s'", vname);
	int nargs = argc - optind;
	if (vb->takes_name == 1 && nargs != 1)
		return usage_error("%s takes exactly one credential name", vname);
	if (!vb->takes_name && nargs != 0)
		return usage_error("%s takes no arguments", vname);
	const char *name = vb->takes_name == 1 ? argv[optind] : NULL;
	if (vb->takes_name < 0) {
		a.names = argv + optind;
		a.nnames = (size_t)nargs;
		for (int i = optind; i < argc; i++)
			if (!nx_vault_name_ok(argv[i]))
				return usage_error("credential name '%s': want 1 to %d of "
				                   "[A-Za-z0-9._@:+-], not starting with '.' or '-'",
				                   argv[i], NX_VAULT_NAME_MAX);
	}
	if (name && !nx_vault_name_ok(name))
		return usage_error("credential name '%s': want 1 to %d of [A-Za-z0-9._@:+-], not "
		                   "starting with '.' or '-'", name, NX_VAULT_NAME_MAX);
	if (vb->run == verb_exec && (!a.cmd || !a.cmd[0]))
		return usage_error("exec needs a command: exec NAME -- CMD [ARG]...");
	if (vb->run != verb_exec && a.cmd)
		return usage_error("%s takes no command after '--'", vname);
	if (vb->run == verb_rotate && !a.new_key_file)
		return usage_error("rotate-key needs --new-key-file FILE");
	if (vb->run == verb_connect && (!a.issuer || !a.client_id))
		return usage_error("connect needs --issuer URL and --client-id ID");
	if (vb->run != verb_connect && a.connect_opts)
		return usage_error("--issuer, --client-id, --client-secret-file, --scope, --device-flow "
		                   "and --timeout go with connect");
	if (a.json && vb->run != verb_get && vb->run != verb_ls)
		return usage_error("--json goes with get and ls");

	uint8_t key[NX_VAULT_KEY_BYTES];
	int rc = load_key(a.key_file, "--key-file", key);
	if (rc)
		return rc;
	if (!a.db || !*a.db)
		a.db = default_db(dbbuf, sizeof dbbuf);
	if (nx_vault_open(a.db, &vault, err, sizeof err) < 0) {
		nx_wipe(key, sizeof key);
		return nx_say("%s", err), 1;
	}
	rc = nx_vault_use_key(vault, key, vb->creates, err, sizeof err);
	nx_wipe(key, sizeof key);
	if (rc < 0)
		rc = (nx_say("%s", err), 1);
	else
		rc = vb->run(vault, &a, name);
	nx_vault_close(vault);
	return rc;
}
