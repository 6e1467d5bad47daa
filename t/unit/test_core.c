/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * Unit tests of the portable core without a server: the time policy, the
 * shared-memory store (across forked processes), the read-through cache,
 * credential keys and secret loading.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_env.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include "aleph_cache.h"
#include "aleph_credential.h"
#include "aleph_policy.h"
#include "aleph_secret.h"
#include "aleph_store.h"
#include "tap.h"

#define S ALEPH_SEC

static void test_policy(void)
{
    apr_interval_time_t d;
    int i, in_range = 1;

    is_int(aleph_policy_refresh_at(0, 86400 * S, -1), (86400 - 8640) * S,
           "auto margin: 10 %% of a day");
    is_int(aleph_policy_refresh_at(0, 300 * S, -1), 240 * S,
           "auto margin: at least 60 s");
    is_int(aleph_policy_refresh_at(0, 2 * S, -1), 1 * S,
           "auto margin: at most half of a short lifetime");
    is_int(aleph_policy_refresh_at(0, 3600 * S, 120 * S), 3480 * S,
           "explicit margin");
    is_int(aleph_policy_refresh_at(0, 3600 * S, 0), 3600 * S, "zero margin");
    is_int(aleph_policy_expires_at(0, 86400 * S), (86400 - 5) * S,
           "skew: 5 s on long tokens");
    is_int(aleph_policy_expires_at(0, 2 * S), 2 * S - 2 * S / 10,
           "skew: 10 %% on short tokens");
    ok(aleph_policy_refresh_at(0, 2 * S, -1) < aleph_policy_expires_at(0, 2 * S),
       "a short token is refreshed before it expires");

    for (i = 0; i < 1000; i++) {
        d = aleph_policy_backoff(1, 60 * S, 0, (apr_uint32_t)rand() * 2654435761u);
        in_range &= d >= S / 2 && d <= S;
    }
    ok(in_range, "first backoff step in [0.5 s, 1 s]");
    is_int(aleph_policy_backoff(3, 60 * S, 0, 0xffffffffu), 4 * S, "third step: 4 s at most");
    is_int(aleph_policy_backoff(3, 60 * S, 0, 0), 2 * S, "third step: 2 s at least");
    is_int(aleph_policy_backoff(30, 60 * S, 0, 0xffffffffu), 60 * S, "capped at the maximum");
    is_int(aleph_policy_backoff(1000, 10 * S, 0, 0), 5 * S, "no overflow after many failures");
    is_int(aleph_policy_backoff(1, 60 * S, 120 * S, 0), 120 * S, "Retry-After lengthens it");
    is_int(aleph_policy_backoff(1, 60 * S, 999999 * S, 0), 3600 * S, "Retry-After is bounded");
    ok(aleph_clock_now() > 0, "monotonic clock runs");
}

static void key_of(int i, unsigned char key[ALEPH_KEY_LEN])
{
    memset(key, 0, ALEPH_KEY_LEN);
    key[0] = (unsigned char)i;
}

