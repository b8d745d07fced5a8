// libcurl loaded at run time: one dlopen per process, its functions through a table filled by dlsym, and the
// curl_* names Swift calls defined here as forwarders through that table. See shim.h and "libcurl loaded on demand"
// in docs/ARCHITECTURE.md.
//
// The forwarders have hidden visibility (the pragma covers the declarations from curl.h too), so they are never
// exported from the executable and cannot interpose on libcurl's own calls to its exported functions. The C library
// headers curl.h includes come first, so that their declarations keep default visibility.
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>

#pragma GCC visibility push(hidden)
#include "shim.h"
#pragma GCC visibility pop

/// The soname of libcurl's ABI 4 (Debian's libcurl4 package: the OpenSSL flavour; GnuTLS's is libcurl-gnutls.so.4).
#define SS_CURL_SONAME "libcurl.so.4"

// X(name): every libcurl function the package calls.
#define SS_CURL_FUNCTIONS(X)                                                                                          \
    X(curl_global_init)                                                                                               \
    X(curl_free)                                                                                                      \
    X(curl_easy_init)                                                                                                 \
    X(curl_easy_cleanup)                                                                                              \
    X(curl_easy_setopt)                                                                                               \
    X(curl_easy_getinfo)                                                                                              \
    X(curl_easy_pause)                                                                                                \
    X(curl_easy_strerror)                                                                                             \
    X(curl_slist_append)                                                                                              \
    X(curl_slist_free_all)                                                                                            \
    X(curl_multi_init)                                                                                                \
    X(curl_multi_cleanup)                                                                                             \
    X(curl_multi_setopt)                                                                                              \
    X(curl_multi_add_handle)                                                                                          \
    X(curl_multi_remove_handle)                                                                                       \
    X(curl_multi_perform)                                                                                             \
    X(curl_multi_poll)                                                                                                \
    X(curl_multi_wakeup)                                                                                              \
    X(curl_multi_info_read)                                                                                           \
    X(curl_multi_strerror)                                                                                            \
    X(curl_url)                                                                                                       \
    X(curl_url_cleanup)                                                                                               \
    X(curl_url_set)                                                                                                   \
    X(curl_url_get)                                                                                                   \
    X(curl_url_strerror)

static struct {
#define SS_FIELD(name) __typeof__(&name) name;
    SS_CURL_FUNCTIONS(SS_FIELD)
#undef SS_FIELD
} ss_curl;

static pthread_once_t ss_curl_once = PTHREAD_ONCE_INIT;
static atomic_int ss_curl_state; // 0: not loaded (yet), 1: loaded, -1: failed
static const char *ss_curl_failure;
static char ss_curl_failure_buffer[512];

// Records the load's failure: `what`, then `detail` (when there is one) after a colon.
static void ss_curl_fail_with(const char *what, const char *detail) {
    snprintf(ss_curl_failure_buffer, sizeof ss_curl_failure_buffer, "%s%s%s", what, detail ? ": " : "",
             detail ? detail : "");
    ss_curl_failure = ss_curl_failure_buffer;
    atomic_store(&ss_curl_state, -1);
}

// Records a failure of the dynamic loader's (its `dlerror()` the detail).
static void ss_curl_fail(const char *what) { ss_curl_fail_with(what, dlerror()); }

