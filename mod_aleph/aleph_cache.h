/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * Read-through token cache over the store: serve the cached token, let
 * exactly one caller per credential fetch a new one (when there is none,
 * or when it is due for refresh), make the others wait a bounded time or
 * carry on with the still-valid token. Portable core: APR only; the
 * token source is passed in, so any provider can fill the cache.
 */
#ifndef ALEPH_CACHE_H
#define ALEPH_CACHE_H

#include "aleph_store.h"
#include "aleph_token.h"

/* A token source: the OAuth 2.0 client, or any other provider. */
typedef apr_status_t aleph_fetch_fn(apr_pool_t *p, const aleph_token_request_t *req,
                                    aleph_token_result_t *res);

typedef struct {
    apr_interval_time_t refresh_margin;   /* < 0: automatic */
    apr_interval_time_t backoff_max;
    apr_interval_time_t wait_max;         /* waiting for another's fetch */
    /*
     * A background refresher renews tokens: callers then refresh only a
     * token that is late (three quarters of the way from its refresh time
     * to its expiry), in case the refresher is stuck.
     */
    int background;
} aleph_cache_policy_t;

typedef enum {
    ALEPH_CACHE_HIT = 0,        /* valid token in buf */
    ALEPH_CACHE_FETCHED,        /* this caller fetched the token in buf */
    ALEPH_CACHE_FAILED,         /* this caller's fetch failed: see result */
    ALEPH_CACHE_BACKOFF,        /* no valid token; failing, retry later */
    ALEPH_CACHE_WAIT_TIMEOUT    /* another fetch did not finish in time */
} aleph_cache_outcome_e;

typedef struct {
    aleph_cache_outcome_e outcome;
    int fetched;                /* a fetch ran in this call (refresh too) */
    aleph_token_result_t result;/* of that fetch */
    apr_int64_t retry_at;       /* BACKOFF, FAILED: when the next attempt may run */
    aleph_token_meta_t meta;    /* of the token in buf */
} aleph_cache_answer_t;

/*
 * Puts a valid token for req into buf (ALEPH_TOKEN_MAX_LEN + 1 bytes)
 * when one can be had; outcome HIT or FETCHED then.
 */
void aleph_cache_get(apr_pool_t *p, aleph_slot_t *slot,
                     const aleph_token_request_t *req, aleph_fetch_fn *fetch,
                     const aleph_cache_policy_t *policy, char *buf,
                     aleph_cache_answer_t *answer);

/* Fetches into the slot now if the caller wins the claim; for refreshers. */
int aleph_cache_refresh(apr_pool_t *p, aleph_slot_t *slot,
                        const aleph_token_request_t *req, aleph_fetch_fn *fetch,
                        const aleph_cache_policy_t *policy,
                        aleph_token_result_t *result);

#endif
