/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * One bounded HTTP exchange, shared by the module's outbound requests (the
 * token endpoint, the contracts endpoint): http and https only, TLS
 * verified (1.2 at least), redirects not followed, bounded in time and in
 * the size of what the server sends. Portable core: APR and libcurl only.
 */
#ifndef ALEPH_HTTP_H
#define ALEPH_HTTP_H

#include <apr_pools.h>
#include <apr_time.h>

/*
 * How an exchange reaches its server: time limits, TLS client settings and
 * proxy. A credential's outbound requests (token, contracts) share one.
 */
typedef struct {
    apr_interval_time_t connect_timeout;  /* <= 0: 10 s */
    apr_interval_time_t timeout;  /* whole exchange; <= 0: 30 s */
    /* TLS client settings; NULL: the system defaults. */
    const char *ca_file;
    const char *ca_path;
    const char *client_cert;      /* PEM, for mutual TLS */
    const char *client_key;       /* PEM */
    /* Outbound proxy URL; NULL: none (proxy environment variables ignored). */
    const char *proxy;
} aleph_http_transport_t;

typedef struct {
    const char *url;
    const char *body;             /* POSTed; NULL: GET */
    /*
     * "Name: value" lines, NULL-terminated. They may carry a secret or a
     * token: libcurl's copies are wiped; the caller wipes its own.
     */
    const char *const *headers;
    apr_size_t max_len;           /* largest response body (and headers) read */
    const aleph_http_transport_t *transport;
} aleph_http_request_t;

typedef enum {
    ALEPH_HTTP_DONE = 0,          /* a complete response: status and body */
    ALEPH_HTTP_UNREACHABLE,       /* connection failure */
    ALEPH_HTTP_TLS_FAILED,        /* verification, client certificate, protocol */
    ALEPH_HTTP_TIMEOUT,
    ALEPH_HTTP_BODY_TOO_LARGE,
    ALEPH_HTTP_HEADERS_TOO_LARGE,
    ALEPH_HTTP_SETUP_FAILED       /* libcurl refused to set the request up */
} aleph_http_outcome_e;

typedef struct {
    aleph_http_outcome_e outcome;
    int status;                   /* 0 when no HTTP response */
    const char *body;             /* DONE: len bytes, NUL-terminated */
    apr_size_t len;
    apr_interval_time_t retry_after; /* delta-seconds Retry-After, else 0 */
    const char *error;            /* failures: libcurl's reason, printable */
} aleph_http_response_t;

/*
 * The sentence that says why an exchange failed (any outcome but DONE),
 * naming the endpoint ("token", "contracts"): one wording for every caller.
 */
const char *aleph_http_failure(apr_pool_t *p, const aleph_http_response_t *resp,
                               const char *endpoint, apr_size_t max_len);

/* curl_global_init must have been called by the process beforehand. */
void aleph_http_perform(apr_pool_t *p, const aleph_http_request_t *req,
                        aleph_http_response_t *resp);

/*
 * Remote text on its way to a log or a terminal: at most max bytes, each
 * byte outside printable ASCII replaced by '?'.
 */
const char *aleph_http_printable(apr_pool_t *p, const char *s, apr_size_t len,
                                 apr_size_t max);

/* Overwrites s[0..len) in a way the compiler cannot drop. */
void aleph_http_wipe(const char *s, apr_size_t len);

#endif
