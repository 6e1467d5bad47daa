/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * OAuth 2.0 client-credentials grant (RFC 6749 §4.4): building the token
 * request, performing it with libcurl and judging the response.
 * Portable core: APR, libcurl and jansson only.
 */
#ifndef ALEPH_TOKEN_H
#define ALEPH_TOKEN_H

#include <apr_pools.h>
#include <apr_time.h>

#include "aleph_http.h"

/* Defaults of AlephTokenURL and AlephAudience (and of the aleph command). */
#define ALEPH_DEFAULT_TOKEN_URL    "https://auth.platform.satellogic.com/oauth/token"
#define ALEPH_DEFAULT_AUDIENCE     "https://api.satellogic.com/"
/* Longest access token accepted; it becomes a request header value. */
#define ALEPH_TOKEN_MAX_LEN        4096
/* Largest token endpoint response body read; larger ones are refused. */
#define ALEPH_RESPONSE_MAX_LEN     (64 * 1024)
/* Lifetime assumed when a success response carries no expires_in. */
#define ALEPH_DEFAULT_LIFETIME_SEC 3600
/* Longest lifetime believed; a larger expires_in is clamped to it. */
#define ALEPH_MAX_LIFETIME_SEC     (30 * 86400)
/* Longest OAuth error/description kept for logs. */
#define ALEPH_OAUTH_TEXT_MAX       200

typedef enum {
    ALEPH_BODY_JSON = 0,          /* Aleph: JSON object body */
    ALEPH_BODY_FORM               /* RFC 6749: x-www-form-urlencoded */
} aleph_body_e;

typedef enum {
    ALEPH_CLIENT_AUTH_BODY = 0,   /* client_id/client_secret in the body */
    ALEPH_CLIENT_AUTH_BASIC       /* HTTP Basic, RFC 6749 §2.3.1 encoding */
} aleph_client_auth_e;

typedef struct {
    const char *token_url;
    const char *client_id;
    const char *client_secret;
    const char *audience;         /* NULL: parameter not sent */
    const char *scope;            /* NULL: parameter not sent */
    aleph_body_e body;
    aleph_client_auth_e client_auth;
    aleph_http_transport_t transport;
} aleph_token_request_t;

/* Stable reason codes, also used as the "error" of 503 bodies. */
#define ALEPH_R_OK                "ok"
#define ALEPH_R_UNREACHABLE       "token_endpoint_unreachable"
#define ALEPH_R_TIMEOUT           "token_endpoint_timeout"
#define ALEPH_R_TOO_LARGE         "token_response_too_large"
#define ALEPH_R_HTTP_STATUS       "token_endpoint_http_error"
#define ALEPH_R_OAUTH_ERROR       "token_endpoint_oauth_error"
#define ALEPH_R_NOT_JSON          "token_response_not_json"
#define ALEPH_R_NO_TOKEN          "token_response_no_access_token"
#define ALEPH_R_BAD_TOKEN         "token_response_invalid_token"
#define ALEPH_R_TOKEN_TOO_LONG    "token_response_token_too_long"
#define ALEPH_R_BAD_TYPE          "token_response_not_bearer"
#define ALEPH_R_BAD_EXPIRY        "token_response_invalid_expires_in"
#define ALEPH_R_TLS               "token_endpoint_tls_error"
#define ALEPH_R_INTERNAL          "token_request_internal_error"

typedef struct {
    /* Success: */
    const char *access_token;     /* NUL-terminated, validated */
    apr_size_t token_len;
    apr_int64_t expires_in;       /* seconds, > 0 */
    /* Failure (and, for information, success): */
    int http_status;              /* 0 when no HTTP response */
    const char *reason;           /* one of ALEPH_R_* */
    const char *detail;           /* one sentence; never a token or secret */
    const char *oauth_error;      /* sanitised, bounded, or NULL */
    const char *oauth_error_description; /* sanitised, bounded, or NULL */
    apr_interval_time_t retry_after; /* from 429/503 Retry-After, else 0 */
} aleph_token_result_t;

/*
 * Judge a token endpoint response. Returns APR_SUCCESS and fills the
 * success fields only for a 2xx JSON object with a valid Bearer token;
 * otherwise APR_EGENERAL with reason/detail set. Never reads past len
 * and never keeps a pointer into body.
 */
apr_status_t aleph_token_parse(apr_pool_t *p, int http_status,
                               const char *body, apr_size_t len,
                               aleph_token_result_t *res);

/* 1 if s[0..len) is a valid RFC 6750 b64token (header-safe). */
int aleph_token_is_valid(const char *s, apr_size_t len);

/*
 * The request as it goes on the wire, for the fetch and for unit tests:
 * body, its content type, and the Authorization header value (NULL
 * unless client_auth is basic).
 */
void aleph_token_request_encode(apr_pool_t *p, const aleph_token_request_t *req,
                                const char **body, const char **content_type,
                                const char **authorization);

/*
 * Perform the grant. Bounded in time (the transport's timeouts), in size
 * (ALEPH_RESPONSE_MAX_LEN), TLS verified, redirects not followed.
 * curl_global_init must have been called by the process beforehand.
 */
apr_status_t aleph_token_fetch(apr_pool_t *p, const aleph_token_request_t *req,
                               aleph_token_result_t *res);

#endif
