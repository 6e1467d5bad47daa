/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * The request path. A late fixups hook decides, where a refusal is still
 * honoured, whether a request mod_proxy is about to forward gets a token
 * (or a 503); mod_proxy's proxy_fixups hook then sets the headers on the
 * request as it is forwarded. proxy_fixups cannot refuse anything: mod_proxy
 * ignores its return value.
 */
#include <apr_lib.h>
#include <apr_strings.h>

#include <httpd.h>
#include <apr_optional_hooks.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>
#include <mod_proxy.h>

#include "aleph_origin.h"
#include "aleph_policy.h"
#include "mod_aleph.h"

APLOG_USE_MODULE(aleph);

#define ALEPH_ERROR_FILTER "ALEPH_ERROR_JSON"

/* Logs for the request when there is one, else for the server. */
#define ALEPH_LOG_RS(r, s, level, ...) do {                          \
        if (r) {                                                     \
            ap_log_rerror(APLOG_MARK, level, 0, r, __VA_ARGS__);     \
        }                                                            \
        else {                                                       \
            ap_log_error(APLOG_MARK, level, 0, s, __VA_ARGS__);      \
        }                                                            \
    } while (0)

static int is_forwarded(const request_rec *r)
{
    /* The same test mod_proxy's handler applies. */
    return r->proxyreq && r->filename && !strncmp(r->filename, "proxy:", 6);
}

/*
 * Backends whose mod_proxy module runs proxy_fixups, i.e. can carry the token:
 * http, https, ws, wss and balancer. Compared case-insensitively, by hand,
 * as this runs for every request.
 */
static int backend_carries_headers(const char *url)
{
    switch (apr_tolower(url[0])) {
    case 'h':
        return !strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8);
    case 'w':
        return !strncasecmp(url, "ws://", 5) || !strncasecmp(url, "wss://", 6);
    case 'b':
        return !strncasecmp(url, "balancer://", 11);
    default:
        return 0;
    }
}

/*
 * Tokens go only to the scope's AlephUpstream origins, by default to the
 * origin of an https audience; with neither (warned at start-up), anywhere.
 */
static int upstream_allowed(const aleph_dir_conf_t *c, const aleph_cred_t *cred,
                            const char *url)
{
    const apr_array_header_t *list = c->upstreams ? c->upstreams : cred->audience_origins;

    return !list || aleph_origin_allowed(list, url);
}

/* The core sends error bodies as text/html; ours is JSON. */
static apr_status_t error_json_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    ap_set_content_type(f->r, "application/json");
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

/* 503s always carry Retry-After: clients should come back, not give up. */
int aleph_refuse(request_rec *r, int status, const char *code, const char *detail,
                 apr_interval_time_t retry_after)
{
    if (status == HTTP_SERVICE_UNAVAILABLE) {
        apr_int64_t secs = (retry_after + ALEPH_SEC - 1) / ALEPH_SEC;

        if (secs < 1) {
            secs = 1;
        }

        apr_table_setn(r->err_headers_out, "Retry-After",
                       apr_psprintf(r->pool, "%" APR_INT64_T_FMT, secs));
    }
    ap_custom_response(r, status, apr_psprintf(r->pool,
                       "{\"error\":\"%s\",\"detail\":\"%s\"}\n", code, detail));
    apr_table_setn(r->notes, ALEPH_ERROR_FILTER, "1");
    return status;
}

/* Error responses run only the protocol filters; add ours back for them. */
static void aleph_insert_error_filter(request_rec *r)
{
    if (apr_table_get(r->notes, ALEPH_ERROR_FILTER)) {
        ap_add_output_filter(ALEPH_ERROR_FILTER, NULL, r, r->connection);
    }
}

void aleph_log_fetch(server_rec *s, request_rec *r, const aleph_cred_t *cred,
                     const aleph_token_result_t *res)
{
    if (res->reason && strcmp(res->reason, ALEPH_R_OK)) {
        ALEPH_LOG_RS(r, s, APLOG_ERR, "ALEPH00010: token request for credential %s "
                     "(client id %s) to %s failed: %s: %s%s%s (check the credential and "
                     "the token endpoint; requests get 503 until a token is obtained)",
                     cred->fingerprint, cred->req.client_id, cred->req.token_url,
                     res->reason, res->detail ? res->detail : "",
                     res->oauth_error_description ? " Description: " : "",
                     res->oauth_error_description ? res->oauth_error_description : "");
    }
    else {
        ALEPH_LOG_RS(r, s, APLOG_DEBUG, "ALEPH00011: new token for credential %s, valid %"
                     APR_INT64_T_FMT " s", cred->fingerprint, res->expires_in);
    }
}

