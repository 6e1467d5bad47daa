/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * Background refresh: a singleton mod_watchdog task (and a stand-in in
 * every child, see below) renews every token that is due, so that in steady
 * state no client request performs or waits for token I/O, even on an idle
 * gateway. It takes the same claim as requests do, so there is still one
 * fetch per credential at a time. Without mod_watchdog, requests refresh
 * (one at a time) instead.
 */
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <mod_watchdog.h>

#include "aleph_policy.h"
#include "mod_aleph.h"

APLOG_USE_MODULE(aleph);

#define ALEPH_WATCHDOG_NAME     "_aleph_refresh_"
#define ALEPH_STANDIN_NAME      "_aleph_refresh_standin_"
/* Often enough for tokens that live only a few seconds. */
#define ALEPH_REFRESH_INTERVAL  apr_time_from_msec(200)

static APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *wd_get_instance;
static APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *wd_register_callback;

/*
 * The singleton renews tokens as soon as they are due. When the process
 * running it ends (prefork retires idle children), mod_watchdog hands the
 * singleton to another one only after a while; meanwhile every child runs
 * a stand-in that renews tokens a little later than the singleton would.
 * Both take the slot's claim, so each token is still fetched once.
 */
typedef struct {
    server_rec *s;
    apr_interval_time_t slack;    /* after the refresh time */
} refresher_t;

#define ALEPH_STANDIN_SLACK apr_time_from_sec(1)

static apr_status_t refresh_due(int state, void *data, apr_pool_t *pool)
{
    const refresher_t *rf = data;
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
            || now < meta.refresh_at + rf->slack) {
            continue;
        }
        if (aleph_cache_refresh(pool, cred->slot, &cred->req, aleph_provider_fetch(),
                                &cred->policy, &res)) {
            aleph_log_fetch(rf->s, NULL, cred, &res);
        }
    }
    return APR_SUCCESS;
}

/* One mod_watchdog task of the given kind, in the child processes. */
static apr_status_t start_task(apr_pool_t *pconf, server_rec *s, const char *name,
                               int singleton, apr_interval_time_t slack)
{
    refresher_t *rf = apr_palloc(pconf, sizeof(*rf));
    ap_watchdog_t *wd;
    apr_status_t rv;

    rf->s = s;
    rf->slack = slack;
    rv = wd_get_instance(&wd, name, 0, singleton, pconf);
    if (rv == APR_SUCCESS) {
        rv = wd_register_callback(wd, ALEPH_REFRESH_INTERVAL, rf, refresh_due);
    }
    return rv;
}

int aleph_refresh_start(apr_pool_t *pconf, server_rec *s)
{
    apr_status_t rv;

    wd_get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    wd_register_callback = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    if (!wd_get_instance || !wd_register_callback) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     "ALEPH00020: mod_watchdog is not available: requests "
                     "will refresh tokens themselves");
        return 0;
    }
    rv = start_task(pconf, s, ALEPH_WATCHDOG_NAME, 1, 0);
    if (rv == APR_SUCCESS) {
        rv = start_task(pconf, s, ALEPH_STANDIN_NAME, 0, ALEPH_STANDIN_SLACK);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s,
                     "ALEPH00021: cannot start the background token refresh: "
                     "requests will refresh tokens themselves");
        return 0;
    }
    return 1;
}
