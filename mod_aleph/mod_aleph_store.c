/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * The token store's lifetime inside httpd. The segment is created in the
 * process pool, so that it outlives every restart (graceful or not) of the
 * parent: restarts keep the cached tokens. Forked children inherit the
 * mapping; nothing is attached by name, so nothing can leak on disk.
 */
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>

#include "mod_aleph.h"

APLOG_USE_MODULE(aleph);

/* Holds the apr_shm_t: a type that does not change with our layout. */
#define ALEPH_STORE_USERDATA "mod_aleph.store.shm"

static aleph_store_t *current;

aleph_store_t *aleph_store_current(void)
{
    return current;
}

/* Whether store can take every credential of this generation. */
static int store_fits(aleph_store_t *store, unsigned size)
{
    apr_array_header_t *creds = aleph_scopes_creds();
    unsigned missing = 0;
    int i;

    if (aleph_store_capacity(store) != size) {
        return 0;
    }
    for (i = 0; i < creds->nelts; i++) {
        missing += !aleph_store_find(store, APR_ARRAY_IDX(creds, i, aleph_cred_t *)->key);
    }
    return aleph_store_used(store) + missing <= size;
}

/* The previous generation's store, if its layout is this code's. */
static aleph_store_t *previous_store(server_rec *s)
{
    apr_pool_t *pp = s->process->pool;
    apr_shm_t *shm = NULL;
    aleph_store_t *store = NULL;

    apr_pool_userdata_get((void **)&shm, ALEPH_STORE_USERDATA, pp);
    if (shm && aleph_store_attach(&store, shm, pp) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     "ALEPH00009: the token store was laid out by another "
                     "version of mod_aleph: starting with an empty one");
        /* Old children keep their own mapping; the parent lets go of it. */
        apr_shm_destroy(shm);
    }
    return store;
}

int aleph_store_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp, server_rec *s)
{
    apr_pool_t *pp = s->process->pool;
    aleph_server_conf_t *sc = ap_get_module_config(s->module_config, &aleph_module);
    unsigned size = sc->cache_size != ALEPH_UNSET ? (unsigned)sc->cache_size
                                                  : ALEPH_DEFAULT_CACHE_SIZE;
    apr_array_header_t *creds = aleph_scopes_creds();
    aleph_store_t *old = previous_store(s), *store;
    apr_status_t rv;
    int i, carried = 0;

    (void)plog;
    (void)ptemp;
    if (old && store_fits(old, size)) {
        current = old;
        return aleph_scopes_bind(pconf, s, old);
    }
    rv = aleph_store_create(&store, size, pp);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                     "ALEPH00008: cannot create the shared token store "
                     "(%" APR_SIZE_T_FMT " bytes); lower AlephCacheSize or "
                     "check the shared memory limits", aleph_store_size(size));
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (old) {
        /* Carry this generation's tokens over; forget the rest. */
        for (i = 0; i < creds->nelts; i++) {
            aleph_cred_t *cred = APR_ARRAY_IDX(creds, i, aleph_cred_t *);
            aleph_slot_t *from = aleph_store_find(old, cred->key);

            carried += from && aleph_store_adopt(store, from) != NULL;
        }
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     "ALEPH00007: token store rebuilt for %u credentials "
                     "(AlephCacheSize changed, or full): %d carried over",
                     size, carried);
        apr_shm_destroy(aleph_store_shm(old));
    }
    apr_pool_userdata_set(aleph_store_shm(store), ALEPH_STORE_USERDATA,
                          apr_pool_cleanup_null, pp);
    current = store;
    return aleph_scopes_bind(pconf, s, store);
}
