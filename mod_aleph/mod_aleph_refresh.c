/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * Background refresh: a singleton mod_watchdog task renews every token
 * that is due, so that in steady state no client request performs or
 * waits for token I/O, even on an idle gateway. It takes the same claim
 * as requests do, so there is still one fetch per credential at a time.
 * Without mod_watchdog, requests refresh (one at a time) instead.
 */
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <mod_watchdog.h>

#include "aleph_policy.h"
#include "mod_aleph.h"

APLOG_USE_MODULE(aleph);

#define ALEPH_WATCHDOG_NAME     "_aleph_refresh_"
/* Often enough for tokens that live only a few seconds. */
#define ALEPH_REFRESH_INTERVAL  apr_time_from_msec(200)

static APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *wd_get_instance;
static APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *wd_register_callback;

static apr_status_t refresh_due(int state, void *data, apr_pool_t *pool)
{
    server_rec *s = data;
    apr_array_header_t *creds = aleph_scopes_creds();
    apr_int64_t now = aleph_clock_now();
    int i;

    if (state != AP_WATCHDOG_STATE_RUNNING || !creds) {
        return APR_SUCCESS;
    }
    for (i = 0; i < creds->nelts; i++) {
        const aleph_cred_t *cred = APR_ARRAY_IDX(creds, i, aleph_cred_t *);
        aleph_token_meta_t meta;
        aleph_token_result_t res;

        /* Only credentials in use: a first token is fetched on demand. */
        if (!cred->slot || !aleph_store_get(cred->slot, NULL, &meta)
            || now < meta.refresh_at) {
            continue;
        }
        if (aleph_cache_refresh(pool, cred->slot, &cred->req, aleph_provider_fetch(),
                                &cred->policy, &res)) {
            aleph_log_fetch(s, NULL, cred, &res);
        }
    }
    return APR_SUCCESS;
}

int aleph_refresh_start(apr_pool_t *pconf, server_rec *s)
{
    ap_watchdog_t *wd;
    apr_status_t rv;

    wd_get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    wd_register_callback = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    if (!wd_get_instance || !wd_register_callback) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     "ALEPH00020: mod_watchdog is not available: requests "
                     "will refresh tokens themselves");
        return 0;
    }
    /* A child singleton: one process in the server runs it. */
    rv = wd_get_instance(&wd, ALEPH_WATCHDOG_NAME, 0, 1, pconf);
    if (rv == APR_SUCCESS) {
        rv = wd_register_callback(wd, ALEPH_REFRESH_INTERVAL, s, refresh_due);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s,
                     "ALEPH00021: cannot start the background token refresh: "
                     "requests will refresh tokens themselves");
        return 0;
    }
    return 1;
}
