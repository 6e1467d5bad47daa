/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include <apr_strings.h>
#include "aleph_store.h"

/* Bumped whenever the layout below changes. */
#define ALEPH_STORE_MAGIC   0x414c5048u   /* "ALPH" */
#define ALEPH_STORE_VERSION 3u
/* Reader retries before it gives up on a slot being rewritten. */
#define ALEPH_READ_SPINS    10000
/* Longest a claim taken only to expire a token may be held (microseconds). */
#define ALEPH_EXPIRE_HOLD   (1000 * 1000)

struct aleph_slot_t {
    unsigned char key[ALEPH_KEY_LEN];
    /* Even: stable; odd: a writer is updating the fields below it. */
    _Atomic uint32_t seq;
    _Atomic int64_t claim_until;        /* 0: nobody is fetching */
    _Atomic int64_t retry_at;           /* backoff after a failure */
    _Atomic uint32_t consecutive_failures;
    _Atomic uint64_t fetches;           /* finished: put or fail */
    _Atomic uint64_t failures;
    /* Guarded by seq: */
    int64_t expires_at;
    int64_t refresh_at;
    int64_t obtained;
    uint32_t serial;
    uint32_t token_len;
    int64_t last_error_time;
    char last_error[ALEPH_ERROR_TEXT_MAX];
    /*
     * AlephContract auto. The lookup has a claim and a backoff of its own,
     * so that it never holds up the token. The id is written once, before
     * contract_state becomes KNOWN, and never changes after: no seqlock.
     */
    _Atomic int64_t contract_claim_until;
    _Atomic int64_t contract_retry_at;
    _Atomic uint32_t contract_failures;  /* consecutive */
    _Atomic uint32_t contract_state;     /* aleph_contract_state_e */
    char contract[ALEPH_CONTRACT_ID_MAX + 1];
    char token[ALEPH_TOKEN_MAX_LEN + 1];
    /*
     * Bumped by every injected request; last, 4 KiB away from seq, so that
     * these writes do not evict the cache line every reader checks.
     */
    _Atomic uint64_t injections;
};

typedef struct {
    uint32_t magic;
    uint32_t version;
    uint32_t slot_size;
    uint32_t capacity;
    uint32_t used;                      /* written by the parent only */
} aleph_store_header_t;

struct aleph_store_t {
    apr_shm_t *shm;
    aleph_store_header_t *header;
    aleph_slot_t *slots;
};

/* Slots start on a cache line so that two slots never share one. */
#define ALEPH_LINE         64
#define ALEPH_HEADER_SIZE  APR_ALIGN(sizeof(aleph_store_header_t), ALEPH_LINE)
#define ALEPH_SLOT_SIZE    APR_ALIGN(sizeof(aleph_slot_t), ALEPH_LINE)

apr_size_t aleph_store_size(unsigned nslots)
{
    /* Room to move the header to a cache line: APR's base is not on one. */
    return ALEPH_LINE + ALEPH_HEADER_SIZE + (apr_size_t)nslots * ALEPH_SLOT_SIZE;
}

static aleph_store_header_t *store_header(apr_shm_t *shm)
{
    return (aleph_store_header_t *)APR_ALIGN((uintptr_t)apr_shm_baseaddr_get(shm),
                                             ALEPH_LINE);
}

