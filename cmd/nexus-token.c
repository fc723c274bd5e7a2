/* nexus-token — keys and JWTs, one verb per job (in the spirit of signify):
 * keygen, issue, verify, inspect, revoke. The work is done by libnexus (keys.h, jws.h,
 * claims.h, backend_claims.h, denylist.h); this file reads options and prints answers. */
#include "token/backend_claims.h"
#include "token/claims.h"
#include "token/denylist.h"
#include "token/jws.h"
#include "token/keys.h"
#include "core/log.h"
#include "core/opts.h"
#include "core/random.h"
#include "core/units.h"
#include "core/util.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_LIST 64

static const char usage_text[] =
    "usage: nexus-token keygen -t hs256|hs384|hs512|rs256|es256 -o FILE [--bits N] [--force]\n"
    "       nexus-token issue -k KEY [-a ALG] [--sub S] [--iss S] [--aud S]... [--ttl D]\n"
    "                   [--nbf D] [--jti auto|none|ID] [--hostname H]... [--tcp-port N]...\n"
    "                   [--udp-route PORT[:IDLE]]... [--weight N] [--scope S]...\n"
    "                   [--claim NAME=JSON]... [--claims FILE|-] [--kid ID] [--backend] [-q]\n"
    "       nexus-token verify -k KEY [--iss S] [--aud S] [--leeway D] [--max-age D]\n"
    "                   [--require CLAIM]... [--deny-list FILE] [-q] [TOKEN|-]\n"
    "       nexus-token inspect [--json|--human] [TOKEN|-]\n"
    "       nexus-token revoke --deny-list FILE [--note TEXT] (TOKEN|-|--jti ID)\n"
    "       nexus-token --help | --version\n"
    "Common options: --config FILE (one 'name value' per line), -h/--help.\n"
    "Tokens are read from stdin when TOKEN is '-' or missing; verify checks one token per\n"
    "line when given several. Secrets are only ever read from files.\n"
    "  -q, --quiet   no warnings on stderr, only fatal errors (always so with --backend)\n";

static int usage_error(const char *fmt, const char *arg)
{
	char msg[512];
	snprintf(msg, sizeof msg, fmt, arg ? arg : "");
	nx_say("%s (see nexus-token --help)", msg);
	return 2;
}

/* -q, and issue --backend: a token command's stderr may be read together with its stdout
 * (the Nexus Proxy client does), so only a fatal error may go there. */
static int quiet;

/* Load a key and warn when a secret is readable by others (the file is still used: refusing
 * would break deployments mid-flight, the warning tells the operator to fix it). */
