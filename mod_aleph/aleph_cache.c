/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>
#include "aleph_cache.h"
#include "aleph_policy.h"

/* How often a waiting caller looks at the slot again. */
#define ALEPH_WAIT_STEP (10 * 1000)

/* Time a claim is held: past it, a dead or hung fetcher is replaced. */
static apr_interval_time_t claim_hold(apr_interval_time_t request_timeout)
{
    return request_timeout + 2 * ALEPH_SEC;
}

static apr_uint32_t jitter(void)
{
    apr_uint32_t r = 0;

    if (apr_generate_random_bytes((unsigned char *)&r, sizeof(r)) != APR_SUCCESS) {
        r = (apr_uint32_t)aleph_clock_now();
    }
    return r;
}

/* Runs the fetch for a claimed slot and publishes its outcome. */
static apr_status_t fetch_into(apr_pool_t *p, aleph_slot_t *slot,
                               const aleph_token_request_t *req,
                               aleph_fetch_fn *fetch,
                               const aleph_cache_policy_t *policy,
                               aleph_token_result_t *res)
{
    apr_int64_t t0 = aleph_clock_now();
    apr_status_t rv;

    memset(res, 0, sizeof(*res));
    rv = fetch(p, req, res);
    if (rv == APR_SUCCESS) {
        apr_interval_time_t life = apr_time_from_sec(res->expires_in);

        aleph_store_put(slot, res->access_token, res->token_len,
                        aleph_policy_expires_at(t0, life),
                        aleph_policy_refresh_at(t0, life, policy->refresh_margin),
                        apr_time_now());
    }
    else {
        aleph_slot_stats_t stats;
        apr_interval_time_t delay;

        aleph_store_stats(slot, t0, &stats);
        delay = aleph_policy_backoff(stats.consecutive_failures + 1,
                                     policy->backoff_max, res->retry_after,
                                     jitter());
        aleph_store_fail(slot, apr_psprintf(p, "%s: %s", res->reason, res->detail),
                         aleph_clock_now() + delay, apr_time_now());
    }
    return rv;
}

int aleph_cache_refresh(apr_pool_t *p, aleph_slot_t *slot,
                        const aleph_token_request_t *req, aleph_fetch_fn *fetch,
                        const aleph_cache_policy_t *policy,
                        aleph_token_result_t *result)
{
    if (!aleph_store_claim(slot, aleph_clock_now(), claim_hold(req->transport.timeout), NULL)) {
        return 0;
    }
    fetch_into(p, slot, req, fetch, policy, result);
    return 1;
}

void aleph_cache_get(apr_pool_t *p, aleph_slot_t *slot,
                     const aleph_token_request_t *req, aleph_fetch_fn *fetch,
                     const aleph_cache_policy_t *policy, char *buf,
                     aleph_cache_answer_t *answer)
{
    apr_int64_t now = aleph_clock_now();
    apr_int64_t deadline = now + policy->wait_max;
    aleph_token_meta_t *meta = &answer->meta;

    answer->fetched = 0;
    answer->retry_at = 0;
    if (aleph_store_get(slot, buf, meta) && now < meta->expires_at) {
        apr_int64_t due = meta->refresh_at;

        if (policy->background) {
            due += (meta->expires_at - meta->refresh_at) * 3 / 4;
        }
        answer->outcome = ALEPH_CACHE_HIT;
        /* Due for refresh: one caller renews, the token in buf stays good. */
        if (now >= due
            && aleph_cache_refresh(p, slot, req, fetch, policy, &answer->result)) {
            answer->fetched = 1;
            aleph_store_get(slot, buf, meta);
        }
        return;
    }
    for (;;) {
        if (aleph_store_claim(slot, now, claim_hold(req->transport.timeout), &answer->retry_at)) {
            answer->fetched = 1;
            if (fetch_into(p, slot, req, fetch, policy, &answer->result) == APR_SUCCESS
                && aleph_store_get(slot, buf, meta)) {
                answer->outcome = ALEPH_CACHE_FETCHED;
            }
            else {
                aleph_slot_stats_t stats;

                aleph_store_stats(slot, now, &stats);
                answer->outcome = ALEPH_CACHE_FAILED;
                answer->retry_at = stats.retry_at;
            }
            return;
        }
        if (answer->retry_at) {
            answer->outcome = ALEPH_CACHE_BACKOFF;
            return;
        }
        if (now >= deadline) {
            answer->outcome = ALEPH_CACHE_WAIT_TIMEOUT;
            return;
        }
        apr_sleep(ALEPH_WAIT_STEP);
        now = aleph_clock_now();
        if (aleph_store_get(slot, buf, meta) && now < meta->expires_at) {
            answer->outcome = ALEPH_CACHE_HIT;
            return;
        }
    }
}