apr_status_t aleph_store_create(aleph_store_t **store, unsigned nslots,
                                apr_pool_t *p)
{
    aleph_store_t *st = apr_pcalloc(p, sizeof(*st));
    apr_size_t size = aleph_store_size(nslots);
    apr_status_t rv;

    /* Anonymous: nothing on disk to leak or collide across servers. */
    rv = apr_shm_create(&st->shm, size, NULL, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    memset(apr_shm_baseaddr_get(st->shm), 0, size);
    st->header = store_header(st->shm);
    st->header->magic = ALEPH_STORE_MAGIC;
    st->header->version = ALEPH_STORE_VERSION;
    st->header->slot_size = (uint32_t)ALEPH_SLOT_SIZE;
    st->header->capacity = nslots;
    st->slots = (aleph_slot_t *)((char *)st->header + ALEPH_HEADER_SIZE);
    *store = st;
    return APR_SUCCESS;
}

apr_status_t aleph_store_attach(aleph_store_t **store, apr_shm_t *shm,
                                apr_pool_t *p)
{
    aleph_store_header_t *h = store_header(shm);
    aleph_store_t *st;

    if (apr_shm_size_get(shm) < aleph_store_size(0) || h->magic != ALEPH_STORE_MAGIC
        || h->version != ALEPH_STORE_VERSION || h->slot_size != ALEPH_SLOT_SIZE
        || apr_shm_size_get(shm) < aleph_store_size(h->capacity)) {
        return APR_EINVAL;
    }
    st = apr_pcalloc(p, sizeof(*st));
    st->shm = shm;
    st->header = h;
    st->slots = (aleph_slot_t *)((char *)h + ALEPH_HEADER_SIZE);
    *store = st;
    return APR_SUCCESS;
}

apr_shm_t *aleph_store_shm(const aleph_store_t *store)
{
    return store->shm;
}

unsigned aleph_store_used(const aleph_store_t *store)
{
    return store->header->used;
}

unsigned aleph_store_capacity(const aleph_store_t *store)
{
    return store->header->capacity;
}

static aleph_slot_t *slot_at(aleph_store_t *store, unsigned i)
{
    return (aleph_slot_t *)((char *)store->slots + (apr_size_t)i * ALEPH_SLOT_SIZE);
}

aleph_slot_t *aleph_store_find(aleph_store_t *store,
                               const unsigned char key[ALEPH_KEY_LEN])
{
    unsigned i;

    for (i = 0; i < store->header->used; i++) {
        aleph_slot_t *slot = slot_at(store, i);

        if (memcmp(slot->key, key, ALEPH_KEY_LEN) == 0) {
            return slot;
        }
    }
    return NULL;
}

aleph_slot_t *aleph_store_slot(aleph_store_t *store,
                               const unsigned char key[ALEPH_KEY_LEN])
{
    aleph_store_header_t *h = store->header;
    aleph_slot_t *slot = aleph_store_find(store, key);

    if (slot || h->used >= h->capacity) {
        return slot;
    }
    slot = slot_at(store, h->used);
    memcpy(slot->key, key, ALEPH_KEY_LEN);
    h->used++;
    return slot;
}

/*
 * Seqlock write side. Starting from (seq | 1) + 2 keeps the counter odd
 * while writing even if an earlier writer died half-way (seq left odd).
 */
static uint32_t write_begin(aleph_slot_t *slot)
{
    uint32_t s = (atomic_load_explicit(&slot->seq, memory_order_relaxed) | 1u) + 2u;

    atomic_store_explicit(&slot->seq, s, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    return s;
}

static void write_end(aleph_slot_t *slot, uint32_t s)
{
    atomic_store_explicit(&slot->seq, s + 1u, memory_order_release);
}

int aleph_store_get(aleph_slot_t *slot, char *buf, aleph_token_meta_t *meta)
{
    int spins;

    for (spins = 0; spins < ALEPH_READ_SPINS; spins++) {
        uint32_t s1 = atomic_load_explicit(&slot->seq, memory_order_acquire);
        uint32_t len;

        if (s1 & 1u) {
            continue;
        }
        len = slot->token_len;
        if (len > ALEPH_TOKEN_MAX_LEN) {
            continue;                   /* torn read; the check below retries */
        }
        meta->token_len = len;
        meta->expires_at = slot->expires_at;
        meta->refresh_at = slot->refresh_at;
        meta->obtained = slot->obtained;
        meta->serial = slot->serial;
        if (buf) {
            memcpy(buf, slot->token, len);
            buf[len] = '\0';
        }
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&slot->seq, memory_order_relaxed) == s1) {
            return len > 0;
        }
    }
    /* A writer died mid-update: report no token so that a new fetch repairs it. */
    return 0;
}

int aleph_store_claim(aleph_slot_t *slot, apr_int64_t now, apr_int64_t hold,
                      apr_int64_t *retry_at)
{
    int64_t until = atomic_load_explicit(&slot->claim_until, memory_order_acquire);
    int64_t backoff = atomic_load_explicit(&slot->retry_at, memory_order_relaxed);

    if (retry_at) {
        *retry_at = 0;
    }
    if (backoff > now) {
        if (retry_at) {
            *retry_at = backoff;
        }
        return 0;
    }
    /* An expired claim belongs to a fetch that died or hung: take it over. */
    if (until > now) {
        return 0;
    }
    return atomic_compare_exchange_strong(&slot->claim_until, &until, now + hold);
}