static struct nx_key *load_key(const char *path)
{
	struct nx_key *k;
	char err[NX_ERRLEN];
	if (nx_key_load_file(path, &k, err, sizeof err) < 0) {
		nx_say("%s", err);
		return NULL;
	}
	if (!quiet && nx_key_is_secret(k) && nx_file_is_loose(path))
		nx_say("warning: %s is readable by group or others (chmod 600 %s)", path, path);
	return k;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Read one line of at most NX_JWS_MAX bytes (plus line end) into buf. 1: a line (trimmed
 * into *line; *toolong set when it was longer, the rest discarded), 0: end of input. */
static int read_line(FILE *f, char *buf, size_t cap, char **line, int *toolong)
{
	*toolong = 0;
	if (!fgets(buf, (int)cap, f))
		return 0;
	size_t n = strlen(buf);
	if (n == cap - 1 && buf[n - 1] != '\n') {
		int c;
		while ((c = getc(f)) != EOF && c != '\n')
			;
		*toolong = 1;
	}
	*line = trim(buf);
	return 1;
}

static int print_json(const json_t *j, int pretty)
{
	char *s = json_dumps(j, pretty ? JSON_INDENT(2) : JSON_COMPACT);
	if (!s)
		return -1;
	printf("%s\n", s);
	free(s);
	return 0;
}

/* Options from NEXUS_TOKEN_* and --config, then argv; main frees the vector when the verb
 * is done (nothing of it is used after). */
static char **expanded_argv;
static int expand_opts(int *argc, char ***argv, const struct option *lo, char *err,
                       size_t errlen)
{
	if (nx_opts_expand(argc, argv, "NEXUS_TOKEN_", lo, err, errlen) < 0)
		return -1;
	expanded_argv = *argv;
	return 0;
}

/* ---- keygen ---------------------------------------------------------------------- */

static int cmd_keygen(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"type", required_argument, 0, 't'}, {"output", required_argument, 0, 'o'},
	    {"bits", required_argument, 0, 'b'}, {"force", no_argument, 0, 'f'},
	    {"config", required_argument, 0, 'C'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	const char *type = NULL, *out = NULL;
	long long bits = 0;
	int force = 0, c;
	char err[NX_ERRLEN];
	if (expand_opts(&argc, &argv, lo, err, sizeof err) < 0)
		return usage_error("%s", err);
	while ((c = getopt_long(argc, argv, "t:o:b:fh", lo, NULL)) != -1) {
		switch (c) {
		case 't': type = optarg; break;
		case 'o': out = optarg; break;
		case 'b':
			if (nx_parse_int(optarg, 2048, 4096, &bits, err, sizeof err) < 0)
				return usage_error("--bits: %s", err);
			break;
		case 'f': force = 1; break;
		case 'C': break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: return usage_error("bad option", NULL);
		}
	}
	if (optind != argc)
		return usage_error("keygen: unexpected argument '%s'", argv[optind]);
	if (!type || !out)
		return usage_error("keygen needs -t TYPE and -o FILE", NULL);
	char up[16];
	snprintf(up, sizeof up, "%s", type);
	for (char *p = up; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	enum nx_alg alg = nx_alg_from_name(up);
	if (alg == NX_ALG_NONE)
		return usage_error("keygen: unknown key type '%s' (hs256, hs384, hs512, rs256, es256)",
		                   type);
	if (strcmp(out, "-") == 0)
		return usage_error("keygen: refusing to write a private key to stdout", NULL);
	char pub[4096];
	snprintf(pub, sizeof pub, "%s.pub", out);
	int has_pub = alg == NX_ALG_RS256 || alg == NX_ALG_ES256;
	struct stat st;
	if (!force && (stat(out, &st) == 0 || (has_pub && stat(pub, &st) == 0))) {
		nx_say("%s exists; not overwriting it (use --force)",
		       stat(out, &st) == 0 ? out : pub);
		return 1;
	}
	struct nx_key *k;
	if (nx_key_generate(alg, (unsigned)bits, &k, err, sizeof err) < 0 ||
	    nx_key_write_private(k, out, err, sizeof err) < 0 ||
	    (has_pub && nx_key_write_public(k, pub, err, sizeof err) < 0)) {
		nx_key_free(k);
		nx_say("%s", err);
		return 1;
	}
	nx_key_free(k);
	return 0;
}

/* ---- issue ----------------------------------------------------------------------- */

struct issue_opts {
	const char *key, *alg, *sub, *iss, *jti, *kid, *claims_file;
	const char *aud[MAX_LIST], *scope[MAX_LIST], *claim[MAX_LIST];
	int naud, nscope, nclaim;
	uint64_t ttl_ms, nbf_ms;
	int ttl_set, nbf_set, backend;
	json_t *routes; /* hostnames, tcp_ports, udp_routes, weight from flags */
};

static int push(const char **list, int *n, const char *v, const char *what)
{
	if (*n >= MAX_LIST)
		return usage_error("too many %s options", what);
	list[(*n)++] = v;
	return 0;
}

/* A string claim from the command line; jansson refuses invalid UTF-8, say so. */
static int set_string(json_t *c, const char *name, const char *value)
{
	json_t *v = json_string(value);
	if (!v || json_object_set_new(c, name, v) < 0) {
		nx_say("'%s' is not valid UTF-8 text", name);
		return -1;
	}
	return 0;
}

static json_t *build_claims(struct issue_opts *o)
{
	json_t *c;
	char err[NX_ERRLEN];
	if (o->claims_file) {
		char *buf;
		size_t len;
		json_error_t je;
		if (nx_read_file(o->claims_file, NX_JWS_MAX, &buf, &len, err, sizeof err) < 0) {
			nx_say("--claims: %s", err);
			return NULL;
		}
		c = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
		free(buf);
		if (!json_is_object(c)) {
			nx_say("--claims %s: not a JSON object (%s)", o->claims_file,
			       c ? "wrong type" : je.text);
			json_decref(c);
			return NULL;
		}
	} else {
		c = json_object();
	}
	json_object_update(c, o->routes); /* route flags, and --weight */
	if (o->sub && set_string(c, "sub", o->sub) < 0)
		goto fail;
	if (o->backend && nx_claims_add_backend_env(c, getenv, err, sizeof err) < 0) {
		nx_say("%s", err);
		goto fail;
	}
	int64_t now = nx_unix_time();
	json_object_set_new(c, "iat", json_integer(now));
	if (o->ttl_ms > 0)
		json_object_set_new(c, "exp", json_integer(now + (int64_t)((o->ttl_ms + 999) / 1000)));
	if (o->nbf_set)
		json_object_set_new(c, "nbf", json_integer(now + (int64_t)(o->nbf_ms / 1000)));
	if (o->iss && set_string(c, "iss", o->iss) < 0)
		goto fail;
	if (o->naud == 1 && !o->backend) {
		if (set_string(c, "aud", o->aud[0]) < 0)
			goto fail;
	} else if (o->naud > 0) {
		json_t *a = json_array();
		json_object_set_new(c, "aud", a);
		for (int i = 0; i < o->naud; i++)
			if (json_array_append_new(a, json_string(o->aud[i])) < 0) {
				nx_say("'aud' is not valid UTF-8 text");
				goto fail;
			}
	}
	if (o->nscope > 0) {
		char s[4096] = "";
		for (int i = 0; i < o->nscope; i++)
			snprintf(s + strlen(s), sizeof s - strlen(s), "%s%s", i ? " " : "", o->scope[i]);
		if (set_string(c, "scope", s) < 0)
			goto fail;
	}
	/* A jti already in --claims (nexus-bind records the id it prints) is kept unless
	 * --jti says otherwise: replacing it would make the token unrevocable by that id. */
	const char *jti = o->jti ? o->jti : json_is_string(json_object_get(c, "jti")) ? "none" : "auto";
	if (strcmp(jti, "auto") == 0) {
		char id[NX_UUID_TEXT_LEN + 1];
		if (nx_random_uuid4(NULL, id, err, sizeof err) < 0) {
			nx_say("%s", err);
			goto fail;
		}
		json_object_set_new(c, "jti", json_string(id));
	} else if (strcmp(jti, "none") != 0) {
		/* An id the deny-list could not hold would make the token unrevocable. */
		for (const unsigned char *p = (const unsigned char *)jti; *p; p++)
			if (*p <= 0x20 || *p == 0x7f) {
				nx_say("--jti: no spaces or control characters allowed");
				goto fail;
			}
		if (strlen(jti) >= NX_JTI_MAX || jti[0] == '#') {
			nx_say("--jti: at most %d characters, not starting with '#'", NX_JTI_MAX - 1);
			goto fail;
		}
		if (set_string(c, "jti", jti) < 0)
			goto fail;
	}
	for (int i = 0; i < o->nclaim; i++) {
		const char *eq = strchr(o->claim[i], '=');
		json_error_t je;
		json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, &je);
		if (!v) {
			nx_say("--claim %.*s: value is not JSON (quote strings: %.*s='\"text\"')",
			       (int)(eq - o->claim[i]), o->claim[i], (int)(eq - o->claim[i]),
			       o->claim[i]);
			goto fail;
		}
		char name[256];
		snprintf(name, sizeof name, "%.*s", (int)(eq - o->claim[i]), o->claim[i]);
		json_object_set_new(c, name, v);
	}
	return c;
fail:
	json_decref(c);
	return NULL;
}

static int cmd_issue(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"key", required_argument, 0, 'k'},      {"alg", required_argument, 0, 'a'},
	    {"sub", required_argument, 0, 's'},      {"iss", required_argument, 0, 'i'},
	    {"aud", required_argument, 0, 'A'},      {"ttl", required_argument, 0, 'T'},
	    {"nbf", required_argument, 0, 'N'},      {"jti", required_argument, 0, 'J'},
	    {"hostname", required_argument, 0, 'H'}, {"tcp-port", required_argument, 0, 'P'},
	    {"udp-route", required_argument, 0, 'U'}, {"weight", required_argument, 0, 'W'},
	    {"scope", required_argument, 0, 'S'},    {"claim", required_argument, 0, 'c'},
	    {"claims", required_argument, 0, 'F'},   {"kid", required_argument, 0, 'K'},
	    {"backend", no_argument, 0, 'B'},        {"config", required_argument, 0, 'C'},
	    {"quiet", no_argument, 0, 'q'},          {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0}};
	struct issue_opts o = {.routes = json_object()};
	char err[NX_ERRLEN];
	int c, rc = 2;
	if (expand_opts(&argc, &argv, lo, err, sizeof err) < 0)
		return usage_error("%s", err);
	while ((c = getopt_long(argc, argv, "k:a:qh", lo, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case 'k': o.key = optarg; break;
		case 'a': o.alg = optarg; break;
		case 's': o.sub = optarg; break;
		case 'i': o.iss = optarg; break;
		case 'A': bad = push(o.aud, &o.naud, optarg, "--aud"); break;
		case 'S': bad = push(o.scope, &o.nscope, optarg, "--scope"); break;
		case 'c':
			if (!strchr(optarg, '=') || optarg[0] == '=') {
				bad = usage_error("--claim wants NAME=JSON, not '%s'", optarg);
				break;
			}
			bad = push(o.claim, &o.nclaim, optarg, "--claim");
			break;
		case 'T':
			if (nx_parse_duration(optarg, &o.ttl_ms, err, sizeof err) < 0)
				bad = usage_error("--ttl: %s", err);
			o.ttl_set = 1;
			break;
		case 'N':
			if (nx_parse_duration(optarg, &o.nbf_ms, err, sizeof err) < 0)
				bad = usage_error("--nbf: %s", err);
			o.nbf_set = 1;
			break;
		case 'J': o.jti = optarg; break;
		case 'H':
			if (nx_claims_add_hostname(o.routes, optarg, err, sizeof err) < 0)
				bad = usage_error("--hostname: %s", err);
			break;
		case 'P':
			if (nx_claims_add_tcp_port(o.routes, optarg, err, sizeof err) < 0)
				bad = usage_error("--tcp-port: %s", err);
			break;
		case 'U':
			if (nx_claims_add_udp_route(o.routes, optarg, err, sizeof err) < 0)
				bad = usage_error("--udp-route: %s", err);
			break;
		case 'W': {
			long long w;
			if (nx_parse_int(optarg, -1000000, 1000000, &w, err, sizeof err) < 0)
				bad = usage_error("--weight: %s", err);
			else
				json_object_set_new(o.routes, "weight", json_integer(w));
			break;
		}
		case 'F': o.claims_file = optarg; break;
		case 'K': o.kid = optarg; break;
		case 'B': o.backend = quiet = 1; break;
		case 'q': quiet = 1; break;
		case 'C': break;
		case 'h': fputs(usage_text, stdout); json_decref(o.routes); return 0;
		default: bad = usage_error("bad option", NULL);
		}
		if (bad)
			goto out;
	}
	if (optind != argc) {
		usage_error("issue: unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (!o.key) {
		usage_error("issue needs -k KEY", NULL);
		goto out;
	}
	enum nx_alg alg = NX_ALG_NONE;
	if (o.alg && (alg = nx_alg_from_name(o.alg)) == NX_ALG_NONE) {
		usage_error("unknown algorithm '%s' (HS256, HS384, HS512, RS256, ES256)", o.alg);
		goto out;
	}
	if (o.backend) {
		/* What a Nexus Proxy hub demands of a backend token. */
		if (!o.iss)
			o.iss = "authorizer";
		if (o.naud == 0)
			o.aud[o.naud++] = "nexus";
		if (!o.ttl_set)
			o.ttl_ms = 30000;
	} else if (!o.ttl_set) {
		o.ttl_ms = 3600000;
	}
	rc = 1;
	struct nx_key *k = load_key(o.key);
	if (!k)
		goto out;
	if (!nx_key_can_sign(k)) {
		nx_say("%s is a public key; issuing needs the private key", o.key);
		nx_key_free(k);
		goto out;
	}
	if (alg == NX_ALG_NONE)
		alg = nx_key_default_alg(k);
	unsigned need = alg == NX_ALG_HS512 ? 512 : alg == NX_ALG_HS384 ? 384 : 256;
	if (!quiet && nx_key_type(k) == NX_KEY_HMAC && nx_key_bits(k) < need)
		nx_say("warning: %s is shorter than %u bytes, the minimum for %s (RFC 7518 3.2)",
		       o.key, need / 8, nx_alg_name(alg));
	json_t *claims = build_claims(&o);
	json_t *hx = o.kid ? json_pack("{s:s}", "kid", o.kid) : NULL;
	char *tok = NULL;
	if (claims && nx_jws_sign(k, alg, hx, claims, &tok, err, sizeof err) < 0)
		nx_say("%s", err);
	if (tok) {
		printf("%s\n", tok);
		rc = fflush(stdout) == 0 ? 0 : 1;
	}
	free(tok);
	json_decref(hx);
	json_decref(claims);
	nx_key_free(k);
out:
	json_decref(o.routes);
	return rc;
}

/* ---- verify ---------------------------------------------------------------------- */

static int check_token(const struct nx_key *k, const struct nx_claims_policy *p,
                       const char *tok, json_t **claims, char *err, size_t errlen)
{
	*claims = NULL;
	if (nx_jws_verify(k, tok, strlen(tok), NULL, claims, err, errlen) < 0)
		return -1;
	if (nx_claims_check(*claims, p, err, errlen) < 0) {
		json_decref(*claims);
		*claims = NULL;
		return -1;
	}
	return 0;
}

/* Bulk mode: one result line per token, "valid <sub|jti|->" or "invalid: <reason>". */
static int bulk_line(const struct nx_key *k, const struct nx_claims_policy *p,
                     const char *tok, int toolong)
{
	char err[NX_ERRLEN];
	json_t *c;
	if (toolong) {
		printf("invalid: token larger than %d bytes\n", NX_JWS_MAX);
		return 1;
	}
	if (check_token(k, p, tok, &c, err, sizeof err) < 0) {
		printf("invalid: %s\n", err);
		return 1;
	}
	const char *id = json_string_value(json_object_get(c, "sub"));
	if (!id)
		id = json_string_value(json_object_get(c, "jti"));
	char safe[128];
	printf("valid %s\n", id ? nx_sanitize(safe, sizeof safe, id, strlen(id)) : "-");
	json_decref(c);
	return 0;
}

static int verify_stdin(const struct nx_key *k, const struct nx_claims_policy *p)
{
	static char a[NX_JWS_MAX + 3], b[NX_JWS_MAX + 3];
	char *first = NULL, *second = NULL;
	int long1 = 0, long2 = 0, r;
	while ((r = read_line(stdin, a, sizeof a, &first, &long1)) == 1 && !*first && !long1)
		;
	if (r == 0) {
		nx_say("no token on stdin");
		return 1;
	}
	while ((r = read_line(stdin, b, sizeof b, &second, &long2)) == 1 && !*second && !long2)
		;
	if (r == 0) { /* exactly one token: answer like verify TOKEN */
		char err[NX_ERRLEN];
		json_t *c;
		if (long1) {
			nx_say("invalid token: token larger than %d bytes", NX_JWS_MAX);
			return 1;
		}
		if (check_token(k, p, first, &c, err, sizeof err) < 0) {
			nx_say("invalid token: %s", err);
			return 1;
		}
		print_json(c, isatty(1));
		json_decref(c);
		return 0;
	}
	int bad = bulk_line(k, p, first, long1);
	bad |= bulk_line(k, p, second, long2);
	char *line;
	int toolong;
	while (read_line(stdin, a, sizeof a, &line, &toolong) == 1)
		if (*line || toolong)
			bad |= bulk_line(k, p, line, toolong);
	return fflush(stdout) == 0 && !bad ? 0 : 1;
}

static int cmd_verify(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"key", required_argument, 0, 'k'},       {"iss", required_argument, 0, 'i'},
	    {"aud", required_argument, 0, 'A'},       {"leeway", required_argument, 0, 'l'},
	    {"max-age", required_argument, 0, 'M'},   {"require", required_argument, 0, 'r'},
	    {"deny-list", required_argument, 0, 'd'}, {"config", required_argument, 0, 'C'},
	    {"quiet", no_argument, 0, 'q'},           {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0}};
	struct nx_claims_policy p = {0};
	const char *keyfile = NULL, *req[MAX_LIST + 1] = {0};
	int nreq = 0, c;
	uint64_t ms;
	char err[NX_ERRLEN];
	if (expand_opts(&argc, &argv, lo, err, sizeof err) < 0)
		return usage_error("%s", err);
	while ((c = getopt_long(argc, argv, "k:qh", lo, NULL)) != -1) {
		switch (c) {
		case 'k': keyfile = optarg; break;
		case 'q': quiet = 1; break;
		case 'i': p.iss = optarg; break;
		case 'A': p.aud = optarg; break;
		case 'l':
		case 'M':
			if (nx_parse_duration(optarg, &ms, err, sizeof err) < 0)
				return usage_error(c == 'l' ? "--leeway: %s" : "--max-age: %s", err);
			*(c == 'l' ? &p.leeway : &p.max_age) = (int64_t)(ms / 1000);
			break;
		case 'r':
			if (push(req, &nreq, optarg, "--require"))
				return 2;
			break;
		case 'd': p.deny_list = optarg; break;
		case 'C': break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: return usage_error("bad option", NULL);
		}
	}
	p.required = req;
	if (!keyfile)
		return usage_error("verify needs -k KEY", NULL);
	if (argc - optind > 1)
		return usage_error("verify takes one TOKEN (or several on stdin)", NULL);
	struct nx_key *k = load_key(keyfile);
	if (!k)
		return 1;
	int rc;
	if (optind == argc || strcmp(argv[optind], "-") == 0) {
		rc = verify_stdin(k, &p);
	} else {
		json_t *cl;
		char *tok = trim(argv[optind]);
		if (check_token(k, &p, tok, &cl, err, sizeof err) < 0) {
			nx_say("invalid token: %s", err);
			rc = 1;
		} else {
			print_json(cl, isatty(1));
			json_decref(cl);
			rc = 0;
		}
	}
	nx_key_free(k);
	return rc;
}

