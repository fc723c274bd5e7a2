/* connect.h — nexus-vault connect: an OAuth credential obtained from an OpenID provider
 * (lib/oauth: discovery, the code flow with PKCE and a loopback redirect, or the device
 * grant), ready to be stored and refreshed: access and refresh token, expiry, scopes, the
 * token endpoint, the client (and its secret, sealed with the rest, when it has one).
 *
 * offline_access is asked for (with prompt=consent in the code flow, as OpenID Connect
 * Core §11 wants), since a credential that cannot be refreshed dies with its access token;
 * a provider that grants no refresh token still gives a storable credential. */
#ifndef NEXUS_VAULT_CONNECT_H
#define NEXUS_VAULT_CONNECT_H
#include <jansson.h>
#include <stddef.h>

#include "oauth/oidc.h"

struct nx_vault_connect {
	const char *issuer, *client_id;
	const char *client_secret_file; /* NULL: a public client */
	const char *scope;              /* space-separated; openid and offline_access added */
	int device_flow, timeout_s;
	nx_oidc_show_fn show;
	void *show_arg;
};

/* Run the flow; *cred: an oauth credential that nx_cred_parse accepts (free it with
 * nx_oauth_json_free_secret). */
int nx_vault_connect(const struct nx_vault_connect *c, json_t **cred, char *err,
                     size_t errlen);

#endif