static void publish(aleph_slot_t *slot, const char *token, apr_size_t len,
                    apr_int64_t expires_at, apr_int64_t refresh_at, apr_time_t obtained)
{
    uint32_t s;

    if (len > ALEPH_TOKEN_MAX_LEN) {
        len = 0;
    }
    s = write_begin(slot);
    memcpy(slot->token, token, len);
    slot->token[len] = '\0';
    slot->token_len = (uint32_t)len;
    slot->expires_at = expires_at;
    slot->refresh_at = refresh_at;
    slot->obtained = obtained;
    slot->serial++;
    write_end(slot, s);
}

void aleph_store_put(aleph_slot_t *slot, const char *token, apr_size_t len,
                     apr_int64_t expires_at, apr_int64_t refresh_at,
                     apr_time_t obtained)
{
    publish(slot, token, len, expires_at, refresh_at, obtained);
    atomic_fetch_add_explicit(&slot->fetches, 1, memory_order_relaxed);
    atomic_store_explicit(&slot->consecutive_failures, 0, memory_order_relaxed);
    atomic_store_explicit(&slot->retry_at, 0, memory_order_relaxed);
    atomic_store_explicit(&slot->claim_until, 0, memory_order_release);
}

aleph_slot_t *aleph_store_adopt(aleph_store_t *store, aleph_slot_t *from)
{
    aleph_slot_t *slot = aleph_store_slot(store, from->key);
    char token[ALEPH_TOKEN_MAX_LEN + 1];
    aleph_token_meta_t meta;

    if (!slot) {
        return NULL;
    }
    if (aleph_store_get(from, token, &meta)) {
        publish(slot, token, meta.token_len, meta.expires_at, meta.refresh_at,
                meta.obtained);
        memset(token, 0, sizeof(token));
    }
    /* The counters and a found contract carry over too; claims and backoff do not. */
    atomic_store(&slot->fetches, atomic_load(&from->fetches));
    atomic_store(&slot->failures, atomic_load(&from->failures));
    atomic_store(&slot->injections, atomic_load(&from->injections));
    if (atomic_load(&from->contract_state) == ALEPH_CONTRACT_STATE_KNOWN) {
        memcpy(slot->contract, from->contract, sizeof(slot->contract));
        atomic_store(&slot->contract_state, ALEPH_CONTRACT_STATE_KNOWN);
    }
    return slot;
}

int aleph_store_expire(aleph_slot_t *slot, apr_uint32_t serial, apr_int64_t now)
{
    aleph_token_meta_t meta;
    int done = 0;

    /* The claim makes this the only writer; a fetch in flight will replace the token anyway. */
    if (!aleph_store_claim(slot, now, ALEPH_EXPIRE_HOLD, NULL)) {
        return 0;
    }
    if (aleph_store_get(slot, NULL, &meta) && meta.serial == serial) {
        uint32_t s = write_begin(slot);

        slot->expires_at = 0;
        slot->refresh_at = 0;
        write_end(slot, s);
        done = 1;
    }
    atomic_store_explicit(&slot->claim_until, 0, memory_order_release);
    return done;
}

void aleph_store_fail(aleph_slot_t *slot, const char *error,
                      apr_int64_t retry_at, apr_time_t when)
{
    uint32_t s = write_begin(slot);

    apr_cpystrn(slot->last_error, error ? error : "", sizeof(slot->last_error));
    slot->last_error_time = when;
    write_end(slot, s);
    atomic_fetch_add_explicit(&slot->fetches, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&slot->failures, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&slot->consecutive_failures, 1, memory_order_relaxed);
    atomic_store_explicit(&slot->retry_at, retry_at, memory_order_relaxed);
    atomic_store_explicit(&slot->claim_until, 0, memory_order_release);
}

/* Set while one writer copies the id in; readers see no contract. */
#define ALEPH_CONTRACT_STATE_WRITING 0xffu

aleph_contract_state_e aleph_store_contract(aleph_slot_t *slot,
                                            char buf[ALEPH_CONTRACT_ID_MAX + 1])
{
    uint32_t state = atomic_load_explicit(&slot->contract_state, memory_order_acquire);

    if (state == ALEPH_CONTRACT_STATE_WRITING) {
        return ALEPH_CONTRACT_STATE_UNKNOWN;
    }
    if (state == ALEPH_CONTRACT_STATE_KNOWN && buf) {
        memcpy(buf, slot->contract, sizeof(slot->contract));
    }
    return (aleph_contract_state_e)state;
}