static void test_store_basics(apr_pool_t *p)
{
    aleph_store_t *st;
    aleph_slot_t *a, *b;
    unsigned char k[ALEPH_KEY_LEN];
    char buf[ALEPH_TOKEN_MAX_LEN + 1];
    aleph_token_meta_t meta;
    aleph_slot_stats_t stats;
    apr_int64_t retry_at, now = aleph_clock_now();
    int i;

    ok(aleph_store_create(&st, 3, p) == APR_SUCCESS, "store created");
    key_of(1, k);
    a = aleph_store_slot(st, k);
    ok(a != NULL && aleph_store_slot(st, k) == a, "same key, same slot");
    key_of(2, k);
    b = aleph_store_slot(st, k);
    ok(b != NULL && b != a, "another key, another slot");
    key_of(3, k);
    ok(aleph_store_slot(st, k) != NULL, "third slot");
    key_of(4, k);
    ok(aleph_store_slot(st, k) == NULL, "a full store says so");
    is_int(aleph_store_used(st), 3, "three slots used");

    ok(!aleph_store_get(a, buf, &meta), "empty slot has no token");
    ok(aleph_store_claim(a, now, 10 * S, &retry_at), "claim a free slot");
    ok(!aleph_store_claim(a, now, 10 * S, &retry_at) && retry_at == 0,
       "second claim refused while in flight, no backoff");
    aleph_store_put(a, "tok-1", 5, now + 100 * S, now + 50 * S, apr_time_now());
    ok(aleph_store_get(a, buf, &meta) && !strcmp(buf, "tok-1") && meta.token_len == 5
       && meta.expires_at == now + 100 * S && meta.refresh_at == now + 50 * S,
       "put then get");
    ok(!aleph_store_get(b, buf, &meta), "slots are independent");
    ok(aleph_store_claim(a, now, 10 * S, NULL), "put releases the claim");
    aleph_store_fail(a, "token_endpoint_unreachable: down", now + 30 * S, apr_time_now());
    ok(!aleph_store_claim(a, now + S, 10 * S, &retry_at) && retry_at == now + 30 * S,
       "backoff refuses a claim and says until when");
    ok(aleph_store_get(a, buf, &meta) && !strcmp(buf, "tok-1"),
       "a failure keeps the still-valid token");
    aleph_store_stats(a, now + S, &stats);
    ok(stats.fetches == 2 && stats.failures == 1 && stats.consecutive_failures == 1
       && stats.retry_at == now + 30 * S && !strcmp(stats.last_error,
       "token_endpoint_unreachable: down"), "stats after a failure");
    ok(((uintptr_t)a % 64) == 0 && ((uintptr_t)b % 64) == 0,
       "slots start on a cache line");
    aleph_store_count_injection(a);
    aleph_store_count_injection(a);
    aleph_store_count_injection(b);
    aleph_store_stats(a, now, &stats);
    is_int((long long)stats.injections, 2, "injections are counted per slot");
    ok(aleph_store_claim(a, now + 31 * S, 10 * S, NULL), "claim after the backoff");
    ok(aleph_store_claim(a, now + 42 * S, 10 * S, NULL),
       "an expired claim (dead fetcher) is taken over");
    aleph_store_put(a, "tok-2", 5, now + 100 * S, now + 50 * S, apr_time_now());
    aleph_store_stats(a, now, &stats);
    ok(stats.consecutive_failures == 0 && stats.retry_at == 0, "success resets the backoff");

    aleph_store_get(a, buf, &meta);
    ok(!aleph_store_expire(a, meta.serial + 1, now) && aleph_store_get(a, buf, &meta)
       && meta.expires_at == now + 100 * S, "expire leaves a newer token alone");
    ok(aleph_store_expire(a, meta.serial, now) && aleph_store_get(a, buf, &meta)
       && meta.expires_at == 0, "expire marks the rejected token expired");
    ok(aleph_store_claim(a, now, S, NULL), "expire gives its claim up");
    aleph_store_put(a, "tok-3", 5, now + 100 * S, now + 50 * S, 0);

    memset(buf, 'x', ALEPH_TOKEN_MAX_LEN);
    ok(aleph_store_claim(b, now, S, NULL), "claim b");
    aleph_store_put(b, buf, ALEPH_TOKEN_MAX_LEN, now + S, now, 0);
    ok(aleph_store_get(b, buf, &meta) && meta.token_len == ALEPH_TOKEN_MAX_LEN
       && strlen(buf) == ALEPH_TOKEN_MAX_LEN, "a token of the maximum length fits");
    for (i = 0; i < ALEPH_KEY_LEN; i++) {
        k[i] = (unsigned char)i;
    }
}