/* ---- inspect and revoke: decoding without verifying ------------------------------ */

/* The token from argv or the first line of stdin, into a malloc'd string. */
static char *token_arg(int argc, char **argv, int optind_)
{
	static char buf[NX_JWS_MAX + 3];
	char *line;
	int toolong;
	if (optind_ < argc && strcmp(argv[optind_], "-") != 0)
		return strdup(trim(argv[optind_]));
	while (read_line(stdin, buf, sizeof buf, &line, &toolong) == 1) {
		if (toolong) {
			nx_say("token larger than %d bytes", NX_JWS_MAX);
			return NULL;
		}
		if (*line)
			return strdup(line);
	}
	nx_say("no token on stdin");
	return NULL;
}

static void show_time(const json_t *claims, const char *name, int64_t now)
{
	const json_t *v = json_object_get(claims, name);
	if (!json_is_number(v))
		return;
	double dv = json_number_value(v);
	/* Clamp: a hostile token may carry 1e300, which no integer conversion survives. */
	int64_t t = dv > 1e11 ? (int64_t)1e11 : dv < -1e11 ? (int64_t)-1e11 : (int64_t)dv;
	time_t tt = (time_t)t;
	struct tm tm;
	char when[64], rel[48];
	if (!gmtime_r(&tt, &tm) || !strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(when, sizeof when, "%lld", (long long)t);
	uint64_t d = (uint64_t)(t > now ? t - now : now - t) * 1000;
	nx_fmt_duration(rel, sizeof rel, d);
	printf("  %-3s  %s  (%s%s%s)\n", name, when, t > now ? "in " : "", rel,
	       t > now ? "" : " ago");
}

static int cmd_inspect(int argc, char **argv)
{
	static const struct option lo[] = {{"json", no_argument, 0, 'j'},
	                                   {"human", no_argument, 0, 'H'},
	                                   {"help", no_argument, 0, 'h'},
	                                   {0, 0, 0, 0}};
	int c, human = isatty(1);
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'j': human = 0; break;
		case 'H': human = 1; break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: return usage_error("bad option", NULL);
		}
	}
	if (argc - optind > 1)
		return usage_error("inspect takes one TOKEN", NULL);
	char *tok = token_arg(argc, argv, optind), err[NX_ERRLEN];
	if (!tok)
		return 1;
	json_t *h, *cl;
	int rc = nx_jws_decode(tok, strlen(tok), &h, &cl, NULL, err, sizeof err);
	free(tok);
	if (rc < 0) {
		nx_say("malformed token: %s", err);
		return 1;
	}
	if (human) {
		printf("NOT VERIFIED: the signature and claims of this token were not checked\n");
		printf("header:\n");
		print_json(h, 1);
		printf("claims:\n");
		print_json(cl, 1);
		int64_t now = nx_unix_time();
		if (json_object_get(cl, "iat") || json_object_get(cl, "nbf") ||
		    json_object_get(cl, "exp")) {
			printf("times:\n");
			show_time(cl, "iat", now);
			show_time(cl, "nbf", now);
			show_time(cl, "exp", now);
		}
	} else {
		json_t *all = json_pack("{s:b, s:O, s:O}", "verified", 0, "header", h, "claims", cl);
		print_json(all, 0);
		json_decref(all);
	}
	json_decref(h);
	json_decref(cl);
	return fflush(stdout) == 0 ? 0 : 1;
}

