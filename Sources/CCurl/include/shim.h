// libcurl, loaded at run time (ccurl.c): the executable does not link libcurl, so a process that makes no request
// never maps it and its ~32 libraries ("libcurl loaded on demand" in docs/ARCHITECTURE.md). The declarations and
// constants come from libcurl's headers; the curl_* functions Swift calls are defined in ccurl.c as forwarders
// through a table filled by dlsym. Typed, non-variadic wrappers stand in for the variadic setopt/getinfo calls,
// which Swift cannot call; each fixes the argument type.
#ifndef SMART_SYNC_CCURL_SHIM_H
#define SMART_SYNC_CCURL_SHIM_H

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <sys/types.h>

typedef size_t (*ss_curl_data_callback)(char *ptr, size_t size, size_t nmemb, void *userdata);
typedef int (*ss_curl_xferinfo_callback)(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
                                         curl_off_t ultotal, curl_off_t ulnow);

/// Loads libcurl once per process (`dlopen("libcurl.so.4")`, its functions, `curl_global_init`) and returns 0 when
/// it is usable; otherwise -1 and, through `reason`, the loader's message (static storage, never freed). Thread-safe.
int ss_curl_load(const char **reason);

CURLcode ss_easy_setopt_long(CURL *h, CURLoption o, long v);
CURLcode ss_easy_setopt_off(CURL *h, CURLoption o, curl_off_t v);
CURLcode ss_easy_setopt_string(CURL *h, CURLoption o, const char *v);
CURLcode ss_easy_setopt_pointer(CURL *h, CURLoption o, void *v);
CURLcode ss_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v);
CURLcode ss_easy_setopt_data_callback(CURL *h, CURLoption o, ss_curl_data_callback v);
CURLcode ss_easy_setopt_xferinfo_callback(CURL *h, ss_curl_xferinfo_callback v);

/// Sets a blob option (e.g. CURLOPT_CAINFO_BLOB); libcurl copies the bytes (CURL_BLOB_COPY), so `data` may be
/// freed after the call returns.
CURLcode ss_easy_setopt_blob_copy(CURL *h, CURLoption o, const void *data, size_t len);

CURLcode ss_easy_getinfo_long(CURL *h, CURLINFO i, long *v);
CURLcode ss_easy_getinfo_off(CURL *h, CURLINFO i, curl_off_t *v);
CURLcode ss_easy_getinfo_string(CURL *h, CURLINFO i, char **v);
CURLcode ss_easy_getinfo_pointer(CURL *h, CURLINFO i, void **v);

CURLMcode ss_multi_setopt_long(CURLM *m, CURLMoption o, long v);

/// Resumes a transfer paused by its write callback (CURL_WRITEFUNC_PAUSE). curl may call the write callback with
/// the chunk it kept before this returns. Only from the thread driving the multi handle.
CURLcode ss_easy_unpause(CURL *h);

/// What a write callback returns to pause its transfer: curl keeps the chunk and delivers it again after unpausing.
static inline size_t ss_writefunc_pause(void) { return CURL_WRITEFUNC_PAUSE; }

/// The message's CURLcode, for CURLMSG_DONE messages (a union member Swift cannot name directly).
static inline CURLcode ss_msg_result(CURLMsg *msg) { return msg->data.result; }

#endif