/* A store outlives a restart by being attached again; rebuilt stores adopt tokens. */
static void test_store_restart(apr_pool_t *p)
{
    aleph_store_t *st, *again, *bigger;
    aleph_slot_t *a, *b;
    unsigned char k[ALEPH_KEY_LEN];
    char buf[ALEPH_TOKEN_MAX_LEN + 1];
    aleph_token_meta_t meta;
    apr_int64_t now = aleph_clock_now();
    apr_shm_t *other;

    aleph_store_create(&st, 2, p);
    key_of(7, k);
    a = aleph_store_slot(st, k);
    aleph_store_claim(a, now, S, NULL);
    aleph_store_put(a, "tok-7", 5, now + 100 * S, now + 50 * S, 0);
    ok(aleph_store_attach(&again, aleph_store_shm(st), p) == APR_SUCCESS
       && aleph_store_find(again, k) == a, "attach finds the same slots");
    aleph_store_create(&bigger, 4, p);
    b = aleph_store_adopt(bigger, a);
    ok(b && aleph_store_get(b, buf, &meta) && !strcmp(buf, "tok-7")
       && meta.expires_at == now + 100 * S, "adopt carries the token over");
    {
        aleph_slot_stats_t sa, sb;

        aleph_store_stats(a, now, &sa);
        aleph_store_stats(b, now, &sb);
        ok(sb.fetches == sa.fetches && sb.fetches == 1 && sb.injections == sa.injections,
           "... and the counters");
    }
    key_of(8, k);
    ok(aleph_store_find(bigger, k) == NULL, "find does not allocate");
    apr_shm_create(&other, 4096, NULL, p);
    memset(apr_shm_baseaddr_get(other), 0x5a, 4096);
    ok(aleph_store_attach(&again, other, p) == APR_EINVAL, "a foreign layout is refused");
}

/* A writer and several readers in separate processes: no torn token. */
static void test_store_processes(apr_pool_t *p)
{
    aleph_store_t *st;
    aleph_slot_t *slot;
    unsigned char k[ALEPH_KEY_LEN];
    pid_t pids[4];
    int i, status, all_ok = 1;
    apr_int64_t now = aleph_clock_now();

    aleph_store_create(&st, 1, p);
    key_of(9, k);
    slot = aleph_store_slot(st, k);
    for (i = 0; i < 4; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            char buf[ALEPH_TOKEN_MAX_LEN + 1];
            aleph_token_meta_t meta;
            int n, bad = 0;

            for (n = 0; n < 20000; n++) {
                if (i == 0) {
                    /* Token n: length and every byte derived from n. */
                    int len = 100 + n % 3000;
                    memset(buf, 'a' + n % 26, (size_t)len);
                    aleph_store_put(slot, buf, (apr_size_t)len, now + S, now, n);
                }
                else if (aleph_store_get(slot, buf, &meta)) {
                    apr_size_t j, len = meta.token_len;
                    char c = buf[0];

                    for (j = 0; j < len; j++) {
                        bad |= buf[j] != c;
                    }
                    bad |= strlen(buf) != len;
                    bad |= (int)len != 100 + (int)(meta.obtained % 3000);
                    bad |= c != 'a' + (int)(meta.obtained % 26);
                }
            }
            _exit(bad);
        }
    }
    for (i = 0; i < 4; i++) {
        waitpid(pids[i], &status, 0);
        all_ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    ok(all_ok, "1 writer, 3 readers in other processes: never a torn token");

    /* A fetcher that dies holding the claim blocks others only until the hold ends. */
    now = aleph_clock_now();
    if (fork() == 0) {
        _exit(aleph_store_claim(slot, now, S / 5, NULL) ? 0 : 1);
    }
    wait(&status);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a child claimed, then died");
    ok(!aleph_store_claim(slot, aleph_clock_now(), S, NULL), "its claim holds meanwhile");
    apr_sleep(S / 4);
    ok(aleph_store_claim(slot, aleph_clock_now(), S, NULL), "and is taken over after the hold");
}

static int fetch_calls;
static int fetch_fail;
static apr_int64_t fetch_lifetime = 3600;
static apr_interval_time_t fetch_retry_after;

