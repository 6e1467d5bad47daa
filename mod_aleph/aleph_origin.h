/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * Origins (scheme://host:port) of upstream URLs, to decide where a token
 * may be sent. Portable core: APR only.
 */
#ifndef ALEPH_ORIGIN_H
#define ALEPH_ORIGIN_H

#include <apr_pools.h>
#include <apr_tables.h>

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

/*
 * Adds a normalised origin to list (of const char *), and also its form
 * without the port when that is the scheme's default, so that the usual
 * URL ("https://api.satellogic.com/...") matches without normalising it.
 */
void aleph_origin_add(apr_array_header_t *list, const char *origin);

/*
 * Whether url's origin is in list (as built by aleph_origin_add). A URL
 * that starts with a listed form, followed by '/', '?', '#' or its end,
 * matches at once; any other is normalised first.
 */
int aleph_origin_allowed(const apr_array_header_t *list, const char *url);

#endif