/* Runs the lookup for a claimed slot and keeps its outcome. */
static void look_up_contract(apr_pool_t *p, aleph_slot_t *slot,
                             const aleph_contracts_request_t *req,
                             aleph_contracts_fn *lookup,
                             const aleph_cache_policy_t *policy, char *buf,
                             aleph_contract_answer_t *answer)
{
    aleph_contracts_result_t *res = &answer->result;
    aleph_contract_state_e failed = ALEPH_CONTRACT_STATE_UNKNOWN;

    answer->looked_up = 1;
    if (lookup(p, req, res) == APR_SUCCESS && res->contracts->nelts == 1) {
        const char *id = APR_ARRAY_IDX(res->contracts, 0, aleph_contract_t).contract_id;

        aleph_store_contract_put(slot, id);
        apr_cpystrn(buf, id, ALEPH_CONTRACT_ID_MAX + 1);
        answer->found = 1;
        return;
    }
    if (res->contracts) {
        failed = res->contracts->nelts ? ALEPH_CONTRACT_STATE_AMBIGUOUS
                                       : ALEPH_CONTRACT_STATE_NONE;
    }
    answer->code = failed == ALEPH_CONTRACT_STATE_AMBIGUOUS ? ALEPH_CONTRACT_AMBIGUOUS
                 : failed == ALEPH_CONTRACT_STATE_NONE ? ALEPH_CONTRACT_NONE
                 : res->reason;
    answer->retry_at = aleph_clock_now()
        + aleph_policy_backoff(aleph_store_contract_failures(slot) + 1,
                               policy->backoff_max, 0, jitter());
    aleph_store_contract_fail(slot, failed, answer->retry_at);
}

void aleph_cache_contract(apr_pool_t *p, aleph_slot_t *slot,
                          const aleph_contracts_request_t *req,
                          aleph_contracts_fn *lookup, const aleph_cache_policy_t *policy,
                          char *buf, aleph_contract_answer_t *answer)
{
    apr_int64_t now = aleph_clock_now();
    apr_int64_t deadline = now + policy->wait_max;
    aleph_contract_state_e state;

    memset(answer, 0, sizeof(*answer));
    for (;;) {
        state = aleph_store_contract(slot, buf);
        if (state == ALEPH_CONTRACT_STATE_KNOWN) {
            answer->found = 1;
            return;
        }
        if (aleph_store_contract_claim(slot, now, claim_hold(req->transport->timeout),
                                       &answer->retry_at)) {
            look_up_contract(p, slot, req, lookup, policy, buf, answer);
            return;
        }
        if (answer->retry_at) {
            answer->code = state == ALEPH_CONTRACT_STATE_AMBIGUOUS ? ALEPH_CONTRACT_AMBIGUOUS
                         : state == ALEPH_CONTRACT_STATE_NONE ? ALEPH_CONTRACT_NONE
                         : ALEPH_CONTRACT_BACKOFF;
            return;
        }
        if (now >= deadline) {
            answer->code = ALEPH_CONTRACT_PENDING;
            return;
        }
        apr_sleep(ALEPH_WAIT_STEP);
        now = aleph_clock_now();
    }
}