static apr_status_t fake_fetch(apr_pool_t *p, const aleph_token_request_t *req,
                               aleph_token_result_t *res)
{
    (void)req;
    fetch_calls++;
    if (fetch_fail) {
        res->reason = ALEPH_R_HTTP_STATUS;
        res->detail = "The token endpoint answered HTTP 500.";
        res->http_status = 500;
        res->retry_after = fetch_retry_after;
        return APR_EGENERAL;
    }
    res->access_token = apr_psprintf(p, "tok-%d", fetch_calls);
    res->token_len = strlen(res->access_token);
    res->expires_in = fetch_lifetime;
    res->reason = ALEPH_R_OK;
    return APR_SUCCESS;
}

static void test_cache(apr_pool_t *p)
{
    aleph_store_t *st;
    aleph_slot_t *slot;
    unsigned char k[ALEPH_KEY_LEN];
    char buf[ALEPH_TOKEN_MAX_LEN + 1];
    aleph_cache_answer_t ans;
    aleph_cache_policy_t pol = { -1, 60 * S, S / 20, 0 };
    aleph_token_request_t req;

    memset(&req, 0, sizeof(req));
    req.transport.timeout = S;
    aleph_store_create(&st, 2, p);
    key_of(1, k);
    slot = aleph_store_slot(st, k);

    aleph_cache_get(p, slot, &req, fake_fetch, &pol, buf, &ans);
    ok(ans.outcome == ALEPH_CACHE_FETCHED && ans.fetched && !strcmp(buf, "tok-1"),
       "cold: the caller fetches");
    aleph_cache_get(p, slot, &req, fake_fetch, &pol, buf, &ans);
    ok(ans.outcome == ALEPH_CACHE_HIT && !ans.fetched && !strcmp(buf, "tok-1")
       && fetch_calls == 1, "warm: cached, no fetch");

    /* Due for refresh: one caller renews; a failure keeps the old token. */
    fetch_lifetime = 1;
    key_of(2, k);
    slot = aleph_store_slot(st, k);
    aleph_cache_get(p, slot, &req, fake_fetch, &pol, buf, &ans);
    ok(ans.outcome == ALEPH_CACHE_FETCHED && !strcmp(buf, "tok-2"), "short token fetched");
    apr_sleep(S * 6 / 10);
    fetch_fail = 1;
    aleph_cache_get(p, slot, &req, fake_fetch, &pol, buf, &ans);
    ok(ans.outcome == ALEPH_CACHE_HIT && ans.fetched && !strcmp(buf, "tok-2")
       && fetch_calls == 3, "refresh failed: the still-valid token is served");
    aleph_cache_get(p, slot, &req, fake_fetch, &pol, buf, &ans);
    ok(ans.outcome == ALEPH_CACHE_HIT && !ans.fetched && fetch_calls == 3,
       "backing off: no new attempt, token still served");
    apr_sleep(S * 4 / 10);
    aleph_cache_get(p, slot, &req, fake_fetch, &pol, buf, &ans);
    ok(ans.outcome == ALEPH_CACHE_BACKOFF && ans.retry_at > aleph_clock_now()
       && fetch_calls == 3, "expired during backoff: refused with a retry time, no fetch");
    fetch_fail = 0;
    apr_sleep(ans.retry_at - aleph_clock_now() + S / 50);
    aleph_cache_get(p, slot, &req, fake_fetch, &pol, buf, &ans);
    ok(ans.outcome == ALEPH_CACHE_FETCHED && !strcmp(buf, "tok-4"), "recovers after the backoff");

    /* With a background refresher, callers leave a due token alone until late. */
    fetch_lifetime = 4;
    pol.background = 1;
    key_of(4, k);
    aleph_store_create(&st, 1, p);
    slot = aleph_store_slot(st, k);
    aleph_cache_get(p, slot, &req, fake_fetch, &pol, buf, &ans);
    apr_sleep(S * 22 / 10);         /* due at 2 s, late at 3.2 s, expired at 3.6 s */
    aleph_cache_get(p, slot, &req, fake_fetch, &pol, buf, &ans);
    ok(ans.outcome == ALEPH_CACHE_HIT && !ans.fetched, "background: a due token is left to the refresher");
    apr_sleep(S * 11 / 10);
    aleph_cache_get(p, slot, &req, fake_fetch, &pol, buf, &ans);
    ok(ans.outcome == ALEPH_CACHE_HIT && ans.fetched, "background: a late token is refreshed by a caller");
    pol.background = 0;

    /* A fetch in flight elsewhere: wait a bounded time. */
    fetch_lifetime = 3600;
    key_of(3, k);
    aleph_store_create(&st, 1, p);
    slot = aleph_store_slot(st, k);
    ok(aleph_store_claim(slot, aleph_clock_now(), 10 * S, NULL), "someone else is fetching");
    aleph_cache_get(p, slot, &req, fake_fetch, &pol, buf, &ans);
    ok(ans.outcome == ALEPH_CACHE_WAIT_TIMEOUT && !ans.fetched, "waiting is bounded");

    fetch_fail = 1;
    aleph_store_create(&st, 1, p);
    slot = aleph_store_slot(st, k);
    aleph_cache_get(p, slot, &req, fake_fetch, &pol, buf, &ans);
    ok(ans.outcome == ALEPH_CACHE_FAILED && ans.fetched && ans.retry_at > aleph_clock_now()
       && !strcmp(ans.result.reason, ALEPH_R_HTTP_STATUS), "a failed cold fetch says why and when");
    fetch_fail = 0;
}

