/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * libFuzzer harness for what the portable core does with directive
 * values: the AlephClientSecret spec check, the token syntax check (which
 * guards the injected header) against a reference implementation, and
 * the token request encoding of AlephClientID / secret / AlephAudience /
 * AlephScope values in every AlephTokenRequest x AlephClientAuth style,
 * checking that each value survives the encoding unchanged. The other
 * directive checks (URL, keywords, times, header names) are httpd glue in
 * mod_aleph_config.c (apr_uri_parse, ap_timeout_parameter_parse) and are
 * not reachable without httpd.
 *
 * Input: the values separated by '\n' (client id, secret, audience,
 * scope); the whole input is also the spec and the token candidate.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_base64.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include <jansson.h>

#include "aleph_credential.h"
#include "aleph_secret.h"
#include "aleph_token.h"

static apr_pool_t *root;

static void check(int cond)
{
    if (!cond) {
        abort();
    }
}

/* RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static int reference_token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

static int reference_token_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;

    if (len == 0 || len > ALEPH_TOKEN_MAX_LEN) {
        return 0;
    }
    while (i < len && reference_token_char(s[i])) {
        i++;
    }
    if (i == 0) {
        return 0;
    }
    while (i < len && s[i] == '=') {
        i++;
    }
    return i == len;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Strict form-urlencoding decoder: only unreserved characters and %XX. */
static char *form_decode(apr_pool_t *p, const char *s, size_t len)
{
    char *out = apr_palloc(p, len + 1), *d = out;
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '%') {
            check(i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0);
            *d++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        }
        else {
            check((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                  || (c >= '0' && c <= '9') || strchr("-._~", c));
            *d++ = (char)c;
        }
    }
    *d = '\0';
    return out;
}

/* The value of name in a form body, decoded; NULL when absent. */
static const char *form_get(apr_pool_t *p, const char *body, const char *name)
{
    size_t nlen = strlen(name);
    const char *s = body;

    while (*s) {
        const char *end = strchr(s, '&');
        size_t len = end ? (size_t)(end - s) : strlen(s);

        if (len > nlen && !strncmp(s, name, nlen) && s[nlen] == '=') {
            return form_decode(p, s + nlen + 1, len - nlen - 1);
        }
        s += len + (end ? 1 : 0);
    }
    return NULL;
}

