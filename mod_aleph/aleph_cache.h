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

#include "aleph_contracts.h"
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

/* A contracts source: aleph_contracts_fetch, or a stand-in in tests. */
typedef apr_status_t aleph_contracts_fn(apr_pool_t *p, const aleph_contracts_request_t *req,
                                        aleph_contracts_result_t *res);

/* 503 codes when no single contract can be had (besides ALEPH_C_* reasons). */
#define ALEPH_CONTRACT_AMBIGUOUS "contract_ambiguous"
#define ALEPH_CONTRACT_NONE      "contract_none"
#define ALEPH_CONTRACT_BACKOFF   "contracts_endpoint_backoff"
#define ALEPH_CONTRACT_PENDING   "contracts_request_pending"

typedef struct {
    int found;                  /* the id is in buf */
    const char *code;           /* otherwise: why (a 503 code) */
    int looked_up;              /* this caller ran the lookup: see result */
    aleph_contracts_result_t result;
    apr_int64_t retry_at;       /* not found: when a lookup may run again */
} aleph_contract_answer_t;

/*
 * AlephContract auto: puts the credential's one contract id into buf
 * (ALEPH_CONTRACT_ID_MAX + 1 bytes). The first caller looks it up with
 * req (one lookup per credential at a time, across processes) and keeps
 * it in the slot for good; several contracts, none, or a failed lookup
 * back off like token fetches, and callers get the code. Only the
 * lookup's own claim is held while it runs.
 */
void aleph_cache_contract(apr_pool_t *p, aleph_slot_t *slot,
                          const aleph_contracts_request_t *req,
                          aleph_contracts_fn *lookup, const aleph_cache_policy_t *policy,
                          char *buf, aleph_contract_answer_t *answer);

#endif