int aleph_store_contract_claim(aleph_slot_t *slot, apr_int64_t now, apr_int64_t hold,
                               apr_int64_t *retry_at)
{
    int64_t until = atomic_load_explicit(&slot->contract_claim_until, memory_order_acquire);
    int64_t backoff = atomic_load_explicit(&slot->contract_retry_at, memory_order_relaxed);

    *retry_at = 0;
    if (aleph_store_contract(slot, NULL) == ALEPH_CONTRACT_STATE_KNOWN) {
        return 0;
    }
    if (backoff > now) {
        *retry_at = backoff;
        return 0;
    }
    /* An expired claim belongs to a lookup that died or hung: take it over. */
    if (until > now
        || !atomic_compare_exchange_strong(&slot->contract_claim_until, &until, now + hold)) {
        return 0;
    }
    /* Someone published the id between the first look and the claim. */
    if (aleph_store_contract(slot, NULL) == ALEPH_CONTRACT_STATE_KNOWN) {
        atomic_store_explicit(&slot->contract_claim_until, 0, memory_order_release);
        return 0;
    }
    return 1;
}

void aleph_store_contract_put(aleph_slot_t *slot, const char *id)
{
    uint32_t state = atomic_load_explicit(&slot->contract_state, memory_order_acquire);

    /*
     * Readers copy the id without a lock, so it is written once: the CAS
     * keeps out a second writer (a lookup whose claim had lapsed).
     */
    while (state != ALEPH_CONTRACT_STATE_KNOWN && state != ALEPH_CONTRACT_STATE_WRITING
           && strlen(id) <= ALEPH_CONTRACT_ID_MAX) {
        if (atomic_compare_exchange_weak(&slot->contract_state, &state,
                                         ALEPH_CONTRACT_STATE_WRITING)) {
            apr_cpystrn(slot->contract, id, sizeof(slot->contract));
            atomic_store_explicit(&slot->contract_state, ALEPH_CONTRACT_STATE_KNOWN,
                                  memory_order_release);
            break;
        }
    }
    atomic_store_explicit(&slot->contract_failures, 0, memory_order_relaxed);
    atomic_store_explicit(&slot->contract_retry_at, 0, memory_order_relaxed);
    atomic_store_explicit(&slot->contract_claim_until, 0, memory_order_release);
}

void aleph_store_contract_fail(aleph_slot_t *slot, aleph_contract_state_e failed,
                               apr_int64_t retry_at)
{
    uint32_t state = atomic_load_explicit(&slot->contract_state, memory_order_acquire);

    while (state != ALEPH_CONTRACT_STATE_KNOWN && state != ALEPH_CONTRACT_STATE_WRITING
           && !atomic_compare_exchange_weak(&slot->contract_state, &state, failed)) {
    }
    atomic_fetch_add_explicit(&slot->contract_failures, 1, memory_order_relaxed);
    atomic_store_explicit(&slot->contract_retry_at, retry_at, memory_order_relaxed);
    atomic_store_explicit(&slot->contract_claim_until, 0, memory_order_release);
}

unsigned aleph_store_contract_failures(aleph_slot_t *slot)
{
    return atomic_load_explicit(&slot->contract_failures, memory_order_relaxed);
}

void aleph_store_count_injection(aleph_slot_t *slot)
{
    atomic_fetch_add_explicit(&slot->injections, 1, memory_order_relaxed);
}

void aleph_store_stats(aleph_slot_t *slot, apr_int64_t now,
                       aleph_slot_stats_t *stats)
{
    int spins;
    int64_t retry_at = atomic_load_explicit(&slot->retry_at, memory_order_relaxed);

    memset(stats, 0, sizeof(*stats));
    stats->fetches = atomic_load_explicit(&slot->fetches, memory_order_relaxed);
    stats->failures = atomic_load_explicit(&slot->failures, memory_order_relaxed);
    stats->injections = atomic_load_explicit(&slot->injections, memory_order_relaxed);
    stats->consecutive_failures =
        atomic_load_explicit(&slot->consecutive_failures, memory_order_relaxed);
    stats->retry_at = retry_at > now ? retry_at : 0;
    stats->in_flight =
        atomic_load_explicit(&slot->claim_until, memory_order_relaxed) > now;
    for (spins = 0; spins < ALEPH_READ_SPINS; spins++) {
        uint32_t s1 = atomic_load_explicit(&slot->seq, memory_order_acquire);

        if (s1 & 1u) {
            continue;
        }
        memcpy(stats->last_error, slot->last_error, sizeof(stats->last_error));
        stats->last_error[sizeof(stats->last_error) - 1] = '\0';
        stats->last_error_time = slot->last_error_time;
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&slot->seq, memory_order_relaxed) == s1) {
            return;
        }
    }
    stats->last_error[0] = '\0';
}
