/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * The shared-memory token store: one slot per credential, shared by every
 * process and thread of the server. Readers never lock: each slot's token
 * is published under a sequence counter, and the right to fetch a token
 * is a claim with a deadline, so that a process that dies while fetching
 * cannot leave the credential stuck. The interface is deliberately narrow
 * (get / put / claim / fail) so that a second level (socache) can follow.
 * Portable core: APR only.
 */
#ifndef ALEPH_STORE_H
#define ALEPH_STORE_H

#include <apr_pools.h>
#include <apr_shm.h>
#include "aleph_contracts.h"
#include "aleph_token.h"

#define ALEPH_KEY_LEN        20   /* SHA-1 digest of the credential */
#define ALEPH_ERROR_TEXT_MAX 256

typedef struct aleph_store_t aleph_store_t;
typedef struct aleph_slot_t aleph_slot_t;

/* A consistent copy of a slot's token state; times are aleph_clock_now(). */
typedef struct {
    apr_size_t token_len;         /* 0: no token */
    apr_int64_t expires_at;
    apr_int64_t refresh_at;
    apr_time_t obtained;          /* wall clock, for status output */
    apr_uint32_t serial;          /* counts tokens put into the slot */
} aleph_token_meta_t;

/* Bytes of shared memory a store of nslots needs. */
apr_size_t aleph_store_size(unsigned nslots);

/* Creates an anonymous segment in pool p (inherited by forked children). */
apr_status_t aleph_store_create(aleph_store_t **store, unsigned nslots,
                                apr_pool_t *p);

/*
 * Wraps an existing segment (one that outlived a restart). Fails with
 * APR_EINVAL when it was laid out by another version of this code.
 */
apr_status_t aleph_store_attach(aleph_store_t **store, apr_shm_t *shm,
                                apr_pool_t *p);
apr_shm_t *aleph_store_shm(const aleph_store_t *store);

/* Number of slots, used and total. */
unsigned aleph_store_used(const aleph_store_t *store);
unsigned aleph_store_capacity(const aleph_store_t *store);

/*
 * The slot for key, allocating a free one if needed; NULL when full.
 * Only the parent calls this (at configuration time), so it needs no lock.
 */
aleph_slot_t *aleph_store_slot(aleph_store_t *store,
                               const unsigned char key[ALEPH_KEY_LEN]);

/* The slot for key if there is one. */
aleph_slot_t *aleph_store_find(aleph_store_t *store,
                               const unsigned char key[ALEPH_KEY_LEN]);

/*
 * Gives from's key a slot in store and copies its token, its counters and
 * a found contract there: how a rebuilt store keeps what the old one knew.
 * NULL when store is full. Parent only.
 */
aleph_slot_t *aleph_store_adopt(aleph_store_t *store, aleph_slot_t *from);

/*
 * Copies the token (NUL-terminated) into buf, which has room for
 * ALEPH_TOKEN_MAX_LEN + 1 bytes (buf may be NULL to read meta only).
 * Returns 1 with meta filled when the slot holds a token, else 0.
 */
int aleph_store_get(aleph_slot_t *slot, char *buf, aleph_token_meta_t *meta);

/*
 * Takes the right to fetch a token for this slot until now + hold.
 * Returns 1 when taken; 0 when another fetch is in flight or the slot is
 * backing off (until *retry_at, when that is set).
 */
int aleph_store_claim(aleph_slot_t *slot, apr_int64_t now, apr_int64_t hold,
                      apr_int64_t *retry_at);

/* Publishes a token and gives the claim up. */
void aleph_store_put(aleph_slot_t *slot, const char *token, apr_size_t len,
                     apr_int64_t expires_at, apr_int64_t refresh_at,
                     apr_time_t obtained);

/*
 * Marks the token with this serial as expired, when it is still the one in
 * the slot (an upstream rejected it); a later token is left alone, so a
 * burst of rejections of one token causes one refresh. Returns 1 if it did.
 */
int aleph_store_expire(aleph_slot_t *slot, apr_uint32_t serial, apr_int64_t now);

/* Records a failed fetch, backs off until retry_at, gives the claim up. */
void aleph_store_fail(aleph_slot_t *slot, const char *error,
                      apr_int64_t retry_at, apr_time_t when);

/* What a slot knows about its credential's contract (AlephContract auto). */
typedef enum {
    ALEPH_CONTRACT_STATE_UNKNOWN = 0, /* not looked up yet, or the lookup failed */
    ALEPH_CONTRACT_STATE_KNOWN,       /* exactly one contract: its id is kept */
    ALEPH_CONTRACT_STATE_AMBIGUOUS,   /* several: an administrator must pick one */
    ALEPH_CONTRACT_STATE_NONE         /* the credential has none */
} aleph_contract_state_e;

/* The state; when KNOWN, the id is copied into buf (if not NULL). */
aleph_contract_state_e aleph_store_contract(aleph_slot_t *slot,
                                            char buf[ALEPH_CONTRACT_ID_MAX + 1]);

/*
 * Takes the right to look the contract up until now + hold, like
 * aleph_store_claim for the token (but independent of it). 0 when the
 * contract is known, a lookup is in flight, or lookups back off (until
 * *retry_at, then set).
 */
int aleph_store_contract_claim(aleph_slot_t *slot, apr_int64_t now, apr_int64_t hold,
                               apr_int64_t *retry_at);

/* Keeps the one contract id (for good) and gives the claim up. */
void aleph_store_contract_put(aleph_slot_t *slot, const char *id);

/*
 * Records a lookup that found no single contract (state AMBIGUOUS or
 * NONE) or failed (UNKNOWN); backs off until retry_at and gives the claim
 * up. A known contract stays known.
 */
void aleph_store_contract_fail(aleph_slot_t *slot, aleph_contract_state_e state,
                               apr_int64_t retry_at);
/* Lookups that failed in a row, for the backoff. */
unsigned aleph_store_contract_failures(aleph_slot_t *slot);

/* Counts a request forwarded with this slot's token (relaxed: a statistic). */
void aleph_store_count_injection(aleph_slot_t *slot);

/* Statistics and the last error, for status output. */
typedef struct {
    apr_uint64_t fetches;
    apr_uint64_t failures;
    apr_uint64_t injections;
    apr_uint32_t consecutive_failures;
    apr_int64_t retry_at;         /* 0: not backing off */
    int in_flight;
    apr_time_t last_error_time;
    char last_error[ALEPH_ERROR_TEXT_MAX];
} aleph_slot_stats_t;

void aleph_store_stats(aleph_slot_t *slot, apr_int64_t now,
                       aleph_slot_stats_t *stats);

#endif
