// Typed wrappers around libcurl's variadic calls, for the HTTP client of the worker and the agent.
#ifndef SES_CCURLSHIM_H
#define SES_CCURLSHIM_H

#include <curl/curl.h>

/// Must run once before any other thread uses libcurl.
int shim_curl_global_init(void);
CURLcode shim_curl_setopt_long(CURL *curl, CURLoption option, long value);
CURLcode shim_curl_setopt_string(CURL *curl, CURLoption option, const char *value);
CURLcode shim_curl_setopt_pointer(CURL *curl, CURLoption option, void *value);
CURLcode shim_curl_setopt_write_function(CURL *curl, size_t (*callback)(char *, size_t, size_t, void *));
CURLcode shim_curl_setopt_header_function(CURL *curl, size_t (*callback)(char *, size_t, size_t, void *));
CURLcode shim_curl_setopt_read_function(CURL *curl, size_t (*callback)(char *, size_t, size_t, void *));
CURLcode shim_curl_setopt_seek_function(CURL *curl, int (*callback)(void *, curl_off_t, int));
CURLMcode shim_curl_multi_setopt_long(CURLM *multi, CURLMoption option, long value);
CURLcode shim_curl_getinfo_long(CURL *curl, CURLINFO info, long *value);
CURLcode shim_curl_getinfo_pointer(CURL *curl, CURLINFO info, void **value);

/// A thread created from an event loop inherits its name: top and perf would show two of them.
void shim_name_this_thread(const char *name);

#endif
