/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * mod_aleph: adds OAuth 2.0 access tokens and the Aleph contract header to
 * requests that mod_proxy forwards. This file holds the module record and
 * the hook registration only.
 */
#include <curl/curl.h>

#include <httpd.h>
#include <ap_provider.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>

#include "mod_aleph.h"

#define ALEPH_PROVIDER_OAUTH2 "oauth2"

static const aleph_provider_t oauth2_provider = { aleph_token_fetch };
static aleph_fetch_fn *provider_fetch;

aleph_fetch_fn *aleph_provider_fetch(void)
{
    return provider_fetch;
}

static int aleph_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, server_rec *s)
{
    (void)plog;
    return aleph_scopes_check(pconf, ptemp, s);
}

static int aleph_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s)
{
    static int curl_ready;
    const aleph_provider_t *provider;
    int rv;

    if (!curl_ready) {
        /* Once per parent, before any thread exists (libcurl's rule). */
        CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);

        if (rc != CURLE_OK) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                         "ALEPH00014: libcurl failed to initialise: %s; check the "
                         "libcurl installation",
                         curl_easy_strerror(rc));
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        curl_ready = 1;
    }
    provider = ap_lookup_provider(ALEPH_PROVIDER_GROUP, ALEPH_PROVIDER_OAUTH2,
                                  ALEPH_PROVIDER_VERSION);
    if (!provider) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     "ALEPH00015: the %s token provider is not registered (an "
                     "internal error); reinstall mod_aleph and restart httpd",
                     ALEPH_PROVIDER_OAUTH2);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    provider_fetch = provider->fetch;
    /* The first pass at start-up only checks the configuration. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    rv = aleph_store_post_config(pconf, plog, ptemp, s);
    if (rv == OK && aleph_refresh_start(pconf, s)) {
        apr_array_header_t *creds = aleph_scopes_creds();
        int i;

        for (i = 0; i < creds->nelts; i++) {
            APR_ARRAY_IDX(creds, i, aleph_cred_t *)->policy.background = 1;
        }
    }
    return rv;
}

static void aleph_register_hooks(apr_pool_t *p)
{
    ap_register_provider(p, ALEPH_PROVIDER_GROUP, ALEPH_PROVIDER_OAUTH2,
                         ALEPH_PROVIDER_VERSION, &oauth2_provider);
    ap_hook_check_config(aleph_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(aleph_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    aleph_proxy_register_hooks(p);
    aleph_retry_register_hooks(p);
    aleph_status_register_hooks(p);
}

AP_DECLARE_MODULE(aleph) = {
    STANDARD20_MODULE_STUFF,
    aleph_create_dir_conf,
    aleph_merge_dir_conf,
    aleph_create_server_conf,
    aleph_merge_server_conf,
    aleph_cmds,
    aleph_register_hooks,
    AP_MODULE_FLAG_NONE
};
