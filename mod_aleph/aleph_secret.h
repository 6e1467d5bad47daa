/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * Client secrets come only from a file or the environment, never from the
 * configuration text itself. Portable core: APR only.
 */
#ifndef ALEPH_SECRET_H
#define ALEPH_SECRET_H

#include <apr_pools.h>

/* Largest secret file read. */
#define ALEPH_SECRET_MAX_LEN 4096

/* 1 when spec has the file:PATH or env:NAME form. */
int aleph_secret_spec_valid(const char *spec);

/*
 * Reads the secret spec names. On failure returns non-success and sets
 * *error to a sentence naming the file or variable (never the secret).
 * Trailing CR/LF/space are stripped; an empty secret is an error.
 * *others_can_read is set for a file readable by group or others.
 */
apr_status_t aleph_secret_load(apr_pool_t *p, const char *spec,
                               const char **secret, const char **error,
                               int *others_can_read);

/* Pool cleanup that overwrites a loaded secret before its memory is reused. */
apr_status_t aleph_secret_wipe(void *secret);

#endif
