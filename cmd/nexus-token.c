/* nexus-token — keys and JWTs, one verb per job (in the spirit of signify):
 * keygen, issue, verify, inspect, revoke. The work is done by libnexus (keys.h, jws.h,
 * claims.h, backend_claims.h, denylist.h); this file reads options and prints answers. */
#include "oauth/http.h"
#include "oauth/login.h"
#include "token/backend_claims.h"
#include "token/claims.h"
#include "token/denylist.h"
#include "token/issue.h"
#include "token/jws.h"
#include "token/keys.h"
#include "core/hostname.h"
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

static const char usage_text[] =
    "usage: nexus-token keygen -t TYPE -o FILE [--bits N] [--force] [--backends-line NAME HOST...]\n"
    "       nexus-token thumbprint KEY\n"
    "       nexus-token issue -k KEY [options] [--backend] [-q]\n"
    "       nexus-token verify -k KEY [options] [-q] [TOKEN|-]\n"
    "       nexus-token inspect [--json|--human] [TOKEN|-]\n"
    "       nexus-token revoke --deny-list FILE [--note TEXT] (TOKEN|-|--jti ID)\n"
    "       nexus-token login --issuer URL --client-id ID [options] [-k KEY --ttl D]\n"
    "\n"
    "keygen:\n"
    "  -t, --type TYPE        hs256, hs384, hs512 (a secret), rs256 or es256 (a key pair)\n"
    "  -o, --output FILE      where the secret or private key goes (FILE.pub: the public key)\n"
    "      --bits N           RSA key size, 2048 to 4096 (default 2048)\n"
    "      --force            overwrite FILE and FILE.pub\n"
    "      --backends-line NAME  also print the nexus-hub --backends line granting HOST...\n"
    "thumbprint:\n"
    "  KEY                    print the RFC 7638 thumbprint (the kid) of a public or private key\n"
    "issue:\n"
    "  -k, --key FILE         HMAC secret or private key to sign with\n"
    "  -a, --alg ALG          HS256, HS384, HS512, RS256 or ES256 (default: the key's)\n"
    "      --sub S            subject\n"
    "      --iss S            issuer\n"
    "      --aud S            audience (repeatable)\n"
    "      --ttl D            lifetime (default 1h; 30s with --backend; 0: no exp)\n"
    "      --nbf D            not valid before now + D\n"
    "      --jti auto|none|ID token id (default auto: a random UUID)\n"
    "      --scope S          a scope (repeatable; joined with spaces)\n"
    "      --claim NAME=JSON  any claim, its value as JSON (repeatable)\n"
    "      --claims FILE|-    start from the JSON object in FILE\n"
    "      --kid ID           key id in the header\n"
    "      --hostname H       backend route claim: a hostname (repeatable)\n"
    "      --tcp-port N       backend route claim: a relay TCP port (repeatable)\n"
    "      --udp-route P[:D]  backend route claim: a UDP port and flow idle time (repeatable)\n"
    "      --weight N         backend route claim: its weight\n"
    "      --backend          a Nexus Proxy backend token (iss, aud, ttl, NEXUS_* environment)\n"
    "  -q, --quiet            no warnings on stderr, only fatal errors (always so with --backend)\n"
    "verify:\n"
    "  -k, --key FILE         HMAC secret, public key or certificate to check with\n"
    "      --iss S            required issuer\n"
    "      --aud S            required audience\n"
    "      --leeway D         clock skew allowed on exp/nbf/iat (default 0s)\n"
    "      --max-age D        refuse tokens issued more than D ago\n"
    "      --require CLAIM    a claim that must be present (repeatable)\n"
    "      --deny-list FILE   refuse tokens whose jti is listed\n"
    "  -q, --quiet            no warnings on stderr, only fatal errors\n"
    "inspect:\n"
    "      --json             header and claims as one JSON object (default when piped)\n"
    "      --human            readable, with times (default on a terminal)\n"
    "revoke:\n"
    "      --deny-list FILE   the deny-list to append the token's jti to\n"
    "      --jti ID           revoke this id instead of a token's\n"
    "      --note TEXT        comment stored with the id\n"
    "login (OpenID Connect; prints the verified ID token, or with -k our user token):\n"
    "      --issuer URL       the OpenID provider (https://, or http:// on loopback)\n"
    "      --client-id ID     this client's id at the provider\n"
    "      --client-secret-file FILE  a confidential client's secret\n"
    "      --scope S          an OIDC scope to ask for (repeatable; openid is added)\n"
    "      --device-flow      the device grant: print a code to enter elsewhere, poll\n"
    "      --id-token FILE|-  verify this ID token instead of logging in\n"
    "      --timeout D        give up waiting for the browser or the user (default 5m)\n"
    "      --leeway D         clock skew allowed on the ID token (default 30s)\n"
    "  -k, --key FILE         mint our user token with this key (needs --ttl)\n"
    "      --ttl D            lifetime of our token\n"
    "      --scope-map FILE   lines 'SUBJECT SCOPE...' ('*': anyone) giving our token's scope\n"
    "      --sub-claim NAME   sub (default) or email: what names the user in our token\n"
    "      --token-iss S      our token's iss (default nexus-login)\n"
    "      --token-aud S      our token's aud (default nexus-bind)\n"
    "every verb:\n"
    "      --config FILE      read options from FILE (one 'name value' per line)\n"
    "  -h, --help             this help\n"
    "  -V, --version          print the version\n"
    "\n"
    "Tokens are read from stdin when TOKEN is '-' or missing; verify checks one token per\n"
    "line when given several. Secrets are only ever read from files. Every option can also\n"
    "be set as NEXUS_TOKEN_<OPTION> in the environment.\n";