/* Backoff belongs to a credential, and an endpoint's Retry-After sets it. */
static void test_cache_backoff(apr_pool_t *p)
{
    aleph_store_t *st;
    aleph_slot_t *a, *b;
    unsigned char k[ALEPH_KEY_LEN];
    char buf[ALEPH_TOKEN_MAX_LEN + 1];
    aleph_cache_answer_t ans;
    aleph_cache_policy_t pol = { -1, 2 * S, S / 20, 0 };
    aleph_token_request_t req;
    aleph_slot_stats_t stats;
    apr_interval_time_t left;
    int calls;

    memset(&req, 0, sizeof(req));
    req.transport.timeout = S;
    aleph_store_create(&st, 2, p);
    key_of(1, k);
    a = aleph_store_slot(st, k);
    key_of(2, k);
    b = aleph_store_slot(st, k);
    fetch_fail = 1;

    calls = fetch_calls;
    aleph_cache_get(p, a, &req, fake_fetch, &pol, buf, &ans);
    left = ans.retry_at - aleph_clock_now();
    ok(ans.outcome == ALEPH_CACHE_FAILED && left > 0 && left <= S,
       "first failure: backoff of at most 1 s");
    aleph_cache_get(p, a, &req, fake_fetch, &pol, buf, &ans);
    ok(ans.outcome == ALEPH_CACHE_BACKOFF && !ans.fetched && fetch_calls == calls + 1,
       "the failing credential backs off without a fetch");
    aleph_cache_get(p, b, &req, fake_fetch, &pol, buf, &ans);
    ok(ans.outcome == ALEPH_CACHE_FAILED && ans.fetched && fetch_calls == calls + 2,
       "another credential is not held back by it");

    /* A Retry-After longer than AlephBackoffMax wins, for that credential only. */
    apr_sleep(ans.retry_at - aleph_clock_now() + S / 50);
    fetch_retry_after = 30 * S;
    aleph_cache_get(p, b, &req, fake_fetch, &pol, buf, &ans);
    left = ans.retry_at - aleph_clock_now();
    ok(ans.outcome == ALEPH_CACHE_FAILED && left > 29 * S && left <= 30 * S,
       "Retry-After 30 s from the endpoint: the next attempt waits 30 s");
    aleph_store_stats(b, aleph_clock_now(), &stats);
    ok(stats.consecutive_failures == 2 && stats.retry_at == ans.retry_at,
       "the store records it");
    aleph_cache_get(p, b, &req, fake_fetch, &pol, buf, &ans);
    ok(ans.outcome == ALEPH_CACHE_BACKOFF && ans.retry_at - aleph_clock_now() > 29 * S,
       "callers are told the time left");
    fetch_retry_after = 0;
    apr_sleep(S);
    aleph_cache_get(p, a, &req, fake_fetch, &pol, buf, &ans);
    left = ans.retry_at - aleph_clock_now();
    ok(ans.outcome == ALEPH_CACHE_FAILED && left >= S - S / 10 && left <= 2 * S,
       "second failure of the first credential: 1-2 s, capped at its maximum");
    fetch_fail = 0;
}

