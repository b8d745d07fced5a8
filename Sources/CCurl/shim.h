// Typed, non-variadic wrappers around libcurl's variadic setopt/getinfo calls.
// Swift cannot call C variadic functions; each wrapper fixes the argument type.
#ifndef SMART_SYNC_CCURL_SHIM_H
#define SMART_SYNC_CCURL_SHIM_H

#include <curl/curl.h>
#include <sys/types.h>

typedef size_t (*ss_curl_data_callback)(char *ptr, size_t size, size_t nmemb, void *userdata);
typedef int (*ss_curl_xferinfo_callback)(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
                                         curl_off_t ultotal, curl_off_t ulnow);

static inline CURLcode ss_easy_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ss_easy_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ss_easy_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ss_easy_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ss_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ss_easy_setopt_data_callback(CURL *h, CURLoption o, ss_curl_data_callback v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode ss_easy_setopt_xferinfo_callback(CURL *h, ss_curl_xferinfo_callback v) {
    return curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, v);
}

/// Sets a blob option (e.g. CURLOPT_CAINFO_BLOB); libcurl copies the bytes (CURL_BLOB_COPY), so `data` may be
/// freed after the call returns.
static inline CURLcode ss_easy_setopt_blob_copy(CURL *h, CURLoption o, const void *data, size_t len) {
    struct curl_blob blob;
    blob.data = (void *)data;
    blob.len = len;
    blob.flags = CURL_BLOB_COPY;
    return curl_easy_setopt(h, o, &blob);
}

static inline CURLcode ss_easy_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode ss_easy_getinfo_off(CURL *h, CURLINFO i, curl_off_t *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode ss_easy_getinfo_string(CURL *h, CURLINFO i, char **v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode ss_easy_getinfo_pointer(CURL *h, CURLINFO i, void **v) { return curl_easy_getinfo(h, i, v); }

static inline CURLMcode ss_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }

/// Resumes a transfer paused by its write callback (CURL_WRITEFUNC_PAUSE). curl may call the write callback with
/// the chunk it kept before this returns. Only from the thread driving the multi handle.
static inline CURLcode ss_easy_unpause(CURL *h) { return curl_easy_pause(h, CURLPAUSE_CONT); }

/// What a write callback returns to pause its transfer: curl keeps the chunk and delivers it again after unpausing.
static inline size_t ss_writefunc_pause(void) { return CURL_WRITEFUNC_PAUSE; }

/// The message's CURLcode, for CURLMSG_DONE messages (a union member Swift cannot name directly).
static inline CURLcode ss_msg_result(CURLMsg *msg) { return msg->data.result; }

#endif
