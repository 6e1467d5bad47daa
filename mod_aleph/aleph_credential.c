/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
#include <string.h>

#include <apr_sha1.h>
#include <apr_strings.h>
#include "aleph_credential.h"

/* Length-prefixed so that ("ab","c") and ("a","bc") differ; NULL != "". */
static void add_field(apr_sha1_ctx_t *ctx, const char *s)
{
    unsigned char len[5] = {0};
    apr_size_t n = s ? strlen(s) : 0;

    len[0] = s ? 1 : 0;
    len[1] = (unsigned char)(n >> 24);
    len[2] = (unsigned char)(n >> 16);
    len[3] = (unsigned char)(n >> 8);
    len[4] = (unsigned char)n;
    apr_sha1_update_binary(ctx, len, sizeof(len));
    if (n) {
        apr_sha1_update_binary(ctx, (const unsigned char *)s, (unsigned)n);
    }
}

void aleph_credential_key(const aleph_token_request_t *req,
                          unsigned char key[ALEPH_KEY_LEN])
{
    apr_sha1_ctx_t ctx;
    unsigned char secret_digest[APR_SHA1_DIGESTSIZE];
    unsigned char style[2];

    apr_sha1_init(&ctx);
    add_field(&ctx, req->client_secret);
    apr_sha1_final(secret_digest, &ctx);

    apr_sha1_init(&ctx);
    add_field(&ctx, req->token_url);
    add_field(&ctx, req->client_id);
    apr_sha1_update_binary(&ctx, secret_digest, sizeof(secret_digest));
    add_field(&ctx, req->audience);
    add_field(&ctx, req->scope);
    /* Another trust store or client certificate may mean another identity. */
    add_field(&ctx, req->transport.ca_file);
    add_field(&ctx, req->transport.ca_path);
    add_field(&ctx, req->transport.client_cert);
    add_field(&ctx, req->transport.client_key);
    add_field(&ctx, req->transport.proxy);
    style[0] = (unsigned char)req->body;
    style[1] = (unsigned char)req->client_auth;
    apr_sha1_update_binary(&ctx, style, sizeof(style));
    apr_sha1_final(key, &ctx);
    memset(secret_digest, 0, sizeof(secret_digest));
}

const char *aleph_fingerprint(apr_pool_t *p, const void *data, apr_size_t len)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    apr_sha1_ctx_t ctx;
    char *out = apr_palloc(p, 13);
    int i;

    apr_sha1_init(&ctx);
    apr_sha1_update_binary(&ctx, data, (unsigned)len);
    apr_sha1_final(digest, &ctx);
    for (i = 0; i < 6; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 0xf];
    }
    out[12] = '\0';
    return out;
}