/* The contracts a stand-in lookup returns: how many, or -1 for a failure. */
static int contracts_listed;
static int lookup_calls;

static apr_status_t fake_lookup(apr_pool_t *p, const aleph_contracts_request_t *req,
                                aleph_contracts_result_t *res)
{
    int i;

    (void)req;
    lookup_calls++;
    memset(res, 0, sizeof(*res));
    if (contracts_listed < 0) {
        res->reason = ALEPH_C_UNREACHABLE;
        res->detail = "down";
        return APR_EGENERAL;
    }
    res->reason = ALEPH_C_OK;
    res->contracts = apr_array_make(p, 2, sizeof(aleph_contract_t));
    for (i = 0; i < contracts_listed; i++) {
        aleph_contract_t *c = apr_array_push(res->contracts);

        c->contract_id = apr_psprintf(p, "cont.%d", i + 1);
        c->name = "n";
    }
    return APR_SUCCESS;
}

/* AlephContract auto: single lookup, kept for good, refusals back off. */
static void test_contract_cache(apr_pool_t *p)
{
    aleph_store_t *st;
    aleph_slot_t *slot;
    unsigned char k[ALEPH_KEY_LEN];
    char buf[ALEPH_CONTRACT_ID_MAX + 1];
    aleph_contract_answer_t ans;
    /* A 200 ms backoff cap: long enough to be seen, short enough to wait out. */
    aleph_cache_policy_t pol = { -1, S / 5, S / 20, 0 };
    aleph_contracts_request_t req;
    aleph_http_transport_t transport;
    apr_int64_t now = aleph_clock_now(), retry_at;

    memset(&req, 0, sizeof(req));
    memset(&transport, 0, sizeof(transport));
    transport.timeout = S;
    req.transport = &transport;
    aleph_store_create(&st, 4, p);

    key_of(1, k);
    slot = aleph_store_slot(st, k);
    ok(aleph_store_contract(slot, buf) == ALEPH_CONTRACT_STATE_UNKNOWN, "no contract at first");
    contracts_listed = 1;
    aleph_cache_contract(p, slot, &req, fake_lookup, &pol, buf, &ans);
    ok(ans.found && ans.looked_up && !strcmp(buf, "cont.1") && lookup_calls == 1,
       "one contract: looked up and used");
    contracts_listed = 2;
    memset(buf, 0, sizeof(buf));
    aleph_cache_contract(p, slot, &req, fake_lookup, &pol, buf, &ans);
    ok(ans.found && !ans.looked_up && !strcmp(buf, "cont.1") && lookup_calls == 1,
       "then kept: no second lookup");
    ok(!aleph_store_contract_claim(slot, now, S, &retry_at) && retry_at == 0,
       "a known contract cannot be claimed");
    aleph_store_contract_put(slot, "cont.other");
    aleph_store_contract_fail(slot, ALEPH_CONTRACT_STATE_AMBIGUOUS, now + S);
    ok(aleph_store_contract(slot, buf) == ALEPH_CONTRACT_STATE_KNOWN && !strcmp(buf, "cont.1"),
       "a known contract is never replaced");

    key_of(2, k);
    slot = aleph_store_slot(st, k);
    aleph_cache_contract(p, slot, &req, fake_lookup, &pol, buf, &ans);
    ok(!ans.found && ans.looked_up && !strcmp(ans.code, ALEPH_CONTRACT_AMBIGUOUS)
       && ans.result.contracts && ans.result.contracts->nelts == 2
       && ans.retry_at > aleph_clock_now(), "two contracts: ambiguous, with the list");
    aleph_cache_contract(p, slot, &req, fake_lookup, &pol, buf, &ans);
    ok(!ans.found && !ans.looked_up && !strcmp(ans.code, ALEPH_CONTRACT_AMBIGUOUS)
       && lookup_calls == 2, "ambiguous: backs off without a new lookup");
    apr_sleep(S / 4);
    contracts_listed = 0;
    aleph_cache_contract(p, slot, &req, fake_lookup, &pol, buf, &ans);
    ok(!ans.found && ans.looked_up && !strcmp(ans.code, ALEPH_CONTRACT_NONE),
       "after the backoff, looked up again: none");
    aleph_cache_contract(p, slot, &req, fake_lookup, &pol, buf, &ans);
    ok(!ans.found && !ans.looked_up && !strcmp(ans.code, ALEPH_CONTRACT_NONE),
       "none: backs off");
    apr_sleep(S / 4);
    contracts_listed = -1;
    aleph_cache_contract(p, slot, &req, fake_lookup, &pol, buf, &ans);
    ok(!ans.found && ans.looked_up && !strcmp(ans.code, ALEPH_C_UNREACHABLE),
       "a failed lookup gives its reason");
    aleph_cache_contract(p, slot, &req, fake_lookup, &pol, buf, &ans);
    ok(!ans.found && !ans.looked_up && !strcmp(ans.code, ALEPH_CONTRACT_BACKOFF),
       "then backs off");
    apr_sleep(S / 4);
    contracts_listed = 1;
    aleph_cache_contract(p, slot, &req, fake_lookup, &pol, buf, &ans);
    ok(ans.found && !strcmp(buf, "cont.1") && aleph_store_contract_failures(slot) == 0,
       "recovers, and the failures are reset");

    /* Another process holds the lookup: wait for it, up to wait_max. */
    key_of(3, k);
    slot = aleph_store_slot(st, k);
    now = aleph_clock_now();
    ok(aleph_store_contract_claim(slot, now, 10 * S, &retry_at), "claim a lookup");
    ok(!aleph_store_contract_claim(slot, now, 10 * S, &retry_at) && retry_at == 0,
       "a second claim waits (no backoff)");
    aleph_cache_contract(p, slot, &req, fake_lookup, &pol, buf, &ans);
    ok(!ans.found && !ans.looked_up && !strcmp(ans.code, ALEPH_CONTRACT_PENDING),
       "a lookup in flight elsewhere: gives up after wait_max");
    aleph_store_contract_put(slot, "cont.9");
    aleph_cache_contract(p, slot, &req, fake_lookup, &pol, buf, &ans);
    ok(ans.found && !strcmp(buf, "cont.9"), "the other process's answer is used");
}