static int cmd_revoke(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"deny-list", required_argument, 0, 'd'}, {"jti", required_argument, 0, 'j'},
	    {"note", required_argument, 0, 'n'},      {"config", required_argument, 0, 'C'},
	    {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
	const char *list = NULL, *jti = NULL, *note = NULL;
	int c;
	char err[NX_ERRLEN], notebuf[512];
	if (expand_opts(&argc, &argv, lo, err, sizeof err) < 0)
		return usage_error("%s", err);
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'd': list = optarg; break;
		case 'j': jti = optarg; break;
		case 'n': note = optarg; break;
		case 'C': break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: return usage_error("bad option", NULL);
		}
	}
	if (!list)
		return usage_error("revoke needs --deny-list FILE", NULL);
	if (jti && optind < argc)
		return usage_error("revoke takes a TOKEN or --jti ID, not both", NULL);
	if (argc - optind > 1)
		return usage_error("revoke takes one TOKEN", NULL);
	json_t *cl = NULL;
	if (!jti) {
		/* Revoking needs no proof: listing an id only ever refuses more tokens. */
		char *tok = token_arg(argc, argv, optind);
		if (!tok)
			return 1;
		int rc = nx_jws_decode(tok, strlen(tok), NULL, &cl, NULL, err, sizeof err);
		free(tok);
		if (rc < 0) {
			nx_say("malformed token: %s", err);
			return 1;
		}
		jti = json_string_value(json_object_get(cl, "jti"));
		if (!jti) {
			nx_say("token has no \"jti\" string, so it cannot be revoked by id");
			json_decref(cl);
			return 1;
		}
		if (!note) {
			const char *sub = json_string_value(json_object_get(cl, "sub"));
			char safe[128];
			time_t now = time(NULL);
			struct tm tm;
			char when[32];
			strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
			snprintf(notebuf, sizeof notebuf, "revoked %s%s%s", when, sub ? " sub=" : "",
			         sub ? nx_sanitize(safe, sizeof safe, sub, strlen(sub)) : "");
			note = notebuf;
		}
	}
	int rc = nx_denylist_add(list, jti, note, err, sizeof err);
	if (rc < 0)
		nx_say("%s", err);
	else
		printf("revoked %s\n", jti);
	json_decref(cl);
	return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	nx_log_setup("nexus-token", NX_LOG_PLAIN, NX_LOG_INFO);
	if (argc < 2)
		return usage_error("a verb is needed: keygen, issue, verify, inspect or revoke", NULL);
	const char *verb = argv[1];
	if (!strcmp(verb, "--help") || !strcmp(verb, "-h") || !strcmp(verb, "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (!strcmp(verb, "--version") || !strcmp(verb, "-V")) {
		nx_print_version("nexus-token");
		return 0;
	}
	static const struct {
		const char *name;
		int (*run)(int, char **);
	} verbs[] = {{"keygen", cmd_keygen}, {"issue", cmd_issue}, {"verify", cmd_verify},
	             {"inspect", cmd_inspect}, {"revoke", cmd_revoke}};
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
		if (strcmp(verb, verbs[i].name) != 0)
			continue;
		int rc = verbs[i].run(argc - 1, argv + 1);
		nx_opts_free(expanded_argv);
		return rc;
	}
	return usage_error("unknown verb '%s' (keygen, issue, verify, inspect, revoke)", verb);
}
