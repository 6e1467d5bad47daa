/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * libFuzzer harness for aleph_token_parse: the first byte picks the HTTP
 * status, the rest is the token endpoint's response body. Besides memory
 * errors and undefined behaviour (the sanitizers), it aborts when a
 * verdict breaks the parser's promises: a success carries a header-safe
 * token and a bounded lifetime, a failure a reason and a printable detail.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "aleph_token.h"

static apr_pool_t *root;

/* Statuses worth telling apart; bytes below 0x80 mean 200. */
static const int statuses[16] = {
    0, 100, 201, 204, 299, 302, 400, 401, 403, 404, 429, 500, 502, 503, 599, 1000
};

static void check(int cond)
{
    if (!cond) {
        abort();
    }
}

/* Details and OAuth texts reach logs: printable ASCII only. */
static int printable(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) {
            return 0;
        }
    }
    return 1;
}

/* Independent of aleph_token_is_valid: nothing a header could break on. */
static int header_safe(const char *s, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || strchr("-._~+/=", c)) || c == '\0') {
            return 0;
        }
    }
    return len > 0 && len <= ALEPH_TOKEN_MAX_LEN;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aleph_token_result_t res;
    apr_pool_t *p;
    apr_status_t rv;
    int status;

    if (!root) {
        apr_initialize();
        apr_pool_create(&root, NULL);
    }
    if (size < 1) {
        return 0;
    }
    status = data[0] < 0x80 ? 200 : statuses[data[0] & 15];
    apr_pool_create(&p, root);

    rv = aleph_token_parse(p, status, (const char *)data + 1, size - 1, &res);

    check(res.http_status == status);
    check(res.reason != NULL && res.detail != NULL && printable(res.detail));
    if (rv == APR_SUCCESS) {
        check(status >= 200 && status <= 299);
        check(strcmp(res.reason, ALEPH_R_OK) == 0);
        check(res.access_token != NULL && strlen(res.access_token) == res.token_len);
        check(header_safe(res.access_token, res.token_len));
        check(res.expires_in >= 1 && res.expires_in <= ALEPH_MAX_LIFETIME_SEC);
        check(res.oauth_error == NULL);
    }
    else {
        check(strcmp(res.reason, ALEPH_R_OK) != 0);
        check(res.access_token == NULL);
    }
    if (res.oauth_error) {
        check(printable(res.oauth_error)
              && strlen(res.oauth_error) <= ALEPH_OAUTH_TEXT_MAX);
        check(strcmp(res.reason, ALEPH_R_OAUTH_ERROR) == 0);
    }
    if (res.oauth_error_description) {
        check(res.oauth_error != NULL && printable(res.oauth_error_description)
              && strlen(res.oauth_error_description) <= ALEPH_OAUTH_TEXT_MAX);
    }
    apr_pool_destroy(p);
    return 0;
}