static void test_credential_key(apr_pool_t *p)
{
    aleph_token_request_t a, b;
    unsigned char ka[ALEPH_KEY_LEN], kb[ALEPH_KEY_LEN];

    memset(&a, 0, sizeof(a));
    a.token_url = "https://auth.example/oauth/token";
    a.client_id = "id";
    a.client_secret = "secret";
    a.audience = "https://api.example/";
    b = a;
    aleph_credential_key(&a, ka);
    aleph_credential_key(&b, kb);
    ok(!memcmp(ka, kb, ALEPH_KEY_LEN), "same credential, same key");
    b.client_secret = "secret2";
    aleph_credential_key(&b, kb);
    ok(memcmp(ka, kb, ALEPH_KEY_LEN), "the secret changes the key");
    b = a;
    b.scope = "";
    aleph_credential_key(&b, kb);
    ok(memcmp(ka, kb, ALEPH_KEY_LEN), "an empty scope differs from none");
    b = a;
    b.body = ALEPH_BODY_FORM;
    aleph_credential_key(&b, kb);
    ok(memcmp(ka, kb, ALEPH_KEY_LEN), "the request style changes the key");
    b = a;
    b.client_id = "i";
    b.token_url = "https://auth.example/oauth/tokend";
    aleph_credential_key(&b, kb);
    ok(memcmp(ka, kb, ALEPH_KEY_LEN), "fields do not run into each other");
    b = a;
    b.transport.timeout = 5 * S;
    aleph_credential_key(&b, kb);
    ok(!memcmp(ka, kb, ALEPH_KEY_LEN), "the timeout is not part of the identity");
    is(aleph_fingerprint(p, "x", 1), "11f6ad8ec52a", "fingerprint: first 6 bytes of SHA-1, hex");
}

