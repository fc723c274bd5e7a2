/* tunnel_hint.c — which hub refusals retrying cannot fix, and what the user should change
 * instead. Pure functions of what the hub said (close reason, HTTP status, TLS error). */
#include <bearssl.h>
#include <string.h>

#include "tunnel/tunnel.h"

bool nx_tunnel_refusal_permanent(uint16_t code, const char *reason)
{
	if (code != 1008)
		return false;
	/* a deadline missed (slow token command, slow link) may go better next time */
	return !(reason && strstr(reason, "in time"));
}

const char *nx_tunnel_hint_refusal(const char *reason)
{
	static const struct {
		const char *needle, *hint;
	} rules[] = {
	    {"signature", "--secret-file must hold the hub's secret (or the key matching its "
	                  "--verify-key)"},
	    {"algorithm", "--secret-file must hold the hub's secret (or the key matching its "
	                  "--verify-key)"},
	    {"revoked", "this token's id is on the hub's deny-list: get a new token"},
	    {"expired", "check this machine's clock (and the token command's --ttl)"},
	    {"not yet valid", "check this machine's clock"},
	    {"too old", "check this machine's clock (the token's iat is too old)"},
	    {"issuer", "tokens need iss \"authorizer\" (nexus-token issue --backend sets it)"},
	    {"audience", "tokens need aud \"nexus\" (nexus-token issue --backend sets it)"},
	    {"not granted", "the hub's --backends file does not grant this key that name or port: "
	                    "claim a granted one, or ask for the grant"},
	    {"unknown key", "the hub does not know this --key: add its line to the hub's --backends "
	                    "file (nexus-token keygen --backends-line; kid: nexus-token thumbprint)"},
	    {"backend key", "the hub's --backends file no longer lists this --key"},
	    {"tcp port", "the hub does not allow that --tcp-port: drop it, or have the hub add "
	                 "--allow-tcp-port"},
	    {"udp port", "the hub does not allow that --udp-port: drop it, or have the hub add "
	                 "--allow-udp-port"},
	    {"held by", "another backend serves that --hostname on this hub: pick another name "
	                "or stop the other tunnel"},
	    {"hostname", "the hub refused a --hostname claim: check the names"},
	    {"differ", "stage 0 and stage 1 tokens must claim the same routes and weight (fix "
	               "--token-cmd)"},
	    {"nonce", "the stage 1 token must carry the hub's nonce (fix --token-cmd: it gets "
	              "NEXUS_SESSION_NONCE)"},
	};
	for (size_t i = 0; reason && i < sizeof rules / sizeof rules[0]; i++)
		if (strstr(reason, rules[i].needle))
			return rules[i].hint;
	return "check --secret-file or --token-cmd and the claimed --hostname/--tcp-port";
}

bool nx_tunnel_http_permanent(int status)
{
	/* 408 and 429 say "later"; 5xx is a hub (or a proxy in front) in trouble */
	return status >= 400 && status < 500 && status != 408 && status != 429;
}

const char *nx_tunnel_hint_http(int status)
{
	if (status == 404)
		return "the hub takes backends on /connect: check the path in --hub";
	return "check the --hub URL (is it the hub's backend port?)";
}

bool nx_tunnel_cert_permanent(int br_err)
{
	return br_err > BR_ERR_X509_OK && br_err < BR_ERR_X509_OK + 32; /* X509_OK itself is none */
}

const char *nx_tunnel_hint_cert(int br_err)
{
	switch (br_err) {
	case BR_ERR_X509_BAD_SERVER_NAME:
		return "give --servername with a name the hub's certificate carries";
	case BR_ERR_X509_NOT_TRUSTED:
		return "give --cafile with the CA (or the certificate) the hub's certificate comes "
		       "from";
	case BR_ERR_X509_EXPIRED:
		return "the hub needs a valid certificate (or this machine's clock is wrong)";
	default:
		return "check the hub's certificate and --cafile";
	}
}
