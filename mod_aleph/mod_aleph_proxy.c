/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * The request path. A late fixups hook decides, where a refusal is still
 * honoured, whether a request mod_proxy is about to forward gets a token
 * (or a 503); mod_proxy's proxy_fixups hook then sets the headers on the
 * request as it is forwarded. proxy_fixups cannot refuse anything: mod_proxy
 * ignores its return value.
 */
#include <apr_strings.h>

#include <httpd.h>
#include <apr_optional_hooks.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>
#include <mod_proxy.h>

#include "aleph_policy.h"
#include "mod_aleph.h"

APLOG_USE_MODULE(aleph);

#define ALEPH_ERROR_FILTER "ALEPH_ERROR_JSON"

/* Handed from the decision to the injection. */
typedef struct {
    const char *token_header;
    const char *token_value;
    const char *contract_header;
    const char *contract;         /* NULL: none */
} aleph_injection_t;

static int is_forwarded(const request_rec *r)
{
    /* The same test mod_proxy's handler applies. */
    return r->proxyreq && r->filename && !strncmp(r->filename, "proxy:", 6);
}

/* Backends whose mod_proxy module runs proxy_fixups, i.e. can carry the token. */
static int backend_carries_headers(const char *url)
{
#define ALEPH_SCHEME(s) { s, sizeof(s) - 1 }
    static const struct {
        const char *prefix;
        apr_size_t len;
    } schemes[] = {
        ALEPH_SCHEME("http://"), ALEPH_SCHEME("https://"), ALEPH_SCHEME("ws://"),
        ALEPH_SCHEME("wss://"), ALEPH_SCHEME("balancer://")
    };
#undef ALEPH_SCHEME
    apr_size_t i;

    for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        if (!strncasecmp(url, schemes[i].prefix, schemes[i].len)) {
            return 1;
        }
    }
    return 0;
}

/* The core sends error bodies as text/html; ours is JSON. */
static apr_status_t error_json_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    ap_set_content_type(f->r, "application/json");
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

/* 503s always carry Retry-After: clients should come back, not give up. */
static int refuse(request_rec *r, int status, const char *code, const char *detail,
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
    apr_pool_t *p = r ? r->pool : s->process->pconf;
    int failed = res->reason && strcmp(res->reason, ALEPH_R_OK);
    const char *msg;

    if (failed) {
        msg = apr_psprintf(p, "ALEPH00010: token request for credential %s (client id %s) "
                           "to %s failed: %s: %s%s%s", cred->fingerprint,
                           cred->req.client_id, cred->req.token_url, res->reason,
                           res->detail ? res->detail : "",
                           res->oauth_error_description ? " Description: " : "",
                           res->oauth_error_description ? res->oauth_error_description : "");
    }
    else {
        msg = apr_psprintf(p, "ALEPH00011: new token for credential %s, valid %"
                           APR_INT64_T_FMT " s", cred->fingerprint, res->expires_in);
    }
    if (r) {
        ap_log_rerror(APLOG_MARK, failed ? APLOG_ERR : APLOG_DEBUG, 0, r, "%s", msg);
    }
    else {
        ap_log_error(APLOG_MARK, failed ? APLOG_ERR : APLOG_DEBUG, 0, s, "%s", msg);
    }
}

static int aleph_fixups(request_rec *r)
{
    const aleph_dir_conf_t *c = ap_get_module_config(r->per_dir_config, &aleph_module);
    const aleph_cred_t *cred;
    aleph_cache_answer_t answer;
    aleph_injection_t *inj;
    const char *token_header, *contract_header, *prefix;
    apr_size_t prefix_len;
    char token[ALEPH_TOKEN_MAX_LEN + 1];
    char *value;

    if (c->auth != 1 || !is_forwarded(r)) {
        return DECLINED;
    }
    /* Whatever happens next, the client's own copies never go upstream. */
    token_header = aleph_conf_token_header(c);
    contract_header = aleph_conf_contract_header(c);
    apr_table_unset(r->headers_in, token_header);
    apr_table_unset(r->headers_in, contract_header);

    if (!backend_carries_headers(r->filename + 6)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "ALEPH00012: AlephAuth On, but the backend %s is not an "
                      "HTTP(S) or WebSocket URL; the request was refused",
                      r->filename + 6);
        return refuse(r, HTTP_BAD_GATEWAY, "upstream_not_supported",
                      "The gateway cannot add credentials for this backend.", 0);
    }
    cred = aleph_scopes_cred_for(r, c);
    if (!cred) {
        return refuse(r, HTTP_INTERNAL_SERVER_ERROR, "configuration_error",
                      "The gateway's credential configuration is inconsistent.", 0);
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
        return refuse(r, HTTP_SERVICE_UNAVAILABLE,
                      answer.outcome == ALEPH_CACHE_FAILED ? answer.result.reason
                                                           : "token_endpoint_backoff",
                      "No access token could be obtained from the token endpoint.",
                      answer.retry_at - aleph_clock_now());
    default:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "ALEPH00013: gave up waiting for the token request of "
                      "credential %s (client id %s) after %" APR_TIME_T_FMT " ms",
                      cred->fingerprint, cred->req.client_id, cred->policy.wait_max / 1000);
        return refuse(r, HTTP_SERVICE_UNAVAILABLE, "token_request_pending",
                      "The token request is taking too long.", ALEPH_SEC);
    }
    /* The header value, sized exactly: the token buffer stays on the stack. */
    prefix = aleph_conf_token_prefix(c);
    prefix_len = strlen(prefix);
    value = apr_palloc(r->pool, prefix_len + answer.meta.token_len + 1);
    memcpy(value, prefix, prefix_len);
    memcpy(value + prefix_len, token, answer.meta.token_len + 1);
    inj = apr_palloc(r->pool, sizeof(*inj));
    inj->token_header = token_header;
    inj->token_value = value;
    inj->contract_header = contract_header;
    inj->contract = c->contract && *c->contract ? c->contract : NULL;
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