static void ss_curl_load_once(void) {
    void *library = dlopen(SS_CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        ss_curl_fail("cannot load " SS_CURL_SONAME);
        return;
    }
#define SS_RESOLVE(name)                                                                                              \
    ss_curl.name = (__typeof__(&name))dlsym(library, #name);                                                          \
    if (ss_curl.name == NULL) {                                                                                       \
        ss_curl_fail(SS_CURL_SONAME " lacks " #name " (libcurl older than 7.80?)");                                \
        return;                                                                                                       \
    }
    SS_CURL_FUNCTIONS(SS_RESOLVE)
#undef SS_RESOLVE
    CURLcode rc = ss_curl.curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        ss_curl_fail_with("curl_global_init failed", ss_curl.curl_easy_strerror(rc));
        return;
    }
    atomic_store(&ss_curl_state, 1);
}

int ss_curl_load(const char **reason) {
    if (atomic_load_explicit(&ss_curl_state, memory_order_acquire) != 1) {
        pthread_once(&ss_curl_once, ss_curl_load_once);
    }
    if (atomic_load(&ss_curl_state) == 1) return 0;
    if (reason != NULL) *reason = ss_curl_failure;
    return -1;
}


// Forwarders. Each makes sure the library is loaded first (one atomic load once it is) and, when it cannot be,
// returns what the function returns on failure; Swift reports the load failure itself before it gets here
// (CurlLibrary.load()).
#define SS_READY (ss_curl_load(NULL) == 0)

void curl_free(void *p) { if (SS_READY) ss_curl.curl_free(p); }
CURL *curl_easy_init(void) { return SS_READY ? ss_curl.curl_easy_init() : NULL; }
void curl_easy_cleanup(CURL *h) { if (SS_READY) ss_curl.curl_easy_cleanup(h); }
const char *curl_easy_strerror(CURLcode c) {
    return SS_READY ? ss_curl.curl_easy_strerror(c) : "libcurl (" SS_CURL_SONAME ") is not loaded";
}
struct curl_slist *curl_slist_append(struct curl_slist *l, const char *s) {
    return SS_READY ? ss_curl.curl_slist_append(l, s) : NULL;
}
void curl_slist_free_all(struct curl_slist *l) { if (SS_READY) ss_curl.curl_slist_free_all(l); }
CURLM *curl_multi_init(void) { return SS_READY ? ss_curl.curl_multi_init() : NULL; }
CURLMcode curl_multi_cleanup(CURLM *m) { return SS_READY ? ss_curl.curl_multi_cleanup(m) : CURLM_INTERNAL_ERROR; }
CURLMcode curl_multi_add_handle(CURLM *m, CURL *h) {
    return SS_READY ? ss_curl.curl_multi_add_handle(m, h) : CURLM_INTERNAL_ERROR;
}
CURLMcode curl_multi_remove_handle(CURLM *m, CURL *h) {
    return SS_READY ? ss_curl.curl_multi_remove_handle(m, h) : CURLM_INTERNAL_ERROR;
}
CURLMcode curl_multi_perform(CURLM *m, int *running) {
    return SS_READY ? ss_curl.curl_multi_perform(m, running) : CURLM_INTERNAL_ERROR;
}
CURLMcode curl_multi_poll(CURLM *m, struct curl_waitfd extra_fds[], unsigned int extra_nfds, int timeout_ms,
                          int *ret) {
    return SS_READY ? ss_curl.curl_multi_poll(m, extra_fds, extra_nfds, timeout_ms, ret) : CURLM_INTERNAL_ERROR;
}
CURLMcode curl_multi_wakeup(CURLM *m) { return SS_READY ? ss_curl.curl_multi_wakeup(m) : CURLM_INTERNAL_ERROR; }
CURLMsg *curl_multi_info_read(CURLM *m, int *queued) {
    return SS_READY ? ss_curl.curl_multi_info_read(m, queued) : NULL;
}
const char *curl_multi_strerror(CURLMcode c) {
    return SS_READY ? ss_curl.curl_multi_strerror(c) : "libcurl (" SS_CURL_SONAME ") is not loaded";
}
CURLU *curl_url(void) { return SS_READY ? ss_curl.curl_url() : NULL; }
void curl_url_cleanup(CURLU *u) { if (SS_READY) ss_curl.curl_url_cleanup(u); }
CURLUcode curl_url_set(CURLU *u, CURLUPart what, const char *part, unsigned int flags) {
    return SS_READY ? ss_curl.curl_url_set(u, what, part, flags) : CURLUE_OUT_OF_MEMORY;
}
CURLUcode curl_url_get(CURLU *u, CURLUPart what, char **part, unsigned int flags) {
    return SS_READY ? ss_curl.curl_url_get(u, what, part, flags) : CURLUE_OUT_OF_MEMORY;
}
const char *curl_url_strerror(CURLUcode c) {
    return SS_READY ? ss_curl.curl_url_strerror(c) : "libcurl (" SS_CURL_SONAME ") is not loaded";
}

// The typed wrappers for the variadic calls: the argument goes through the variadic pointer with its exact type.
#define SS_EASY_SETOPT(h, o, v) (SS_READY ? ss_curl.curl_easy_setopt(h, o, v) : CURLE_FAILED_INIT)
#define SS_EASY_GETINFO(h, i, v) (SS_READY ? ss_curl.curl_easy_getinfo(h, i, v) : CURLE_FAILED_INIT)

CURLcode ss_easy_setopt_long(CURL *h, CURLoption o, long v) { return SS_EASY_SETOPT(h, o, v); }
CURLcode ss_easy_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return SS_EASY_SETOPT(h, o, v); }
CURLcode ss_easy_setopt_string(CURL *h, CURLoption o, const char *v) { return SS_EASY_SETOPT(h, o, v); }
CURLcode ss_easy_setopt_pointer(CURL *h, CURLoption o, void *v) { return SS_EASY_SETOPT(h, o, v); }
CURLcode ss_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return SS_EASY_SETOPT(h, o, v); }
CURLcode ss_easy_setopt_data_callback(CURL *h, CURLoption o, ss_curl_data_callback v) {
    return SS_EASY_SETOPT(h, o, v);
}
CURLcode ss_easy_setopt_xferinfo_callback(CURL *h, ss_curl_xferinfo_callback v) {
    return SS_EASY_SETOPT(h, CURLOPT_XFERINFOFUNCTION, v);
}
CURLcode ss_easy_setopt_blob_copy(CURL *h, CURLoption o, const void *data, size_t len) {
    struct curl_blob blob;
    blob.data = (void *)data;
    blob.len = len;
    blob.flags = CURL_BLOB_COPY;
    return SS_EASY_SETOPT(h, o, &blob);
}
CURLcode ss_easy_getinfo_long(CURL *h, CURLINFO i, long *v) { return SS_EASY_GETINFO(h, i, v); }
CURLcode ss_easy_getinfo_off(CURL *h, CURLINFO i, curl_off_t *v) { return SS_EASY_GETINFO(h, i, v); }
CURLcode ss_easy_getinfo_string(CURL *h, CURLINFO i, char **v) { return SS_EASY_GETINFO(h, i, v); }
CURLcode ss_easy_getinfo_pointer(CURL *h, CURLINFO i, void **v) { return SS_EASY_GETINFO(h, i, v); }
CURLMcode ss_multi_setopt_long(CURLM *m, CURLMoption o, long v) {
    return SS_READY ? ss_curl.curl_multi_setopt(m, o, v) : CURLM_INTERNAL_ERROR;
}
CURLcode ss_easy_unpause(CURL *h) { return SS_READY ? ss_curl.curl_easy_pause(h, CURLPAUSE_CONT) : CURLE_FAILED_INIT; }
