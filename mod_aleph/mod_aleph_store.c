/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * The token store's lifetime inside httpd. The segment is created once,
 * in the process pool, so that it outlives every restart (graceful or
 * not) of the parent: restarts keep the cached tokens. Forked children
 * inherit the mapping; nothing is attached by name.
 */
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>

#include "mod_aleph.h"

APLOG_USE_MODULE(aleph);

#define ALEPH_STORE_USERDATA "mod_aleph.store"

static aleph_store_t *current;

aleph_store_t *aleph_store_current(void)
{
    return current;
}

int aleph_store_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp, server_rec *s)
{
    apr_pool_t *process_pool = s->process->pool;
    aleph_server_conf_t *sc = ap_get_module_config(s->module_config, &aleph_module);
    unsigned size = sc->cache_size != ALEPH_UNSET ? (unsigned)sc->cache_size
                                                  : ALEPH_DEFAULT_CACHE_SIZE;
    aleph_store_t *store = NULL;
    apr_status_t rv;

    (void)plog;
    (void)ptemp;
    /* The first pass at start-up only checks the configuration. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    apr_pool_userdata_get((void **)&store, ALEPH_STORE_USERDATA, process_pool);
    if (store && aleph_store_capacity(store) != size) {
        /* Old children may still use the old segment; it stays mapped. */
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     "ALEPH00007: AlephCacheSize changed from %u to %u: "
                     "starting with an empty token store",
                     aleph_store_capacity(store), size);
        store = NULL;
    }
    if (!store) {
        rv = aleph_store_create(&store, size, process_pool);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                         "ALEPH00008: cannot create the shared token store "
                         "(%" APR_SIZE_T_FMT " bytes)", aleph_store_size(size));
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        apr_pool_userdata_set(store, ALEPH_STORE_USERDATA, apr_pool_cleanup_null,
                              process_pool);
    }
    current = store;
    return aleph_scopes_bind(pconf, s, store);
}