#define usage_error nx_usage_error

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

/* Options from NEXUS_TOKEN_* and --config, then argv (0, or the exit status of a failure);
 * main frees the vector when the verb
 * is done (nothing of it is used after). */
static char **expanded_argv;
static int expand_opts(int *argc, char ***argv, const struct option *lo, char *err,
                       size_t errlen)
{
	int rc = nx_opts_expand(argc, argv, "NEXUS_TOKEN_", lo, err, errlen);
	if (rc < 0)
		return nx_opts_fail(rc, err);
	expanded_argv = *argv;
	return 0;
}

/* ---- keygen ---------------------------------------------------------------------- */

/* The line to add to nexus-hub's --backends file: NAME, the public key inline, the grant. */
static int print_backends_line(const struct nx_key *k, const char *name, int nhosts,
                               char **hosts)
{
	char *spki, err[NX_ERRLEN];
	if (nx_key_spki_base64(k, &spki, err, sizeof err) < 0) {
		nx_say("--backends-line: %s", err);
		return 1;
	}
	printf("%s %s host=", name, spki);
	for (int i = 0; i < nhosts; i++)
		printf("%s%s", i ? "," : "", hosts[i]);
	printf("\n");
	free(spki);
	return fflush(stdout) == 0 ? 0 : 1;
}

