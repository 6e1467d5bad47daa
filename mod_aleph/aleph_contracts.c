/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
#include <string.h>

#include <apr_strings.h>

#include <jansson.h>

#include "aleph_contracts.h"
#include "aleph_http.h"

static apr_status_t fail(aleph_contracts_result_t *res, const char *reason,
                         const char *detail)
{
    res->contracts = NULL;
    res->reason = reason;
    res->detail = detail;
    return APR_EGENERAL;
}

int aleph_contract_id_is_valid(const char *s, apr_size_t len)
{
    apr_size_t i;

    if (!s || len == 0 || len > ALEPH_CONTRACT_ID_MAX) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* One array element; 0 (and res failed) when it is not a usable contract. */
static int take_contract(apr_pool_t *p, json_t *entry, size_t index,
                         aleph_contracts_result_t *res)
{
    json_t *id = json_is_object(entry) ? json_object_get(entry, "contract_id") : NULL;
    json_t *name = json_is_object(entry) ? json_object_get(entry, "name") : NULL;
    aleph_contract_t *c;

    if (!json_is_string(id)
        || !aleph_contract_id_is_valid(json_string_value(id), json_string_length(id))) {
        fail(res, ALEPH_C_INVALID, apr_psprintf(p,
             "Entry %" APR_SIZE_T_FMT " of the contracts list has no contract_id "
             "that can be sent as a header value (1 to %d visible ASCII "
             "characters).", (apr_size_t)index, ALEPH_CONTRACT_ID_MAX));
        return 0;
    }
    c = apr_array_push(res->contracts);
    c->contract_id = apr_pstrmemdup(p, json_string_value(id), json_string_length(id));
    c->name = json_is_string(name)
            ? aleph_http_printable(p, json_string_value(name), json_string_length(name),
                                   ALEPH_CONTRACT_NAME_MAX)
            : "";
    return 1;
}

apr_status_t aleph_contracts_parse(apr_pool_t *p, int http_status,
                                   const char *body, apr_size_t len,
                                   aleph_contracts_result_t *res)
{
    json_error_t jerr;
    json_t *root, *entry;
    size_t i;
    apr_status_t rv = APR_SUCCESS;

    memset(res, 0, sizeof(*res));
    res->http_status = http_status;
    if (http_status < 200 || http_status > 299) {
        return fail(res, ALEPH_C_HTTP_STATUS, apr_psprintf(p,
                    "The contracts endpoint answered HTTP %d%s.", http_status,
                    http_status == 401 ? " (the token was refused)" : ""));
    }
    if (len > ALEPH_CONTRACTS_RESPONSE_MAX_LEN) {
        return fail(res, ALEPH_C_TOO_LARGE, apr_psprintf(p,
                    "The contracts endpoint's response is larger than %d bytes.",
                    ALEPH_CONTRACTS_RESPONSE_MAX_LEN));
    }
    root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                      &jerr);
    if (!root) {
        /* jerr.text may quote body bytes; only its position is safe. */
        return fail(res, ALEPH_C_NOT_JSON, apr_psprintf(p,
                    "The contracts endpoint's HTTP %d response is not valid JSON "
                    "(error at line %d, column %d).", http_status, jerr.line,
                    jerr.column));
    }
    if (!json_is_array(root)) {
        rv = fail(res, ALEPH_C_NOT_JSON, apr_psprintf(p,
                  "The contracts endpoint's HTTP %d response is not a JSON array.",
                  http_status));
    }
    else if (json_array_size(root) > ALEPH_CONTRACTS_MAX) {
        rv = fail(res, ALEPH_C_TOO_LARGE, apr_psprintf(p,
                  "The contracts endpoint listed more than %d contracts.",
                  ALEPH_CONTRACTS_MAX));
    }
    else {
        res->contracts = apr_array_make(p, (int)json_array_size(root),
                                        sizeof(aleph_contract_t));
        json_array_foreach(root, i, entry) {
            if (!take_contract(p, entry, i, res)) {
                rv = APR_EGENERAL;
                break;
            }
        }
        if (rv == APR_SUCCESS) {
            res->reason = ALEPH_C_OK;
            res->detail = apr_psprintf(p, "The contracts endpoint listed %d "
                                       "contract%s.", res->contracts->nelts,
                                       res->contracts->nelts == 1 ? "" : "s");
        }
    }
    json_decref(root);
    return rv;
}

apr_status_t aleph_contracts_fetch(apr_pool_t *p, const aleph_contracts_request_t *req,
                                   aleph_contracts_result_t *res)
{
    const char *headers[3];
    char *token_line;
    aleph_http_request_t http;
    aleph_http_response_t resp;
    apr_status_t rv;
    const char *reason;

    memset(res, 0, sizeof(*res));
    if (!req->url || !req->token_header || !req->token_value || !req->transport) {
        return fail(res, ALEPH_C_INTERNAL, "The contracts request is incomplete.");
    }
    token_line = apr_pstrcat(p, req->token_header, ": ", req->token_value, NULL);
    headers[0] = "Accept: application/json";
    headers[1] = token_line;
    headers[2] = NULL;

    memset(&http, 0, sizeof(http));
    http.url = req->url;
    http.headers = headers;
    http.max_len = ALEPH_CONTRACTS_RESPONSE_MAX_LEN;
    http.transport = req->transport;
    aleph_http_perform(p, &http, &resp);
    aleph_http_wipe(token_line, strlen(token_line));

    switch (resp.outcome) {
    case ALEPH_HTTP_DONE:
        return aleph_contracts_parse(p, resp.status, resp.body, resp.len, res);
    case ALEPH_HTTP_BODY_TOO_LARGE:
    case ALEPH_HTTP_HEADERS_TOO_LARGE:
        reason = ALEPH_C_TOO_LARGE;
        break;
    case ALEPH_HTTP_TIMEOUT:
        reason = ALEPH_C_TIMEOUT;
        break;
    case ALEPH_HTTP_TLS_FAILED:
        reason = ALEPH_C_TLS;
        break;
    case ALEPH_HTTP_UNREACHABLE:
        reason = ALEPH_C_UNREACHABLE;
        break;
    default:
        reason = ALEPH_C_INTERNAL;
        break;
    }
    rv = fail(res, reason, aleph_http_failure(p, &resp, "contracts",
                                              ALEPH_CONTRACTS_RESPONSE_MAX_LEN));
    res->http_status = resp.status;
    return rv;
}