static int aleph_fixups(request_rec *r)
{
    const aleph_dir_conf_t *c = ap_get_module_config(r->per_dir_config, &aleph_module);
    const aleph_cred_t *cred;
    aleph_cache_answer_t answer;
    aleph_injection_t *inj;
    const char *token_header, *contract_header, *token_prefix, *contract;
    /* On the stack: only the header value, at its exact size, goes to the pool. */
    char token[ALEPH_TOKEN_MAX_LEN + 1];
    apr_size_t prefix_len;
    char *token_value;

    if (c->auth != 1 || !is_forwarded(r)) {
        return DECLINED;
    }
    /*
     * Whatever happens next, the client's own credentials never go upstream:
     * neither the configured headers nor the usual ones under other names.
     */
    token_header = aleph_conf_token_header(c);
    contract_header = aleph_conf_contract_header(c);
    apr_table_unset(r->headers_in, token_header);
    apr_table_unset(r->headers_in, contract_header);
    /* Unset names are the defaults: compare only names a scope sets. */
    if (!c->token_header || strcasecmp(c->token_header, "Authorization")) {
        apr_table_unset(r->headers_in, "Authorization");
    }
    if (c->token_header && strcasecmp(c->token_header, ALEPH_DEFAULT_TOKEN_HEADER)) {
        apr_table_unset(r->headers_in, ALEPH_DEFAULT_TOKEN_HEADER);
    }
    if (c->contract_header
        && strcasecmp(c->contract_header, ALEPH_DEFAULT_CONTRACT_HEADER)) {
        apr_table_unset(r->headers_in, ALEPH_DEFAULT_CONTRACT_HEADER);
    }

    if (!backend_carries_headers(r->filename + 6)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "ALEPH00012: AlephAuth On, but the backend %s is not an "
                      "HTTP(S) or WebSocket URL: the request was refused; use such a "
                      "backend, or set AlephAuth Off for this scope",
                      r->filename + 6);
        return aleph_refuse(r, HTTP_BAD_GATEWAY, "upstream_not_supported",
                            "The gateway cannot add credentials for this backend.", 0);
    }
    cred = aleph_scopes_cred_for(r, c);
    if (!cred) {
        return aleph_refuse(r, HTTP_INTERNAL_SERVER_ERROR, "configuration_error",
                            "The gateway's credential configuration is inconsistent.", 0);
    }
    if (!upstream_allowed(c, cred, r->filename + 6)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "ALEPH00023: the request for %s would be forwarded to %s, "
                      "which is not an allowed upstream of credential %s; refused "
                      "without sending the token (see AlephUpstream)",
                      r->uri, r->filename + 6, cred->fingerprint);
        return aleph_refuse(r, HTTP_BAD_GATEWAY, "upstream_not_allowed",
                            "The gateway does not send credentials to this upstream.", 0);
    }
    aleph_cache_get(r->pool, cred->slot, &cred->req, aleph_provider_fetch(),
                    &cred->policy, token, &answer);
    if (answer.fetched) {
        aleph_log_fetch(r->server, r, cred, &answer.result);
    }
    switch (answer.outcome) {
    case ALEPH_CACHE_HIT:
    case ALEPH_CACHE_FETCHED:
        break;
    case ALEPH_CACHE_BACKOFF:
    case ALEPH_CACHE_FAILED:
        return aleph_refuse(r, HTTP_SERVICE_UNAVAILABLE,
                            answer.outcome == ALEPH_CACHE_FAILED ? answer.result.reason
                            : "token_endpoint_backoff",
                            "No access token could be obtained from the token endpoint.",
                            answer.retry_at - aleph_clock_now());
    default:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "ALEPH00013: gave up waiting for the token request of "
                      "credential %s (client id %s) after %" APR_TIME_T_FMT " ms; check "
                      "how fast %s answers, or raise AlephTimeout", cred->fingerprint,
                      cred->req.client_id, cred->policy.wait_max / 1000, cred->req.token_url);
        return aleph_refuse(r, HTTP_SERVICE_UNAVAILABLE, "token_request_pending",
                            "The token request is taking too long.", ALEPH_SEC);
    }
    token_prefix = aleph_conf_token_prefix(c);
    prefix_len = strlen(token_prefix);
    token_value = apr_palloc(r->pool, prefix_len + answer.meta.token_len + 1);
    memcpy(token_value, token_prefix, prefix_len);
    memcpy(token_value + prefix_len, token, answer.meta.token_len + 1);
    contract = c->contract && *c->contract ? c->contract : NULL;
    if (contract == aleph_contract_auto) {
        int status = aleph_contract_lookup(r, c, cred, token_header, token_value, &contract);

        if (status != OK) {
            return status;
        }
    }
    aleph_store_count_injection(cred->slot);
    inj = apr_palloc(r->pool, sizeof(*inj));
    inj->token_header = token_header;
    inj->token_prefix = token_prefix;
    inj->token_value = token_value;
    inj->contract_header = contract_header;
    inj->contract = contract;
    inj->cred = cred;
    inj->serial = answer.meta.serial;
    inj->obtained = answer.meta.obtained;
    inj->retry_owned = 0;
    ap_set_module_config(r->request_config, &aleph_module, inj);
    return DECLINED;
}

/* Runs as mod_proxy builds the backend request; may run again on retries. */
static int aleph_proxy_fixups(request_rec *r)
{
    const aleph_injection_t *inj = ap_get_module_config(r->request_config,
                                                        &aleph_module);

    if (inj) {
        apr_table_setn(r->headers_in, inj->token_header, inj->token_value);
        if (inj->contract) {
            apr_table_setn(r->headers_in, inj->contract_header, inj->contract);
        }
    }
    return OK;
}

void aleph_proxy_register_hooks(apr_pool_t *p)
{
    (void)p;
    /* After mod_rewrite's per-directory [P] rules and everyone else. */
    ap_hook_fixups(aleph_fixups, NULL, NULL, APR_HOOK_LAST);
    APR_OPTIONAL_HOOK(proxy, fixups, aleph_proxy_fixups, NULL, NULL, APR_HOOK_LAST);
    ap_hook_insert_error_filter(aleph_insert_error_filter, NULL, NULL, APR_HOOK_MIDDLE);
    ap_register_output_filter(ALEPH_ERROR_FILTER, error_json_filter, NULL,
                              AP_FTYPE_CONTENT_SET);
}