static void write_file(const char *path, const char *text, int mode)
{
    FILE *f = fopen(path, "w");

    fputs(text, f);
    fclose(f);
    chmod(path, (mode_t)mode);
}

static void test_secret(apr_pool_t *p)
{
    char dir[] = "/tmp/aleph-secret-XXXXXX";
    const char *secret = NULL, *error = NULL, *path;
    int others;
    char big[ALEPH_SECRET_MAX_LEN + 10];

    ok(mkdtemp(dir) != NULL, "temp dir");
    path = apr_pstrcat(p, dir, "/s", NULL);
    write_file(path, "top-secret\r\n", 0600);
    ok(aleph_secret_load(p, apr_pstrcat(p, "file:", path, NULL), &secret, &error,
                         &others) == APR_SUCCESS && !strcmp(secret, "top-secret") && !others,
       "file: secret read, line end stripped, private");
    chmod(path, 0644);
    ok(aleph_secret_load(p, apr_pstrcat(p, "file:", path, NULL), &secret, &error,
                         &others) == APR_SUCCESS && others, "readable by others is reported");
    ok(aleph_secret_load(p, apr_pstrcat(p, "file:", dir, "/none", NULL), &secret, &error,
                         &others) != APR_SUCCESS && strstr(error, "cannot open secret file"),
       "missing file");
    write_file(path, "\n", 0600);
    ok(aleph_secret_load(p, apr_pstrcat(p, "file:", path, NULL), &secret, &error,
                         &others) != APR_SUCCESS && strstr(error, "is empty"), "empty file");
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    write_file(path, big, 0600);
    ok(aleph_secret_load(p, apr_pstrcat(p, "file:", path, NULL), &secret, &error,
                         &others) != APR_SUCCESS && strstr(error, "larger than"), "oversized file");
    write_file(path, "a\tb", 0600);
    ok(aleph_secret_load(p, apr_pstrcat(p, "file:", path, NULL), &secret, &error,
                         &others) != APR_SUCCESS && strstr(error, "control characters")
       && !strstr(error, "a\tb"), "control characters refused, not echoed");
    ok(aleph_secret_load(p, dir, &secret, &error, &others) != APR_SUCCESS,
       "a spec without file:/env: is refused");
    ok(aleph_secret_load(p, apr_pstrcat(p, "file:", dir, NULL), &secret, &error,
                         &others) != APR_SUCCESS, "a directory is refused");
    apr_env_set("ALEPH_UNIT_SECRET", "from-env", p);
    ok(aleph_secret_load(p, "env:ALEPH_UNIT_SECRET", &secret, &error, &others)
       == APR_SUCCESS && !strcmp(secret, "from-env"), "env: secret");
    apr_env_delete("ALEPH_UNIT_SECRET", p);
    ok(aleph_secret_load(p, "env:ALEPH_UNIT_SECRET", &secret, &error, &others)
       != APR_SUCCESS && strstr(error, "is not set"), "unset variable");
    ok(!aleph_secret_spec_valid("file:") && !aleph_secret_spec_valid("env:")
       && !aleph_secret_spec_valid("hunter2") && aleph_secret_spec_valid("env:X"),
       "spec syntax");
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    apr_pool_t *p;

    apr_initialize();
    apr_pool_create(&p, NULL);
    test_policy();
    test_store_basics(p);
    test_store_processes(p);
    test_store_restart(p);
    test_cache(p);
    test_cache_backoff(p);
    test_contract_cache(p);
    test_credential_key(p);
    test_secret(p);
    apr_pool_destroy(p);
    apr_terminate();
    return done_testing();
}