static int cmd_keygen(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"type", required_argument, 0, 't'}, {"output", required_argument, 0, 'o'},
	    {"bits", required_argument, 0, 'b'}, {"force", no_argument, 0, 'f'},
	    {"backends-line", required_argument, 0, 'B'}, {"config", required_argument, 0, 'C'}, {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'}, {0, 0, 0, 0}};
	const char *type = NULL, *out = NULL, *line_name = NULL;
	long long bits = 0;
	int force = 0, c;
	char err[NX_ERRLEN];
	int erc = expand_opts(&argc, &argv, lo, err, sizeof err);
	if (erc)
		return erc;
	while ((c = getopt_long(argc, argv, ":t:o:b:fhV", lo, NULL)) != -1) {
		switch (c) {
		case 't': type = optarg; break;
		case 'o': out = optarg; break;
		case 'b':
			if (nx_parse_int(optarg, 2048, 4096, &bits, err, sizeof err) < 0)
				return usage_error("--bits: %s", err);
			break;
		case 'f': force = 1; break;
		case 'B':
			if (!*optarg || strcspn(optarg, " \t\n#") != strlen(optarg))
				return usage_error("--backends-line: bad backend name '%s'", optarg);
			line_name = optarg;
			break;
		case 'C': break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': nx_print_version("nexus-token"); return 0;
		default: return nx_usage_getopt(c, argv);
		}
	}
	if (optind != argc && !line_name)
		return usage_error("keygen: unexpected argument '%s'", argv[optind]);
	if (line_name && optind == argc)
		return usage_error("--backends-line NAME needs at least one HOST to grant");
	for (int i = optind; i < argc; i++) {
		char h[300];
		if (nx_hostname_normalize(argv[i], strlen(argv[i]), h, sizeof h, NX_HOSTNAME_WILDCARD_OK,
		                          err, sizeof err) < 0)
			return usage_error("--backends-line: '%s': %s", argv[i], err);
	}
	if (!type || !out)
		return usage_error("keygen needs -t TYPE and -o FILE");
	char up[16];
	snprintf(up, sizeof up, "%s", type);
	for (char *p = up; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	enum nx_alg alg = nx_alg_from_name(up);
	if (alg == NX_ALG_NONE)
		return usage_error("keygen: unknown key type '%s' (hs256, hs384, hs512, rs256, es256)",
		                   type);
	if (strcmp(out, "-") == 0)
		return usage_error("keygen: refusing to write a private key to stdout");
	if (line_name && alg != NX_ALG_RS256 && alg != NX_ALG_ES256)
		return usage_error("--backends-line needs a key pair (-t es256 or rs256)");
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
	int rc = line_name ? print_backends_line(k, line_name, argc - optind, argv + optind) : 0;
	nx_key_free(k);
	return rc;
}

/* ---- thumbprint ------------------------------------------------------------------ */

static int cmd_thumbprint(int argc, char **argv)
{
	static const struct option lo[] = {{"help", no_argument, 0, 'h'},
	                                   {"version", no_argument, 0, 'V'}, {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, ":hV", lo, NULL)) != -1) {
		switch (c) {
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': nx_print_version("nexus-token"); return 0;
		default: return nx_usage_getopt(c, argv);
		}
	}
	if (argc - optind != 1)
		return usage_error("thumbprint takes one KEY file");
	struct nx_key *k = load_key(argv[optind]);
	if (!k)
		return 1;
	char kid[NX_KID_MAX], err[NX_ERRLEN];
	int rc = nx_key_thumbprint(k, kid, err, sizeof err);
	nx_key_free(k);
	if (rc < 0) {
		nx_say("%s: %s", argv[optind], err);
		return 1;
	}
	printf("%s\n", kid);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- issue ----------------------------------------------------------------------- */

struct issue_cli {
	struct nx_issue_req req;
	const char *keyfile, *alg;
};

/* One issue option into the request; 0, or the exit status of a usage error. */
static int issue_opt(int c, struct issue_cli *cli, char *err, size_t errlen)
{
	struct nx_issue_req *o = &cli->req;
	int r = 0;
	switch (c) {
	case 'k': cli->keyfile = optarg; break;
	case 'a': cli->alg = optarg; break;
	case 's': o->sub = optarg; break;
	case 'i': o->iss = optarg; break;
	case 'A': r = nx_issue_push(o->aud, &o->naud, optarg, "--aud", err, errlen); break;
	case 'S': r = nx_issue_push(o->scope, &o->nscope, optarg, "--scope", err, errlen); break;
	case 'c':
		r = nx_issue_claim_ok(optarg, err, errlen);
		if (r == 0)
			r = nx_issue_push(o->claim, &o->nclaim, optarg, "--claim", err, errlen);
		break;
	case 'T':
		if (nx_parse_duration(optarg, &o->ttl_ms, err, errlen) < 0)
			return usage_error("--ttl: %s", err);
		o->ttl_set = 1;
		break;
	case 'N':
		if (nx_parse_duration(optarg, &o->nbf_ms, err, errlen) < 0)
			return usage_error("--nbf: %s", err);
		o->nbf_set = 1;
		break;
	case 'J': o->jti = optarg; break;
	case 'H':
		if (nx_claims_add_hostname(o->routes, optarg, err, errlen) < 0)
			return usage_error("--hostname: %s", err);
		break;
	case 'P':
		if (nx_claims_add_tcp_port(o->routes, optarg, err, errlen) < 0)
			return usage_error("--tcp-port: %s", err);
		break;
	case 'U':
		if (nx_claims_add_udp_route(o->routes, optarg, err, errlen) < 0)
			return usage_error("--udp-route: %s", err);
		break;
	case 'W': {
		long long w;
		if (nx_parse_int(optarg, -1000000, 1000000, &w, err, errlen) < 0)
			return usage_error("--weight: %s", err);
		json_object_set_new(o->routes, "weight", json_integer(w));
		break;
	}
	case 'F': o->claims_file = optarg; break;
	case 'K': o->kid = optarg; break;
	case 'B': o->backend = quiet = 1; break;
	case 'q': quiet = 1; break;
	default: break; /* --config: read by nx_opts_expand */
	}
	return r < 0 ? usage_error("%s", err) : 0;
}

static int issue_sign(const struct nx_issue_req *o, const char *keyfile, enum nx_alg alg)
{
	char err[NX_ERRLEN];
	struct nx_key *k = load_key(keyfile);
	if (!k)
		return 1;
	if (!nx_key_can_sign(k)) {
		nx_say("%s is a public key; issuing needs the private key", keyfile);
		nx_key_free(k);
		return 1;
	}
	if (alg == NX_ALG_NONE)
		alg = nx_key_default_alg(k);
	unsigned need = alg == NX_ALG_HS512 ? 512 : alg == NX_ALG_HS384 ? 384 : 256;
	if (!quiet && nx_key_type(k) == NX_KEY_HMAC && nx_key_bits(k) < need)
		nx_say("warning: %s is shorter than %u bytes, the minimum for %s (RFC 7518 3.2)",
		       keyfile, need / 8, nx_alg_name(alg));
	int rc = 1;
	json_t *claims = nx_issue_claims(o, nx_unix_time(), getenv, err, sizeof err);
	json_t *hx = o->kid ? json_pack("{s:s}", "kid", o->kid) : NULL;
	char *tok = NULL;
	if (!claims || nx_jws_sign(k, alg, hx, claims, &tok, err, sizeof err) < 0)
		nx_say("%s", err);
	if (tok) {
		printf("%s\n", tok);
		rc = fflush(stdout) == 0 ? 0 : 1;
	}
	free(tok);
	json_decref(hx);
	json_decref(claims);
	nx_key_free(k);
	return rc;
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
	    {"quiet", no_argument, 0, 'q'},
	    {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'},           {0, 0, 0, 0}};
	struct issue_cli cli = {.req = {.routes = json_object()}};
	char err[NX_ERRLEN];
	int c, rc = 0;
	rc = expand_opts(&argc, &argv, lo, err, sizeof err);
	while (rc == 0 && (c = getopt_long(argc, argv, ":k:a:qhV", lo, NULL)) != -1) {
		if (c == 'h' || c == 'V') {
			if (c == 'h')
				fputs(usage_text, stdout);
			else
				nx_print_version("nexus-token");
			json_decref(cli.req.routes);
			return 0;
		}
		rc = c == '?' || c == ':' ? nx_usage_getopt(c, argv) : issue_opt(c, &cli, err, sizeof err);
	}
	enum nx_alg alg = NX_ALG_NONE;
	if (rc == 0 && optind != argc)
		rc = usage_error("issue: unexpected argument '%s'", argv[optind]);
	else if (rc == 0 && !cli.keyfile)
		rc = usage_error("issue needs -k KEY");
	else if (rc == 0 && cli.alg && (alg = nx_alg_from_name(cli.alg)) == NX_ALG_NONE)
		rc = usage_error("unknown algorithm '%s' (HS256, HS384, HS512, RS256, ES256)", cli.alg);
	if (rc == 0) {
		nx_issue_defaults(&cli.req);
		rc = issue_sign(&cli.req, cli.keyfile, alg);
	}
	json_decref(cli.req.routes);
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
	    {"quiet", no_argument, 0, 'q'},
	    {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'},            {0, 0, 0, 0}};
	struct nx_claims_policy p = {0};
	const char *keyfile = NULL, *req[NX_ISSUE_MAX_LIST + 1] = {0};
	int nreq = 0, c;
	uint64_t ms;
	char err[NX_ERRLEN];
	int erc = expand_opts(&argc, &argv, lo, err, sizeof err);
	if (erc)
		return erc;
	while ((c = getopt_long(argc, argv, ":k:qhV", lo, NULL)) != -1) {
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
			if (nx_issue_push(req, &nreq, optarg, "--require", err, sizeof err) < 0)
				return usage_error("%s", err);
			break;
		case 'd': p.deny_list = optarg; break;
		case 'C': break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': nx_print_version("nexus-token"); return 0;
		default: return nx_usage_getopt(c, argv);
		}
	}
	p.required = req;
	if (!keyfile)
		return usage_error("verify needs -k KEY");
	if (argc - optind > 1)
		return usage_error("verify takes one TOKEN (or several on stdin)");
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
	                                   {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'},
	                                   {0, 0, 0, 0}};
	int c, human = isatty(1);
	while ((c = getopt_long(argc, argv, ":hV", lo, NULL)) != -1) {
		switch (c) {
		case 'j': human = 0; break;
		case 'H': human = 1; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': nx_print_version("nexus-token"); return 0;
		default: return nx_usage_getopt(c, argv);
		}
	}
	if (argc - optind > 1)
		return usage_error("inspect takes one TOKEN");
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
	    {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'},            {0, 0, 0, 0}};
	const char *list = NULL, *jti = NULL, *note = NULL;
	int c;
	char err[NX_ERRLEN], notebuf[512];
	int erc = expand_opts(&argc, &argv, lo, err, sizeof err);
	if (erc)
		return erc;
	while ((c = getopt_long(argc, argv, ":hV", lo, NULL)) != -1) {
		switch (c) {
		case 'd': list = optarg; break;
		case 'j': jti = optarg; break;
		case 'n': note = optarg; break;
		case 'C': break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': nx_print_version("nexus-token"); return 0;
		default: return nx_usage_getopt(c, argv);
		}
	}
	if (!list)
		return usage_error("revoke needs --deny-list FILE");
	if (jti && optind < argc)
		return usage_error("revoke takes a TOKEN or --jti ID, not both");
	if (argc - optind > 1)
		return usage_error("revoke takes one TOKEN");
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

/* ---- login: the work is in lib/oauth/login.c ---------------------------------------- */

static int cmd_login(int argc, char **argv)
{
	enum { L_ISSUER = 256, L_CLIENT, L_SECRET, L_SCOPE, L_DEVICE, L_IDTOK, L_TIMEOUT, L_LEEWAY,
	       L_TTL, L_MAP, L_SUBCLAIM, L_TISS, L_TAUD };
	static const struct option lo[] = {
	    {"issuer", required_argument, 0, L_ISSUER}, {"client-id", required_argument, 0, L_CLIENT},
	    {"client-secret-file", required_argument, 0, L_SECRET},
	    {"scope", required_argument, 0, L_SCOPE},   {"device-flow", no_argument, 0, L_DEVICE},
	    {"id-token", required_argument, 0, L_IDTOK}, {"timeout", required_argument, 0, L_TIMEOUT},
	    {"leeway", required_argument, 0, L_LEEWAY}, {"key", required_argument, 0, 'k'},
	    {"ttl", required_argument, 0, L_TTL},       {"scope-map", required_argument, 0, L_MAP},
	    {"sub-claim", required_argument, 0, L_SUBCLAIM},
	    {"token-iss", required_argument, 0, L_TISS}, {"token-aud", required_argument, 0, L_TAUD},
	    {"config", required_argument, 0, 'C'},      {"help", no_argument, 0, 'h'},
	    {"version", no_argument, 0, 'V'},           {0, 0, 0, 0}};
	struct nx_login l = {.leeway = -1, .show = nx_oidc_show_say};
	char err[NX_ERRLEN], scope[1024] = "";
	size_t sl = 0;
	uint64_t ms;
	int c;
	if (expand_opts(&argc, &argv, lo, err, sizeof err) < 0)
		return usage_error("%s", err);
	while ((c = getopt_long(argc, argv, ":k:hV", lo, NULL)) != -1) {
		switch (c) {
		case L_ISSUER: l.issuer = optarg; break;
		case L_CLIENT: l.client_id = optarg; break;
		case L_SECRET: l.client_secret_file = optarg; break;
		case L_DEVICE: l.device_flow = 1; break;
		case L_IDTOK: l.id_token_file = optarg; break;
		case 'k': l.key_file = optarg; break;
		case L_MAP: l.scope_map = optarg; break;
		case L_TISS: l.our_iss = optarg; break;
		case L_TAUD: l.our_aud = optarg; break;
		case L_SUBCLAIM:
			if (strcmp(optarg, "sub") && strcmp(optarg, "email"))
				return usage_error("--sub-claim: sub or email, not '%s'", optarg);
			l.sub_claim = optarg;
			break;
		case L_SCOPE:
			if (!*optarg || strchr(optarg, ' ') || sl + strlen(optarg) + 2 > sizeof scope)
				return usage_error("--scope: '%s' is not one scope", optarg);
			sl += (size_t)snprintf(scope + sl, sizeof scope - sl, "%s%s", sl ? " " : "", optarg);
			break;
		case L_TIMEOUT:
		case L_LEEWAY:
		case L_TTL:
			if (nx_parse_duration(optarg, &ms, err, sizeof err) < 0)
				return usage_error("--%s: %s", c == L_TTL ? "ttl" : c == L_LEEWAY ? "leeway" : "timeout", err);
			if (c == L_TTL && (ms < 1000 || ms > 366ull * 86400000))
				return usage_error("--ttl: between 1s and 366d");
			if (c == L_TIMEOUT && (ms < 1000 || ms > 86400000))
				return usage_error("--timeout: between 1s and 1d");
			if (c == L_LEEWAY && ms > 600000)
				return usage_error("--leeway: at most 10m");
			if (c == L_TTL)
				l.ttl_ms = ms;
			else if (c == L_LEEWAY)
				l.leeway = (long)(ms / 1000);
			else
				l.timeout_s = (int)(ms / 1000);
			break;
		case 'C': break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': nx_print_version("nexus-token"); return 0;
		default: return nx_usage_getopt(c, argv);
		}
	}
	if (optind < argc)
		return usage_error("login takes no arguments ('%s')", argv[optind]);
	if (!l.issuer || !l.client_id)
		return usage_error("login needs --issuer and --client-id");
	if (l.key_file && !l.ttl_ms)
		return usage_error("-k needs --ttl (the lifetime of the token to mint)");
	if (!l.key_file && (l.ttl_ms || l.scope_map || l.sub_claim || l.our_iss || l.our_aud))
		return usage_error("--ttl, --scope-map, --sub-claim, --token-iss and --token-aud need -k");
	if (l.device_flow && l.id_token_file)
		return usage_error("--device-flow and --id-token exclude each other");
	l.scope = scope;
	char *out = NULL;
	if (nx_login_run(&l, &out, err, sizeof err) < 0)
		return nx_say("login failed: %s", err), 1;
	printf("%s\n", out);
	nx_free_secret(out, strlen(out));
	return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	nx_log_setup("nexus-token", NX_LOG_PLAIN, NX_LOG_INFO);
	nx_oauth_json_wipe_frees(); /* tokens pass through jansson: wipe what it frees */
	if (argc < 2)
		return usage_error("a verb is needed: keygen, thumbprint, issue, verify, inspect, revoke or login");
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
	} verbs[] = {{"keygen", cmd_keygen}, {"thumbprint", cmd_thumbprint}, {"issue", cmd_issue}, {"verify", cmd_verify},
	             {"inspect", cmd_inspect}, {"revoke", cmd_revoke}, {"login", cmd_login}};
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
		if (strcmp(verb, verbs[i].name) != 0)
			continue;
		int rc = verbs[i].run(argc - 1, argv + 1);
		nx_opts_free(expanded_argv);
		return rc;
	}
	return usage_error("unknown verb '%s' (keygen, thumbprint, issue, verify, inspect, revoke, login)", verb);
}
