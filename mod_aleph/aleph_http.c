/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
#include <limits.h>
#include <string.h>

#include <apr_cstr.h>
#include <apr_strings.h>

#include <curl/curl.h>

#include "aleph_http.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_TIMEOUT_MS         30000L
/* Retry-After beyond a day is more likely a mistake than a plan. */
#define RETRY_AFTER_MAX_SEC        86400

void aleph_http_wipe(const char *s, apr_size_t len)
{
    volatile char *v = (volatile char *)s;

    while (len--) {
        *v++ = '\0';
    }
}

const char *aleph_http_printable(apr_pool_t *p, const char *s, apr_size_t len,
                                 apr_size_t max)
{
    apr_size_t n = len < max ? len : max;
    char *out = apr_palloc(p, n + 1);
    apr_size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        out[i] = (c >= 0x20 && c <= 0x7e) ? (char)c : '?';
    }
    out[n] = '\0';
    return out;
}

typedef struct {
    apr_pool_t *p;
    apr_size_t max_len;
    char *buf;
    apr_size_t len;
    apr_size_t cap;
    apr_size_t header_bytes;
    int body_too_large;
    int headers_too_large;
    apr_interval_time_t retry_after;
} exchange_t;

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    exchange_t *x = userdata;
    size_t n = size * nmemb;

    if (n > x->max_len - x->len) {
        x->body_too_large = 1;
        return 0;
    }
    if (x->len + n > x->cap) {
        apr_size_t cap = x->cap ? x->cap : 4096;
        char *buf;

        while (cap < x->len + n) {
            cap *= 2;
        }
        if (cap > x->max_len) {
            cap = x->max_len;
        }
        /* One more byte for the terminating NUL. */
        buf = apr_palloc(x->p, cap + 1);
        if (x->len) {
            memcpy(buf, x->buf, x->len);
        }
        x->buf = buf;
        x->cap = cap;
    }
    memcpy(x->buf + x->len, data, n);
    x->len += n;
    return n;
}

/* delta-seconds only; an HTTP-date would need a trustworthy clock. */
static apr_interval_time_t parse_retry_after(const char *s, apr_size_t len)
{
    apr_size_t i = 0;
    apr_int64_t secs = 0;
    int digits = 0;

    while (i < len && (s[i] == ' ' || s[i] == '\t')) {
        i++;
    }
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
        if (secs <= RETRY_AFTER_MAX_SEC) {
            secs = secs * 10 + (s[i] - '0');
        }
    }
    while (i < len && (s[i] == ' ' || s[i] == '\t'
                       || s[i] == '\r' || s[i] == '\n')) {
        i++;
    }
    if (!digits || i != len) {
        return 0;
    }
    if (secs > RETRY_AFTER_MAX_SEC) {
        secs = RETRY_AFTER_MAX_SEC;
    }
    return apr_time_from_sec(secs);
}

static size_t on_header(char *line, size_t size, size_t nitems, void *userdata)
{
    static const char name[] = "Retry-After:";
    exchange_t *x = userdata;
    size_t n = size * nitems;

    /* Headers are capped like the body, so that a server cannot flood us. */
    x->header_bytes += n;
    if (x->header_bytes > x->max_len) {
        x->headers_too_large = 1;
        return 0;
    }
    /* A status line starts a new response (after 100 Continue, say). */
    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        x->retry_after = 0;
    }
    else if (n >= sizeof(name) - 1
             && apr_cstr_casecmpn(line, name, sizeof(name) - 1) == 0) {
        x->retry_after = parse_retry_after(line + sizeof(name) - 1,
                                           n - (sizeof(name) - 1));
    }
    return n;
}

static long timeout_ms(apr_interval_time_t t, long dflt)
{
    apr_time_t ms;

    if (t <= 0) {
        return dflt;
    }
    ms = apr_time_as_msec(t);
    /* 0 would mean "no timeout" to libcurl. */
    if (ms < 1) {
        return 1;
    }
    return ms > INT_MAX ? INT_MAX : (long)ms;
}

/* NULL (and everything freed) when a line cannot be added. */
static struct curl_slist *header_list(const char *const *lines)
{
    struct curl_slist *list = NULL;

    for (; lines && *lines; lines++) {
        struct curl_slist *l = curl_slist_append(list, *lines);

        if (!l) {
            curl_slist_free_all(list);
            return NULL;
        }
        list = l;
    }
    return list;
}

static void free_headers(struct curl_slist *list)
{
    struct curl_slist *l;

    /* libcurl's copies may hold a secret or a token. */
    for (l = list; l; l = l->next) {
        aleph_http_wipe(l->data, strlen(l->data));
    }
    curl_slist_free_all(list);
}

/* errbuf is empty for some failures; strerror always has something. */
static const char *curl_reason(apr_pool_t *p, CURLcode cc, const char *errbuf)
{
    apr_size_t len = strlen(errbuf);

    while (len && (errbuf[len - 1] == '\n' || errbuf[len - 1] == '\r')) {
        len--;
    }
    if (len == 0) {
        return curl_easy_strerror(cc);
    }
    return aleph_http_printable(p, errbuf, len, CURL_ERROR_SIZE);
}

static int set_options(CURL *curl, const aleph_http_request_t *req,
                       struct curl_slist *headers, char *errbuf, exchange_t *x)
{
    const aleph_http_transport_t *t = req->transport;

    return curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK
        && curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) == CURLE_OK
        && curl_easy_setopt(curl, CURLOPT_URL, req->url) == CURLE_OK
#if LIBCURL_VERSION_NUM >= 0x075500
        && curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK
