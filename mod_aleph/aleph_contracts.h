/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * Aleph's GET /contracts: the contracts a credential may use, listed as
 * [{"contract_id": "cont.…", "name": "…"}, …]. Building the request and
 * judging the response, which is bounded and validated like a token
 * response: a contract id becomes a request header value.
 * Portable core: APR, libcurl and jansson only.
 */
#ifndef ALEPH_CONTRACTS_H
#define ALEPH_CONTRACTS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "aleph_token.h"

#define ALEPH_DEFAULT_CONTRACTS_URL   "https://api.satellogic.com/contracts"
/* Longest contract id accepted (Aleph's are "cont." and a UUID, 41 bytes). */
#define ALEPH_CONTRACT_ID_MAX         128
/* Longest contract name kept, for logs and terminals. */
#define ALEPH_CONTRACT_NAME_MAX       200
/* Most contracts accepted in one response. */
#define ALEPH_CONTRACTS_MAX           1000
/* Largest response body read. */
#define ALEPH_CONTRACTS_RESPONSE_MAX_LEN (256 * 1024)

typedef struct {
    const char *url;              /* the contracts endpoint */
    const char *token_header;     /* e.g. authorizationToken */
    const char *token_value;      /* e.g. "Bearer <token>" */
    /* The credential's timeouts, TLS and proxy settings. */
    const aleph_http_transport_t *transport;
} aleph_contracts_request_t;

typedef struct {
    const char *contract_id;      /* 1..ALEPH_CONTRACT_ID_MAX visible ASCII */
    const char *name;             /* printable, bounded; "" when absent */
} aleph_contract_t;

/* Stable reason codes, also used as the "error" of 503 bodies. */
#define ALEPH_C_OK          "ok"
#define ALEPH_C_UNREACHABLE "contracts_endpoint_unreachable"
#define ALEPH_C_TIMEOUT     "contracts_endpoint_timeout"
#define ALEPH_C_TLS         "contracts_endpoint_tls_error"
#define ALEPH_C_TOO_LARGE   "contracts_response_too_large"
#define ALEPH_C_HTTP_STATUS "contracts_endpoint_http_error"
#define ALEPH_C_NOT_JSON    "contracts_response_not_json"
#define ALEPH_C_INVALID     "contracts_response_invalid"
#define ALEPH_C_INTERNAL    "contracts_request_internal_error"

typedef struct {
    apr_array_header_t *contracts; /* of aleph_contract_t; success only */
    int http_status;              /* 0 when no HTTP response */
    const char *reason;           /* one of ALEPH_C_* */
    const char *detail;           /* one sentence; never a token */
} aleph_contracts_result_t;

/* 1 if s[0..len) can be sent as a contract id: visible ASCII, bounded. */
int aleph_contract_id_is_valid(const char *s, apr_size_t len);

/*
 * Judges a contracts endpoint response. APR_SUCCESS with res->contracts
 * filled (possibly empty) only for a 2xx JSON array of objects that each
 * have a valid contract_id; otherwise APR_EGENERAL with reason/detail.
 * Never keeps a pointer into body.
 */
apr_status_t aleph_contracts_parse(apr_pool_t *p, int http_status,
                                   const char *body, apr_size_t len,
                                   aleph_contracts_result_t *res);

/*
 * GETs the list with the token in req's header. Bounded in time and size,
 * TLS verified, redirects not followed. curl_global_init must have been
 * called by the process beforehand.
 */
apr_status_t aleph_contracts_fetch(apr_pool_t *p, const aleph_contracts_request_t *req,
                                   aleph_contracts_result_t *res);

#endif
