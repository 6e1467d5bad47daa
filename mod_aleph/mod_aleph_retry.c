/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * An upstream 401 to a request that carried the cached token means the
 * upstream rejects that token (revoked, or its lifetime judged otherwise):
 * the token is expired in the store, compared by serial so that a burst of
 * 401s costs one refresh. A request that is safe to send again (GET, HEAD,
 * DELETE, OPTIONS without a body) is sent once more, with a new token, and
 * the client sees only the second answer; any other request gets the 401,
 * and the next one uses the new token. A second 401 reaches the client
 * unchanged: it can mean a contract problem, which a token cannot fix.
 */
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>

#include "aleph_policy.h"
#include "mod_aleph.h"

APLOG_USE_MODULE(aleph);

#define ALEPH_RETRY_FILTER "ALEPH_401_RETRY"

/* Added per request by handle: a lookup by name costs hundreds of instructions. */
static ap_filter_rec_t *retry_filter_handle;

typedef struct {
    int decided;
    int swallow;                  /* the 401 being replaced by a retry */
} retry_ctx_t;

/* Methods that may be sent twice; whether there is a body is asked only on a 401. */
static int safe_method(const request_rec *r)
{
    return r->method_number == M_GET || r->method_number == M_DELETE
        || r->method_number == M_OPTIONS;
}

static int without_body(request_rec *r)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");

    return !apr_table_get(r->headers_in, "Transfer-Encoding") && (!cl || !strcmp(cl, "0"));
}

/* Holds back a 401 (headers and body) so that the retry can answer instead. */
static apr_status_t retry_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    retry_ctx_t *ctx = f->ctx;

    if (!ctx->decided) {
        ctx->decided = 1;
        ctx->swallow = f->r->status == HTTP_UNAUTHORIZED && without_body(f->r);
        if (!ctx->swallow) {
            ap_remove_output_filter(f);
            return ap_pass_brigade(f->next, bb);
        }
    }
    apr_brigade_cleanup(bb);
    return APR_SUCCESS;
}

/*
 * A token younger than this that is rejected is not the problem (think of a
 * wrong contract): discarding it would cost a token request per request.
 */
#define ALEPH_REJECT_MIN_AGE apr_time_from_sec(5)

static void expire_rejected(request_rec *r, const aleph_injection_t *inj)
{
    if (apr_time_now() - inj->obtained < ALEPH_REJECT_MIN_AGE) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "ALEPH00018: the upstream answered 401 to a token of "
                      "credential %s obtained less than 5 s ago: kept", inj->cred->fingerprint);
        return;
    }
    if (aleph_store_expire(inj->cred->slot, inj->serial, aleph_clock_now())) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "ALEPH00016: the upstream answered 401 to a request with "
                      "the token of credential %s: token discarded",
                      inj->cred->fingerprint);
    }
}

/* Forgets what the first attempt set on r, so the second starts clean. */
static void reset_response(request_rec *r)
{
    r->status = HTTP_OK;
    r->status_line = NULL;
    r->content_type = NULL;
    r->content_encoding = NULL;
    r->content_languages = NULL;
    r->clength = 0;
    r->sent_bodyct = 0;
    r->bytes_sent = 0;
    r->eos_sent = 0;
    apr_table_clear(r->headers_out);
    apr_table_clear(r->err_headers_out);
}

/*
 * Runs ahead of mod_proxy's handler: runs it once behind the filter, and
 * once more after a held-back 401. Re-entry (the inner ap_run_handler)
 * passes straight through to mod_proxy.
 */
static int aleph_retry_handler(request_rec *r)
{
    aleph_injection_t *inj = ap_get_module_config(r->request_config, &aleph_module);
    char *token;
    aleph_cache_answer_t answer;
    retry_ctx_t *ctx;
    ap_filter_t *f;
    int rv;

    if (!inj || inj->retry_owned || !safe_method(r)) {
        return DECLINED;
    }
    inj->retry_owned = 1;
    ctx = apr_pcalloc(r->pool, sizeof(*ctx));
    f = ap_add_output_filter_handle(retry_filter_handle, ctx, r, r->connection);
    rv = ap_run_handler(r);
    if (!ctx->swallow) {
        /* Not retried: a 401 (to a request with a body) is log_transaction's. */
        inj->retry_owned = 0;
        return rv;
    }
    ap_remove_output_filter(f);
    expire_rejected(r, inj);
    token = apr_palloc(r->pool, ALEPH_TOKEN_MAX_LEN + 1);
    aleph_cache_get(r->pool, inj->cred->slot, &inj->cred->req, aleph_provider_fetch(),
                    &inj->cred->policy, token, &answer);
    if (answer.fetched) {
        aleph_log_fetch(r->server, r, inj->cred, &answer.result);
    }
    if (answer.outcome == ALEPH_CACHE_HIT || answer.outcome == ALEPH_CACHE_FETCHED) {
        inj->token_value = apr_pstrcat(r->pool, inj->token_prefix, token, NULL);
        inj->serial = answer.meta.serial;
        inj->obtained = answer.meta.obtained;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "ALEPH00017: retrying %s once after the upstream's 401", r->uri);
    reset_response(r);
    return ap_run_handler(r);
}

/* Requests that could not be retried still expire a token the upstream rejected. */
static int aleph_retry_log_transaction(request_rec *r)
{
    for (; r; r = r->next) {
        const aleph_injection_t *inj = ap_get_module_config(r->request_config,
                                                            &aleph_module);

        /* A retried request's 401 is the second one: the upstream's final word. */
        if (inj && r->status == HTTP_UNAUTHORIZED && !inj->retry_owned) {
            expire_rejected(r, inj);
        }
    }
    return DECLINED;
}

void aleph_retry_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_handler(aleph_retry_handler, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_log_transaction(aleph_retry_log_transaction, NULL, NULL, APR_HOOK_MIDDLE);
    retry_filter_handle = ap_register_output_filter(ALEPH_RETRY_FILTER, retry_filter,
                                                    NULL, AP_FTYPE_CONTENT_SET);
}
