/* kafkaprops.c — see kafkaprops.h. */
#include "bridge/kafkaprops.h"
#include "core/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROP_FILE_MAX (1u << 20)

/* librdkafka's secret-bearing properties (CONFIGURATION.md), and any name that says so. */
static const char *const secret_props[] = {
    "sasl.password",           "ssl.key.password",       "ssl.keystore.password",
    "sasl.oauthbearer.client.secret", "ssl.key.pem",     "ssl_key",
    "sasl.oauthbearer.config", "sasl.oauthbearer.assertion.private.key.passphrase",
    "sasl.oauthbearer.assertion.private.key.pem",
};

int nx_kafka_prop_is_secret(const char *name, size_t len)
{
	char low[256];
	if (len >= sizeof low)
		len = sizeof low - 1;
	for (size_t i = 0; i < len; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	low[len] = '\0';
	for (size_t i = 0; i < sizeof secret_props / sizeof *secret_props; i++)
		if (strcmp(low, secret_props[i]) == 0)
			return 1;
	return strstr(low, "password") || strstr(low, "secret") || strstr(low, "passphrase") ||
	       strstr(low, "private.key");
}

static void env_name(char *dst, size_t n, const char *name, size_t len)
{
	size_t o = (size_t)snprintf(dst, n, "%s", NX_KAFKA_ENV_PREFIX);
	for (size_t i = 0; i < len && o + 1 < n; i++)
		dst[o++] = name[i] == '.' || name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
	dst[o < n ? o : n - 1] = '\0';
}

static int prop_name(const char *kv, size_t *len, char *err, size_t errlen)
{
	const char *eq = strchr(kv, '=');
	if (!eq || eq == kv || eq - kv >= 200) {
		char safe[64];
		/* no '=': nothing here is a value, so naming it shows no secret */
		return nx_err(err, errlen, "bad Kafka property '%s': want name=value",
		              eq ? "(name too long)" : nx_sanitize(safe, sizeof safe, kv, strlen(kv)));
	}
	*len = (size_t)(eq - kv);
	return 0;
}

int nx_kafka_props_check_argv(char *const *props, int n, char *err, size_t errlen)
{
	for (int i = 0; i < n; i++) {
		size_t len;
		if (prop_name(props[i], &len, err, errlen) < 0)
			return -1;
		const char *v = props[i] + len + 1;
		if (v[0] == '@') {
			if (!v[1])
				return nx_err(err, errlen, "%.*s=@: no file name", (int)len, props[i]);
			continue;
		}
		if (nx_kafka_prop_is_secret(props[i], len)) {
			char env[300];
			env_name(env, sizeof env, props[i], len);
			return nx_err(err, errlen, "%.*s is a secret: not on the command line (ps shows "
			                           "it); give %.*s=@FILE or $%s", (int)len, props[i],
			              (int)len, props[i], env);
		}
	}
	return 0;
}

static char *join(const char *name, size_t len, const char *v, size_t vlen)
{
	char *s = malloc(len + vlen + 2);
	if (s) {
		memcpy(s, name, len);
		s[len] = '=';
		memcpy(s + len + 1, v, vlen);
		s[len + 1 + vlen] = '\0';
	}
	return s;
}

static int given(char *const *props, int n, const char *name)
{
	size_t len = strlen(name);
	for (int i = 0; i < n; i++)
		if (strncasecmp(props[i], name, len) == 0 && props[i][len] == '=')
			return 1;
	return 0;
}

int nx_kafka_props_load(char *const *props, int n, char ***out, int *nout, int max,
                        char *(*getenv_fn)(const char *), char *err, size_t errlen)
{
	const int nsec = (int)(sizeof secret_props / sizeof *secret_props);
	char **o = calloc((size_t)(n + nsec) + 1, sizeof *o);
	int k = 0;
	*out = NULL, *nout = 0;
	if (!o)
		return nx_err(err, errlen, "out of memory");
	for (int i = 0; i < n; i++) {
		size_t len;
		if (prop_name(props[i], &len, err, errlen) < 0)
			goto fail;
		const char *v = props[i] + len + 1;
		if (v[0] != '@') {
			o[k++] = strdup(props[i]);
		} else {
			char *buf, e2[NX_ERRLEN];
			size_t blen;
			if (nx_read_file(v + 1, PROP_FILE_MAX, &buf, &blen, e2, sizeof e2) < 0) {
				nx_err(err, errlen, "-X %.*s: %s", (int)len, props[i], e2);
				goto fail;
			}
			size_t cap = blen + 1;
			while (blen && (buf[blen - 1] == '\n' || buf[blen - 1] == '\r'))
				blen--;
			if (memchr(buf, '\0', blen)) {
				nx_free_secret(buf, cap);
				nx_err(err, errlen, "-X %.*s: %s holds a NUL byte", (int)len, props[i], v + 1);
				goto fail;
			}
			o[k++] = join(props[i], len, buf, blen);
			nx_free_secret(buf, cap);
		}
		if (!o[k - 1]) {
			nx_err(err, errlen, "out of memory");
			goto fail;
		}
	}
	for (int i = 0; i < nsec; i++) {
		char env[300];
		env_name(env, sizeof env, secret_props[i], strlen(secret_props[i]));
		const char *v = getenv_fn ? getenv_fn(env) : NULL;
		if (!v || given(props, n, secret_props[i]))
			continue;
		if (!(o[k++] = join(secret_props[i], strlen(secret_props[i]), v, strlen(v)))) {
			nx_err(err, errlen, "out of memory");
			goto fail;
		}
	}
	if (k > max) {
		nx_err(err, errlen, "too many Kafka properties (at most %d)", max);
		goto fail;
	}
	*out = o, *nout = k;
	return 0;
fail:
	nx_kafka_props_free(o, k);
	return -1;
}

void nx_kafka_props_free(char **props, int n)
{
	if (!props)
		return;
	for (int i = 0; i < n; i++)
		if (props[i])
			nx_free_secret(props[i], strlen(props[i]));
	free(props);
}
