/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
#include <time.h>

#include "aleph_policy.h"

apr_int64_t aleph_clock_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (apr_int64_t)ts.tv_sec * ALEPH_SEC + ts.tv_nsec / 1000;
}

static apr_interval_time_t skew(apr_interval_time_t lifetime)
{
    apr_interval_time_t s = lifetime / 10;

    return s < ALEPH_SKEW_MAX ? s : ALEPH_SKEW_MAX;
}

apr_int64_t aleph_policy_expires_at(apr_int64_t t0, apr_interval_time_t lifetime)
{
    return t0 + lifetime - skew(lifetime);
}

apr_int64_t aleph_policy_refresh_at(apr_int64_t t0, apr_interval_time_t lifetime,
                                    apr_interval_time_t margin)
{
    if (margin < 0) {
        margin = lifetime / 10;
        if (margin < 60 * ALEPH_SEC) {
            margin = 60 * ALEPH_SEC;
        }
    }
    /* Very short tokens still get half their life before a refresh. */
    if (margin > lifetime / 2) {
        margin = lifetime / 2;
    }
    return t0 + lifetime - margin;
}

apr_interval_time_t aleph_policy_backoff(unsigned failures, apr_interval_time_t max,
                                         apr_interval_time_t retry_after,
                                         apr_uint32_t random)
{
    apr_interval_time_t d = ALEPH_BACKOFF_BASE;
    unsigned i;

    for (i = 1; i < failures && d < max; i++) {
        d *= 2;
    }
    if (d > max) {
        d = max;
    }
    d = d / 2 + (apr_interval_time_t)((double)(d / 2) * (random / 4294967295.0));
    if (retry_after > ALEPH_RETRY_AFTER_MAX) {
        retry_after = ALEPH_RETRY_AFTER_MAX;
    }
    return retry_after > d ? retry_after : d;
}
