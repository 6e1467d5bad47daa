/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * Time policy: the clock expiry decisions use, when to refresh a token,
 * and how long to back off after a failure. Pure functions, so that they
 * are unit-tested without a server. Portable core: APR only.
 */
#ifndef ALEPH_POLICY_H
#define ALEPH_POLICY_H

#include <apr_time.h>

#define ALEPH_SEC                   APR_INT64_C(1000000)
/* Defaults of the tunable directives. */
#define ALEPH_DEFAULT_TIMEOUT       (10 * ALEPH_SEC)
#define ALEPH_MIN_TIMEOUT           (ALEPH_SEC / 10)
#define ALEPH_MAX_TIMEOUT           (300 * ALEPH_SEC)
#define ALEPH_DEFAULT_BACKOFF_MAX   (60 * ALEPH_SEC)
/* First backoff step; doubles per consecutive failure up to the cap. */
#define ALEPH_BACKOFF_BASE          ALEPH_SEC
/* Longest Retry-After from the token endpoint honoured. */
#define ALEPH_RETRY_AFTER_MAX       (3600 * ALEPH_SEC)
/* Tokens are treated as expired this much early (clock skew, transit). */
#define ALEPH_SKEW_MAX              (5 * ALEPH_SEC)

/* Monotonic microseconds: immune to wall-clock steps, same in every process. */
apr_int64_t aleph_clock_now(void);

/*
 * When a token obtained at t0 with the given lifetime must be considered
 * expired, and when it is due for refresh. margin < 0 selects the
 * automatic margin: max(10 % of the lifetime, 60 s), at most half of it.
 */
apr_int64_t aleph_policy_expires_at(apr_int64_t t0, apr_interval_time_t lifetime);
apr_int64_t aleph_policy_refresh_at(apr_int64_t t0, apr_interval_time_t lifetime,
                                    apr_interval_time_t margin);

/*
 * The delay before the next attempt after `failures` consecutive failures
 * (>= 1): exponential from ALEPH_BACKOFF_BASE, capped at max, with jitter
 * drawn from `random` (delay is in [d/2, d]); a Retry-After hint from the
 * endpoint lengthens it (up to ALEPH_RETRY_AFTER_MAX).
 */
apr_interval_time_t aleph_policy_backoff(unsigned failures, apr_interval_time_t max,
                                         apr_interval_time_t retry_after,
                                         apr_uint32_t random);

#endif
