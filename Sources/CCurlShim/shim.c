#define _GNU_SOURCE
#include "CCurlShim.h"

#include <pthread.h>

// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call.

CURLcode shim_curl_setopt_long(CURL *curl, CURLoption option, long value) {
    return curl_easy_setopt(curl, option, value);
}

CURLcode shim_curl_setopt_string(CURL *curl, CURLoption option, const char *value) {
    return curl_easy_setopt(curl, option, value);
}

CURLcode shim_curl_setopt_pointer(CURL *curl, CURLoption option, void *value) {
    return curl_easy_setopt(curl, option, value);
}

CURLcode shim_curl_setopt_write_function(CURL *curl, size_t (*callback)(char *, size_t, size_t, void *)) {
    return curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, callback);
}

CURLcode shim_curl_setopt_header_function(CURL *curl, size_t (*callback)(char *, size_t, size_t, void *)) {
    return curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, callback);
}

CURLcode shim_curl_setopt_read_function(CURL *curl, size_t (*callback)(char *, size_t, size_t, void *)) {
    return curl_easy_setopt(curl, CURLOPT_READFUNCTION, callback);
}

CURLcode shim_curl_setopt_seek_function(CURL *curl, int (*callback)(void *, curl_off_t, int)) {
    return curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, callback);
}

CURLMcode shim_curl_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}

CURLcode shim_curl_getinfo_long(CURL *curl, CURLINFO info, long *value) {
    return curl_easy_getinfo(curl, info, value);
}

CURLcode shim_curl_getinfo_pointer(CURL *curl, CURLINFO info, void **value) {
    return curl_easy_getinfo(curl, info, value);
}

int shim_curl_global_init(void) {
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void shim_name_this_thread(const char *name) {
    pthread_setname_np(pthread_self(), name);
}