static int same(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

static void check_form(apr_pool_t *p, const aleph_token_request_t *req, const char *body)
{
    check(same(form_get(p, body, "grant_type"), "client_credentials"));
    if (req->client_auth == ALEPH_CLIENT_AUTH_BODY) {
        check(same(form_get(p, body, "client_id"), req->client_id));
        check(same(form_get(p, body, "client_secret"), req->client_secret));
    }
    else {
        check(form_get(p, body, "client_id") == NULL);
        check(form_get(p, body, "client_secret") == NULL);
    }
    check(req->audience ? same(form_get(p, body, "audience"), req->audience)
                        : form_get(p, body, "audience") == NULL);
    check(req->scope ? same(form_get(p, body, "scope"), req->scope)
                     : form_get(p, body, "scope") == NULL);
}

static int json_has(json_t *obj, const char *key, const char *value)
{
    json_t *v = json_object_get(obj, key);

    return json_is_string(v) && json_string_length(v) == strlen(value)
        && !strcmp(json_string_value(v), value);
}

static void check_json(const aleph_token_request_t *req, const char *body)
{
    json_error_t err;
    json_t *obj;

    if (!body) {
        /* Refused only when a value is not UTF-8, which JSON cannot carry. */
        int in_body = req->client_auth == ALEPH_CLIENT_AUTH_BODY;
        const char *vals[] = { in_body ? req->client_id : "",
                               in_body ? req->client_secret : "",
                               req->audience ? req->audience : "",
                               req->scope ? req->scope : "" };
        int i, bad = 0;

        for (i = 0; i < 4; i++) {
            json_t *s = json_string(vals[i]);

            bad |= s == NULL;
            json_decref(s);
        }
        check(bad);
        return;
    }
    obj = json_loads(body, JSON_REJECT_DUPLICATES, &err);
    check(json_is_object(obj));
    check(json_has(obj, "grant_type", "client_credentials"));
    if (req->client_auth == ALEPH_CLIENT_AUTH_BODY) {
        check(json_has(obj, "client_id", req->client_id));
        check(json_has(obj, "client_secret", req->client_secret));
    }
    check(req->audience ? json_has(obj, "audience", req->audience)
                        : !json_object_get(obj, "audience"));
    check(req->scope ? json_has(obj, "scope", req->scope)
                     : !json_object_get(obj, "scope"));
    json_decref(obj);
}

/* "Basic " base64(form(id) ":" form(secret)), RFC 6749 §2.3.1. */
static void check_basic(apr_pool_t *p, const aleph_token_request_t *req,
                        const char *authorization)
{
    char *plain, *colon;
    int len;

    check(authorization && !strncmp(authorization, "Basic ", 6));
    plain = apr_palloc(p, apr_base64_decode_len(authorization + 6) + 1);
    len = apr_base64_decode(plain, authorization + 6);
    plain[len] = '\0';
    colon = strchr(plain, ':');
    check(colon != NULL);
    check(same(form_decode(p, plain, (size_t)(colon - plain)), req->client_id));
    check(same(form_decode(p, colon + 1, strlen(colon + 1)), req->client_secret));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *field[4] = { "", "", NULL, NULL };
    aleph_token_request_t req;
    unsigned char key1[ALEPH_KEY_LEN], key2[ALEPH_KEY_LEN];
    apr_pool_t *p;
    char *text, *s;
    int n = 0, body, auth;

    if (!root) {
        apr_initialize();
        apr_pool_create(&root, NULL);
    }
    apr_pool_create(&p, root);

    check(aleph_token_is_valid((const char *)data, size)
          == reference_token_valid(data, size));

    text = apr_pstrmemdup(p, (const char *)data, size);
    check(aleph_secret_spec_valid(text)
          == ((!strncmp(text, "file:", 5) && text[5]) || (!strncmp(text, "env:", 4) && text[4])));

    /* Up to four '\n'-separated values; embedded NULs end a value early. */
    for (s = text; n < 4; n++) {
        char *nl = strchr(s, '\n');

        field[n] = s;
        if (!nl) {
            n++;
            break;
        }
        *nl = '\0';
        s = nl + 1;
    }

    memset(&req, 0, sizeof(req));
    req.token_url = "https://auth.example/oauth/token";
    req.client_id = field[0];
    req.client_secret = field[1];
    req.audience = field[2];
    req.scope = field[3];
    for (body = 0; body < 2; body++) {
        for (auth = 0; auth < 2; auth++) {
            const char *enc, *ctype, *authorization;

            req.body = body ? ALEPH_BODY_FORM : ALEPH_BODY_JSON;
            req.client_auth = auth ? ALEPH_CLIENT_AUTH_BASIC : ALEPH_CLIENT_AUTH_BODY;
            aleph_token_request_encode(p, &req, &enc, &ctype, &authorization);
            if (req.body == ALEPH_BODY_FORM) {
                check(enc != NULL && !strcmp(ctype, "application/x-www-form-urlencoded"));
                check_form(p, &req, enc);
            }
            else {
                check(!strcmp(ctype, "application/json"));
                check_json(&req, enc);
            }
            if (auth) {
                check_basic(p, &req, authorization);
            }
            else {
                check(authorization == NULL);
            }
            aleph_credential_key(&req, key1);
            aleph_credential_key(&req, key2);
            check(!memcmp(key1, key2, sizeof(key1)));
        }
    }
    apr_pool_destroy(p);
    return 0;
}