#else
        && curl_easy_setopt(curl, CURLOPT_PROTOCOLS,
                            (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) == CURLE_OK
#endif
        && curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK
        && curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                            timeout_ms(t->connect_timeout,
                                       DEFAULT_CONNECT_TIMEOUT_MS)) == CURLE_OK
        && curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                            timeout_ms(t->timeout, DEFAULT_TIMEOUT_MS)) == CURLE_OK
        && curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK
        && curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK
        && curl_easy_setopt(curl, CURLOPT_SSLVERSION,
                            (long)CURL_SSLVERSION_TLSv1_2) == CURLE_OK
        /* Refuses an announced oversized body before reading it. */
        && curl_easy_setopt(curl, CURLOPT_MAXFILESIZE, (long)req->max_len) == CURLE_OK
        && curl_easy_setopt(curl, CURLOPT_USERAGENT, "mod_aleph") == CURLE_OK
        && curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers) == CURLE_OK
        && (!req->body
            || (curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body) == CURLE_OK
                && curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE,
                                    (long)strlen(req->body)) == CURLE_OK))
        && curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK
        && curl_easy_setopt(curl, CURLOPT_WRITEDATA, x) == CURLE_OK
        && curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK
        && curl_easy_setopt(curl, CURLOPT_HEADERDATA, x) == CURLE_OK
        /* "" turns off the proxy environment variables too: egress is explicit. */
        && curl_easy_setopt(curl, CURLOPT_PROXY, t->proxy ? t->proxy : "") == CURLE_OK
        && (!t->ca_file || curl_easy_setopt(curl, CURLOPT_CAINFO, t->ca_file) == CURLE_OK)
        && (!t->ca_path || curl_easy_setopt(curl, CURLOPT_CAPATH, t->ca_path) == CURLE_OK)
        && (!t->client_cert
            || curl_easy_setopt(curl, CURLOPT_SSLCERT, t->client_cert) == CURLE_OK)
        && (!t->client_key
            || curl_easy_setopt(curl, CURLOPT_SSLKEY, t->client_key) == CURLE_OK);
}

/*
 * Whether a failed exchange failed in TLS. With TLS 1.3 the server judges
 * the client certificate after the client's handshake is over, so a refused
 * one shows up as a TLS alert on the first read (or write), not as a
 * handshake error.
 */
static int tls_failed(CURLcode cc, const char *errbuf)
{
    return cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CONNECT_ERROR
        || cc == CURLE_SSL_CERTPROBLEM || cc == CURLE_SSL_CACERT_BADFILE
        || cc == CURLE_SSL_CIPHER || cc == CURLE_SSL_ISSUER_ERROR
        || ((cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR)
            && strstr(errbuf, " alert "));
}

void aleph_http_perform(apr_pool_t *p, const aleph_http_request_t *req,
                        aleph_http_response_t *resp)
{
    exchange_t x;
    char errbuf[CURL_ERROR_SIZE];
    struct curl_slist *headers = header_list(req->headers);
    CURL *curl = curl_easy_init();
    CURLcode cc;
    long status = 0;

    memset(resp, 0, sizeof(*resp));
    memset(&x, 0, sizeof(x));
    x.p = p;
    x.max_len = req->max_len;
    errbuf[0] = '\0';

    if (!curl || (req->headers && *req->headers && !headers)
        || !set_options(curl, req, headers, errbuf, &x)) {
        resp->outcome = ALEPH_HTTP_SETUP_FAILED;
        resp->error = "libcurl could not set the request up";
        goto done;
    }
    cc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    resp->status = (int)status;
    resp->retry_after = x.retry_after;
    if (cc == CURLE_OK) {
        resp->outcome = ALEPH_HTTP_DONE;
        resp->body = x.buf ? x.buf : "";
        resp->len = x.len;
        if (x.buf) {
            x.buf[x.len] = '\0';
        }
    }
    else if (x.body_too_large || cc == CURLE_FILESIZE_EXCEEDED) {
        resp->outcome = ALEPH_HTTP_BODY_TOO_LARGE;
    }
    else if (x.headers_too_large) {
        resp->outcome = ALEPH_HTTP_HEADERS_TOO_LARGE;
    }
    else {
        resp->outcome = cc == CURLE_OPERATION_TIMEDOUT ? ALEPH_HTTP_TIMEOUT
                      : tls_failed(cc, errbuf) ? ALEPH_HTTP_TLS_FAILED
                      : ALEPH_HTTP_UNREACHABLE;
        resp->error = curl_reason(p, cc, errbuf);
    }

done:
    if (curl) {
        curl_easy_cleanup(curl);
    }
    free_headers(headers);
}

const char *aleph_http_failure(apr_pool_t *p, const aleph_http_response_t *resp,
                               const char *endpoint, apr_size_t max_len)
{
    switch (resp->outcome) {
    case ALEPH_HTTP_BODY_TOO_LARGE:
        return apr_psprintf(p, "The %s endpoint's response is larger than %"
                            APR_SIZE_T_FMT " bytes.", endpoint, max_len);
    case ALEPH_HTTP_HEADERS_TOO_LARGE:
        return apr_psprintf(p, "The %s endpoint's response headers are larger than %"
                            APR_SIZE_T_FMT " bytes.", endpoint, max_len);
    case ALEPH_HTTP_TIMEOUT:
        return apr_psprintf(p, "The %s endpoint did not answer in time: %s.",
                            endpoint, resp->error);
    case ALEPH_HTTP_TLS_FAILED:
        return apr_psprintf(p, "The TLS connection to the %s endpoint failed "
                            "(certificate verification, client certificate or "
                            "protocol): %s.", endpoint, resp->error);
    case ALEPH_HTTP_UNREACHABLE:
        return apr_psprintf(p, "The %s endpoint could not be reached: %s.",
                            endpoint, resp->error);
    default:
        return apr_psprintf(p, "libcurl could not set the %s request up.", endpoint);
    }
}
