/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * Origins (scheme://host:port) of upstream URLs, to decide where a token
 * may be sent. Portable core: APR only.
 */
#ifndef ALEPH_ORIGIN_H
#define ALEPH_ORIGIN_H

#include <apr_pools.h>

/* Longest origin considered; longer ones never match. */
#define ALEPH_ORIGIN_MAX 300

/*
 * Writes the normalised origin of url into buf (ALEPH_ORIGIN_MAX bytes):
 * lower-case scheme and host, explicit port. Returns 0 for URLs without a
 * host, with user information (user@host hides the real host) or too long.
 * With bare set, anything after the authority but a lone "/" is refused.
 */
int aleph_origin_of(const char *url, int bare, char *buf);

/* The origin of an https URL (as the default upstream of an audience), or NULL. */
const char *aleph_origin_https(apr_pool_t *p, const char *url);

#endif
