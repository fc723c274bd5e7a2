/* curl_lazy.c — libcurl, loaded the first time a program makes an HTTP request.
 *
 * Linking libcurl costs every process about 6 MB of resident memory before main() runs: it
 * pulls in OpenSSL, GnuTLS, Kerberos, LDAP, libssh2 and their constructors. nexus-hub and
 * nexus-tunnel need HTTP only with --verify-url, ACME or a login, so a hub and a tunnel
 * carrying traffic paid 12 MB for nothing. The programs are linked without -lcurl; these
 * definitions of the curl_* functions they call dlopen libcurl.so.4 on first use and call
 * through. Types and constants still come from <curl/curl.h>.
 *
 * If libcurl cannot be loaded, each call fails the way libcurl itself reports failure (NULL,
 * CURLE_FAILED_INIT, CURLM_INTERNAL_ERROR), and curl_easy_strerror says why. */
#define CURL_DISABLE_TYPECHECK /* we define the functions the checking macros wrap */
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#define CURL_SONAME "libcurl.so.4"

static struct {
	void *h;
	char why[300];
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	void (*easy_cleanup)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	char *(*easy_escape)(CURL *, const char *, int);
	void (*free)(void *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	curl_version_info_data *(*version_info)(CURLversion);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_assign)(CURLM *, curl_socket_t, void *);
	CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	CURLMcode (*multi_cleanup)(CURLM *);
} api;

static pthread_once_t once = PTHREAD_ONCE_INIT;

#define SYM(field, name)                                                                      \
	do {                                                                                      \
		*(void **)&api.field = dlsym(api.h, name);                                            \
		if (!api.field) {                                                                     \
			snprintf(api.why, sizeof api.why, "%s has no %s", CURL_SONAME, name);            \
			return;                                                                           \
		}                                                                                     \
	} while (0)

static void load(void)
{
	void *h = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();
		snprintf(api.why, sizeof api.why, "cannot load the HTTP client library: %s",
		         e ? e : CURL_SONAME);
		return;
	}
	api.h = h;
	SYM(global_init, "curl_global_init");
	SYM(easy_init, "curl_easy_init");
	SYM(easy_setopt, "curl_easy_setopt");
	SYM(easy_perform, "curl_easy_perform");
	SYM(easy_cleanup, "curl_easy_cleanup");
	SYM(easy_getinfo, "curl_easy_getinfo");
	SYM(easy_strerror, "curl_easy_strerror");
	SYM(easy_escape, "curl_easy_escape");
	SYM(free, "curl_free");
	SYM(slist_append, "curl_slist_append");
	SYM(slist_free_all, "curl_slist_free_all");
	SYM(version_info, "curl_version_info");
	SYM(multi_init, "curl_multi_init");
	SYM(multi_setopt, "curl_multi_setopt");
	SYM(multi_add_handle, "curl_multi_add_handle");
	SYM(multi_remove_handle, "curl_multi_remove_handle");
	SYM(multi_assign, "curl_multi_assign");
	SYM(multi_socket_action, "curl_multi_socket_action");
	SYM(multi_info_read, "curl_multi_info_read");
	SYM(multi_cleanup, "curl_multi_cleanup");
	api.why[0] = 0; /* all there */
}

/* 1 when libcurl is usable. */
static int ready(void)
{
	pthread_once(&once, load);
	return api.h && !api.why[0];
}

CURLcode curl_global_init(long flags) { return ready() ? api.global_init(flags) : CURLE_FAILED_INIT; }
CURL *curl_easy_init(void) { return ready() ? api.easy_init() : NULL; }
CURLcode curl_easy_perform(CURL *c) { return ready() ? api.easy_perform(c) : CURLE_FAILED_INIT; }
void curl_easy_cleanup(CURL *c)
{
	if (c && ready())
		api.easy_cleanup(c);
}

const char *curl_easy_strerror(CURLcode e)
{
	if (!ready())
		return api.why;
	return api.easy_strerror(e);
}

char *curl_easy_escape(CURL *c, const char *s, int n)
{
	return ready() ? api.easy_escape(c, s, n) : NULL;
}

void curl_free(void *p)
{
	if (p && ready())
		api.free(p);
}

struct curl_slist *curl_slist_append(struct curl_slist *l, const char *s)
{
	return ready() ? api.slist_append(l, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *l)
{
	if (l && ready())
		api.slist_free_all(l);
}

curl_version_info_data *curl_version_info(CURLversion v)
{
	return ready() ? api.version_info(v) : NULL;
}

/* fn(h, opt, arg) with the one argument of the type opt's number says (curl.h:
 * CURLOPTTYPE_*; multi options are numbered the same way). Only one va_arg runs. */
#define CALL_WITH_ARG(fn, h, opt, ap)                                                          \
	((opt) < CURLOPTTYPE_OBJECTPOINT     ? fn(h, opt, va_arg(ap, long))                        \
	 : (opt) < CURLOPTTYPE_FUNCTIONPOINT ? fn(h, opt, va_arg(ap, void *))                      \
	 : (opt) < CURLOPTTYPE_OFF_T         ? fn(h, opt, va_arg(ap, void (*)(void)))              \
	 : (opt) < CURLOPTTYPE_BLOB          ? fn(h, opt, va_arg(ap, curl_off_t))                  \
	                                     : fn(h, opt, va_arg(ap, void *)))

/* curl_easy_setopt and curl_multi_setopt: the same forwarding for two handle types */
#define SETOPT(name, handle_t, option_t, result_t, failed, field)                              \
	result_t name(handle_t h, option_t opt, ...)                                              \
	{                                                                                         \
		if (!ready())                                                                         \
			return failed;                                                                    \
		va_list ap;                                                                           \
		va_start(ap, opt);                                                                    \
		result_t r = CALL_WITH_ARG(api.field, h, opt, ap);                                    \
		va_end(ap);                                                                           \
		return r;                                                                             \
	}
SETOPT(curl_easy_setopt, CURL *, CURLoption, CURLcode, CURLE_FAILED_INIT, easy_setopt)
SETOPT(curl_multi_setopt, CURLM *, CURLMoption, CURLMcode, CURLM_INTERNAL_ERROR, multi_setopt)

CURLcode curl_easy_getinfo(CURL *c, CURLINFO info, ...)
{
	if (!ready())
		return CURLE_FAILED_INIT;
	va_list ap;
	va_start(ap, info);
	CURLcode r = api.easy_getinfo(c, info, va_arg(ap, void *)); /* always a pointer */
	va_end(ap);
	return r;
}

CURLM *curl_multi_init(void) { return ready() ? api.multi_init() : NULL; }

CURLMcode curl_multi_add_handle(CURLM *m, CURL *c)
{
	return ready() ? api.multi_add_handle(m, c) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_remove_handle(CURLM *m, CURL *c)
{
	return ready() ? api.multi_remove_handle(m, c) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_assign(CURLM *m, curl_socket_t s, void *p)
{
	return ready() ? api.multi_assign(m, s, p) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_socket_action(CURLM *m, curl_socket_t s, int ev, int *running)
{
	return ready() ? api.multi_socket_action(m, s, ev, running) : CURLM_INTERNAL_ERROR;
}

CURLMsg *curl_multi_info_read(CURLM *m, int *left) { return ready() ? api.multi_info_read(m, left) : NULL; }

CURLMcode curl_multi_cleanup(CURLM *m)
{
	return ready() ? api.multi_cleanup(m) : CURLM_INTERNAL_ERROR;
}
