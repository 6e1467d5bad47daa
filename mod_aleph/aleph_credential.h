/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * The identity of a credential: a digest over everything that makes two
 * token requests yield interchangeable tokens. The secret enters only as
 * its own digest, so the key can be shown (as a fingerprint) safely.
 * Portable core: APR only.
 */
#ifndef ALEPH_CREDENTIAL_H
#define ALEPH_CREDENTIAL_H

#include "aleph_store.h"
#include "aleph_token.h"

void aleph_credential_key(const aleph_token_request_t *req,
                          unsigned char key[ALEPH_KEY_LEN]);

/* Short hex fingerprint (12 chars) of a key or of any bytes, for logs. */
const char *aleph_fingerprint(apr_pool_t *p, const void *data, apr_size_t len);

#endif
