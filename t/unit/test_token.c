/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * Unit tests of aleph_token.c without a server: hostile token responses,
 * request encoding, token syntax, and the HTTP exchange against a
 * one-shot loopback stub forked by the test itself.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "aleph_token.h"
#include "stub.h"
#include "tap.h"

#define FIXTURE_TOKEN \
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.ZmFrZS1wYXlsb2Fk.ZmFrZS1zaWduYXR1cmU"
#define FIXTURE_BODY \
    "{\"access_token\": \"" FIXTURE_TOKEN "\", \"scope\": \"api:tasking " \
    "api:delivery\", \"expires_in\": 86400, \"token_type\": \"Bearer\"}"

/* A valid token response with the given expires_in member (or none). */
#define WITH_EXPIRY(e) \
    "{\"access_token\":\"tok.en\",\"token_type\":\"Bearer\"" e "}"
/* A token response with the given access_token member (or none). */
#define WITH_TOKEN(t) \
    "{" t "\"token_type\":\"Bearer\",\"expires_in\":60}"
#define WITH_TYPE(t) \
    "{\"access_token\":\"tok.en\",\"expires_in\":60" t "}"

typedef struct {
    const char *name;
    int status;
    const char *body;
    apr_size_t len;             /* 0: strlen(body) */
    const char *reason;
    const char *token;          /* expected on success */
    apr_int64_t expires_in;     /* expected on success */
    const char *detail_has;     /* the detail must contain this, if set */
    const char *detail_lacks;   /* the detail must not contain this, if set */
} parse_case_t;

#define MAXLIFE ((apr_int64_t)ALEPH_MAX_LIFETIME_SEC)

static const parse_case_t parse_cases[] = {
    { "Aleph response", 200, FIXTURE_BODY, 0, ALEPH_R_OK,
      FIXTURE_TOKEN, 86400, NULL, NULL },
    { "201 is a success too", 201, WITH_EXPIRY(",\"expires_in\":5"), 0,
      ALEPH_R_OK, "tok.en", 5, NULL, NULL },
    { "expires_in number", 200, WITH_EXPIRY(",\"expires_in\":300"), 0,
      ALEPH_R_OK, "tok.en", 300, NULL, NULL },
    { "expires_in numeric string", 200,
      WITH_EXPIRY(",\"expires_in\":\"86400\""), 0,
      ALEPH_R_OK, "tok.en", 86400, NULL, NULL },
    { "expires_in fractional is floored", 200,
      WITH_EXPIRY(",\"expires_in\":59.9"), 0,
      ALEPH_R_OK, "tok.en", 59, NULL, NULL },
    { "expires_in below one second becomes one", 200,
      WITH_EXPIRY(",\"expires_in\":0.25"), 0,
      ALEPH_R_OK, "tok.en", 1, NULL, NULL },
    { "expires_in absent means the default", 200, WITH_EXPIRY(""), 0,
      ALEPH_R_OK, "tok.en", ALEPH_DEFAULT_LIFETIME_SEC, NULL, NULL },
    { "expires_in zero", 200, WITH_EXPIRY(",\"expires_in\":0"), 0,
      ALEPH_R_BAD_EXPIRY, NULL, 0, NULL, NULL },
    { "expires_in zero real", 200, WITH_EXPIRY(",\"expires_in\":0.0"), 0,
      ALEPH_R_BAD_EXPIRY, NULL, 0, NULL, NULL },
    { "expires_in negative", 200, WITH_EXPIRY(",\"expires_in\":-60"), 0,
      ALEPH_R_BAD_EXPIRY, NULL, 0, NULL, NULL },
    { "expires_in negative real", 200,
      WITH_EXPIRY(",\"expires_in\":-0.5"), 0,
      ALEPH_R_BAD_EXPIRY, NULL, 0, NULL, NULL },
    { "expires_in string zero", 200, WITH_EXPIRY(",\"expires_in\":\"0\""), 0,
      ALEPH_R_BAD_EXPIRY, NULL, 0, NULL, NULL },
    { "expires_in huge is clamped", 200,
      WITH_EXPIRY(",\"expires_in\":999999999999"), 0,
      ALEPH_R_OK, "tok.en", MAXLIFE, NULL, NULL },
    { "expires_in huge real is clamped", 200,
      WITH_EXPIRY(",\"expires_in\":1e300"), 0,
      ALEPH_R_OK, "tok.en", MAXLIFE, NULL, NULL },
    { "expires_in huge string is clamped", 200,
      WITH_EXPIRY(",\"expires_in\":\"99999999999999999999999999\""), 0,
      ALEPH_R_OK, "tok.en", MAXLIFE, NULL, NULL },
    { "expires_in non-numeric string", 200,
      WITH_EXPIRY(",\"expires_in\":\"soon\""), 0,
      ALEPH_R_BAD_EXPIRY, NULL, 0, NULL, NULL },
    { "expires_in empty string", 200, WITH_EXPIRY(",\"expires_in\":\"\""), 0,
      ALEPH_R_BAD_EXPIRY, NULL, 0, NULL, NULL },
    { "expires_in string with space", 200,
      WITH_EXPIRY(",\"expires_in\":\" 60\""), 0,
      ALEPH_R_BAD_EXPIRY, NULL, 0, NULL, NULL },
    { "expires_in string with sign", 200,
      WITH_EXPIRY(",\"expires_in\":\"+60\""), 0,
      ALEPH_R_BAD_EXPIRY, NULL, 0, NULL, NULL },
    { "expires_in bool", 200, WITH_EXPIRY(",\"expires_in\":true"), 0,
      ALEPH_R_BAD_EXPIRY, NULL, 0, NULL, NULL },
    { "expires_in null", 200, WITH_EXPIRY(",\"expires_in\":null"), 0,
      ALEPH_R_BAD_EXPIRY, NULL, 0, NULL, NULL },
    { "expires_in object", 200, WITH_EXPIRY(",\"expires_in\":{}"), 0,
      ALEPH_R_BAD_EXPIRY, NULL, 0, NULL, NULL },
    { "non-JSON text", 200, "hello, token", 0,
      ALEPH_R_NOT_JSON, NULL, 0, "line", "hello" },
    { "HTML with 200", 200,
      "<html><body>Please log in</body></html>", 0,
      ALEPH_R_NOT_JSON, NULL, 0, NULL, "log in" },
    { "empty body", 200, "", 0, ALEPH_R_NOT_JSON, NULL, 0, NULL, NULL },
    { "JSON array", 200, "[{\"access_token\":\"tok.en\"}]", 0,
      ALEPH_R_NOT_JSON, NULL, 0, "not a JSON object", NULL },
    { "JSON string", 200, "\"tok.en\"", 0,
      ALEPH_R_NOT_JSON, NULL, 0, "not a JSON object", "tok.en" },
    { "JSON number", 200, "42", 0,
      ALEPH_R_NOT_JSON, NULL, 0, "not a JSON object", NULL },
    { "trailing garbage", 200, FIXTURE_BODY "x", 0,
      ALEPH_R_NOT_JSON, NULL, 0, NULL, FIXTURE_TOKEN },
    { "two objects", 200, FIXTURE_BODY FIXTURE_BODY, 0,
      ALEPH_R_NOT_JSON, NULL, 0, NULL, FIXTURE_TOKEN },
    { "duplicate access_token", 200,
      "{\"access_token\":\"good\",\"access_token\":\"evil\"}", 0,
      ALEPH_R_NOT_JSON, NULL, 0, NULL, "evil" },
    { "duplicate expires_in", 200,
      WITH_EXPIRY(",\"expires_in\":60,\"expires_in\":600"), 0,
      ALEPH_R_NOT_JSON, NULL, 0, NULL, NULL },
    { "missing access_token", 200, WITH_TOKEN(""), 0,
      ALEPH_R_NO_TOKEN, NULL, 0, NULL, NULL },
    { "empty access_token", 200, WITH_TOKEN("\"access_token\":\"\","), 0,
      ALEPH_R_NO_TOKEN, NULL, 0, NULL, NULL },
    { "null access_token", 200, WITH_TOKEN("\"access_token\":null,"), 0,
      ALEPH_R_NO_TOKEN, NULL, 0, NULL, NULL },
    { "numeric access_token", 200, WITH_TOKEN("\"access_token\":12345,"), 0,
      ALEPH_R_NO_TOKEN, NULL, 0, NULL, "12345" },
    { "object access_token", 200,
      WITH_TOKEN("\"access_token\":{\"v\":\"tok\"},"), 0,
      ALEPH_R_NO_TOKEN, NULL, 0, NULL, NULL },
    { "token with escaped CR LF", 200,
      WITH_TOKEN("\"access_token\":\"abc\\r\\nX-Evil: 1\","), 0,
      ALEPH_R_BAD_TOKEN, NULL, 0, NULL, "X-Evil" },
    { "token with raw CR LF", 200,
      WITH_TOKEN("\"access_token\":\"abc\r\nX-Evil: 1\","), 0,
      ALEPH_R_NOT_JSON, NULL, 0, NULL, "X-Evil" },
    { "token with space", 200,
      WITH_TOKEN("\"access_token\":\"abc def\","), 0,
      ALEPH_R_BAD_TOKEN, NULL, 0, NULL, "abc" },
    { "token with \\u0000", 200,
      WITH_TOKEN("\"access_token\":\"abc\\u0000def\","), 0,
      ALEPH_R_NOT_JSON, NULL, 0, NULL, "abc" },
    { "token with escaped non-ASCII", 200,
      WITH_TOKEN("\"access_token\":\"t\\u00f6ken\","), 0,
      ALEPH_R_BAD_TOKEN, NULL, 0, NULL, NULL },
    { "token with raw UTF-8", 200,
      WITH_TOKEN("\"access_token\":\"t\xc3\xb6ken\","), 0,
      ALEPH_R_BAD_TOKEN, NULL, 0, NULL, "\xc3\xb6" },
    { "token with invalid UTF-8", 200,
      WITH_TOKEN("\"access_token\":\"t\xff\xfeken\","), 0,
      ALEPH_R_NOT_JSON, NULL, 0, NULL, "\xff" },
    { "token with quote", 200,
      WITH_TOKEN("\"access_token\":\"ab\\\"cd\","), 0,
      ALEPH_R_BAD_TOKEN, NULL, 0, NULL, "ab\"cd" },
    { "token with comma", 200,
      WITH_TOKEN("\"access_token\":\"ab,cd\","), 0,
      ALEPH_R_BAD_TOKEN, NULL, 0, NULL, "ab,cd" },
    { "token with padding", 200,
      WITH_TOKEN("\"access_token\":\"a+b/c==\","), 0,
      ALEPH_R_OK, "a+b/c==", 60, NULL, NULL },
    { "token with inner =", 200,
      WITH_TOKEN("\"access_token\":\"ab=cd\","), 0,
      ALEPH_R_BAD_TOKEN, NULL, 0, NULL, "ab=cd" },
    { "token_type bearer lowercase", 200,
      WITH_TYPE(",\"token_type\":\"bearer\""), 0,
      ALEPH_R_OK, "tok.en", 60, NULL, NULL },
    { "token_type BEARER", 200, WITH_TYPE(",\"token_type\":\"BEARER\""), 0,
      ALEPH_R_OK, "tok.en", 60, NULL, NULL },
    { "token_type absent", 200, WITH_TYPE(""), 0,
      ALEPH_R_OK, "tok.en", 60, NULL, NULL },
    { "token_type mac", 200, WITH_TYPE(",\"token_type\":\"mac\""), 0,
      ALEPH_R_BAD_TYPE, NULL, 0, NULL, "tok.en" },
    { "token_type Bearer with trailing space", 200,
      WITH_TYPE(",\"token_type\":\"Bearer \""), 0,
      ALEPH_R_BAD_TYPE, NULL, 0, NULL, NULL },
    { "token_type null", 200, WITH_TYPE(",\"token_type\":null"), 0,
      ALEPH_R_BAD_TYPE, NULL, 0, NULL, NULL },
    { "400 invalid_client", 400,
      "{\"error\":\"invalid_client\","
      "\"error_description\":\"Unknown client.\"}", 0,
      ALEPH_R_OAUTH_ERROR, NULL, 0, "invalid_client", NULL },
    { "401 OAuth error without description", 401,
      "{\"error\":\"unauthorized_client\"}", 0,
      ALEPH_R_OAUTH_ERROR, NULL, 0, "401", NULL },
    { "400 error that is not a string", 400, "{\"error\":5}", 0,
      ALEPH_R_HTTP_STATUS, NULL, 0, "400", NULL },
    { "403 with duplicate keys", 403,
      "{\"error\":\"a\",\"error\":\"b\"}", 0,
      ALEPH_R_HTTP_STATUS, NULL, 0, "403", NULL },
    { "500 with HTML", 500, "<html><h1>Internal Server Error</h1></html>", 0,
      ALEPH_R_HTTP_STATUS, NULL, 0, "500", "Internal" },
    { "502 with empty body", 502, "", 0,
      ALEPH_R_HTTP_STATUS, NULL, 0, "502", NULL },
    { "429 with JSON array", 429, "[\"slow down\"]", 0,
      ALEPH_R_HTTP_STATUS, NULL, 0, "429", "slow" },
    { "302 is not followed", 302, "", 0,
      ALEPH_R_HTTP_STATUS, NULL, 0, "redirects are not followed", NULL },
    { "500 carrying a token is still an error", 500, FIXTURE_BODY, 0,
      ALEPH_R_HTTP_STATUS, NULL, 0, "500", FIXTURE_TOKEN },
    { "200 with error object", 200,
      "{\"error\":\"access_denied\"}", 0,
      ALEPH_R_OAUTH_ERROR, NULL, 0, "access_denied", NULL },
    { "200 with error and a token", 200,
      "{\"error\":\"server_error\",\"access_token\":\"tok.en\"}", 0,
      ALEPH_R_OAUTH_ERROR, NULL, 0, "server_error", "tok.en" },
};

static int has_crlf(const char *s)
{
    return s && strpbrk(s, "\r\n") != NULL;
}

static void run_parse_case(apr_pool_t *pool, const parse_case_t *c)
{
    aleph_token_result_t res;
    apr_size_t len = c->len ? c->len : strlen(c->body);
    int want_ok = strcmp(c->reason, ALEPH_R_OK) == 0;
    apr_status_t rv;

    rv = aleph_token_parse(pool, c->status, c->body, len, &res);
    is(res.reason, c->reason, "parse %s: reason", c->name);
    ok((rv == APR_SUCCESS) == want_ok, "parse %s: return value", c->name);
    is_int(res.http_status, c->status, "parse %s: http_status", c->name);
    ok(res.detail && *res.detail && !has_crlf(res.detail),
       "parse %s: detail is one line", c->name);
    if (c->detail_has) {
        ok(res.detail && strstr(res.detail, c->detail_has),
           "parse %s: detail mentions '%s'", c->name, c->detail_has);
    }
    if (c->detail_lacks) {
        ok(res.detail && !strstr(res.detail, c->detail_lacks),
           "parse %s: detail does not echo the response", c->name);
    }
    if (!ok(res.detail != NULL, "parse %s: detail set", c->name)) {
        return;
    }
    if (want_ok) {
        if (is(res.access_token, c->token, "parse %s: token", c->name)) {
            is_int((long long)res.token_len, (long long)strlen(c->token),
                   "parse %s: token_len", c->name);
            ok(res.access_token < c->body || res.access_token >= c->body + len,
               "parse %s: token is a copy", c->name);
        }
        is_int(res.expires_in, c->expires_in, "parse %s: expires_in",
               c->name);
    }
    else {
        ok(res.access_token == NULL, "parse %s: no token on failure",
           c->name);
    }
}

static char *repeat(apr_pool_t *p, char c, apr_size_t n)
{
    char *s = apr_palloc(p, n + 1);

    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static const char *token_body(apr_pool_t *p, const char *token)
{
    return apr_pstrcat(p, "{\"access_token\":\"", token,
                       "\",\"token_type\":\"Bearer\",\"expires_in\":60}",
                       NULL);
}

/* Cases whose bodies are too big or too binary for a literal. */
static void run_generated_parse_cases(apr_pool_t *p)
{
    char *max_token = repeat(p, 'A', ALEPH_TOKEN_MAX_LEN);
    char *long_token = repeat(p, 'B', ALEPH_TOKEN_MAX_LEN + 1);
    char *huge_token = repeat(p, 'C', 200 * 1024);
    static const char raw_nul[] =
        "{\"access_token\":\"abc\0def\",\"expires_in\":60}";
    static const char nul_after[] =
        "{\"access_token\":\"abc\",\"expires_in\":60}\0";
    const char *valid = token_body(p, "tok.en");
    apr_size_t vlen = strlen(valid);
    char *padded_max = repeat(p, ' ', ALEPH_RESPONSE_MAX_LEN);
    char *padded_over = repeat(p, ' ', ALEPH_RESPONSE_MAX_LEN + 1);
    char *nested = repeat(p, '[', ALEPH_RESPONSE_MAX_LEN - 1);
    parse_case_t cases[] = {
        { "token of ALEPH_TOKEN_MAX_LEN", 200, token_body(p, max_token), 0,
          ALEPH_R_OK, max_token, 60, NULL, NULL },
        { "token of ALEPH_TOKEN_MAX_LEN + 1", 200,
          token_body(p, long_token), 0,
          ALEPH_R_TOKEN_TOO_LONG, NULL, 0, NULL, "BBBB" },
        { "200 KB token", 200, token_body(p, huge_token), 0,
          ALEPH_R_TOO_LARGE, NULL, 0, NULL, "CCCC" },
        { "raw NUL inside the token", 200, raw_nul, sizeof(raw_nul) - 1,
          ALEPH_R_NOT_JSON, NULL, 0, NULL, "abc" },
        { "raw NUL after the object", 200, nul_after, sizeof(nul_after) - 1,
          ALEPH_R_NOT_JSON, NULL, 0, NULL, "abc" },
        { "body of exactly ALEPH_RESPONSE_MAX_LEN", 200, padded_max, 0,
          ALEPH_R_OK, "tok.en", 60, NULL, NULL },
        { "body over ALEPH_RESPONSE_MAX_LEN", 200, padded_over, 0,
          ALEPH_R_TOO_LARGE, NULL, 0, NULL, NULL },
        { "error body over ALEPH_RESPONSE_MAX_LEN", 400, padded_over, 0,
          ALEPH_R_TOO_LARGE, NULL, 0, NULL, NULL },
        { "deeply nested arrays", 200, nested, 0,
          ALEPH_R_NOT_JSON, NULL, 0, NULL, NULL },
    };
    apr_size_t i;

    /* A valid object padded with whitespace to an exact size. */
    memcpy(padded_max, valid, vlen);
    memcpy(padded_over, valid, vlen);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_parse_case(p, &cases[i]);
    }
}

static void test_fixture_file(apr_pool_t *p)
{
    /* The fixture lives beside this file: t/unit/../fixtures/aleph. */
    const char *dir = getenv("ALEPH_FIXTURES");
    char *path, *slash;
    char buf[4096];
    FILE *f;
    size_t n;
    aleph_token_result_t res;

    if (dir) {
        path = apr_pstrcat(p, dir, "/token-response.json", NULL);
    }
    else {
        path = apr_pstrdup(p, __FILE__);
        slash = strrchr(path, '/');
        if (slash) {
            *slash = '\0';
        }
        path = apr_pstrcat(p, slash ? path : ".",
                           "/../fixtures/aleph/token-response.json", NULL);
    }
    f = fopen(path, "rb");
    if (!ok(f != NULL, "fixture %s readable", path)) {
        return;
    }
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    aleph_token_parse(p, 200, buf, n, &res);
    is(res.reason, ALEPH_R_OK, "fixture: reason");
    is(res.access_token, FIXTURE_TOKEN, "fixture: token");
    is_int(res.expires_in, 86400, "fixture: expires_in");
}

static void test_oauth_error_fields(apr_pool_t *p)
{
    static const char invalid_client[] =
        "{\"error\":\"invalid_client\","
        "\"error_description\":\"Client authentication failed.\"}";
    static const char hostile[] =
        "{\"error\":\"bad\\u0007\\r\\nX-Evil: 1\","
        "\"error_description\":\"caf\xc3\xa9\\ttab\"}";
    static const char numeric_desc[] =
        "{\"error\":\"x\",\"error_description\":5}";
    aleph_token_result_t res;
    const char *long_text;
    const char *body;

    aleph_token_parse(p, 400, invalid_client, sizeof(invalid_client) - 1,
                      &res);
    is(res.reason, ALEPH_R_OAUTH_ERROR, "oauth 400: reason");
    is(res.oauth_error, "invalid_client", "oauth 400: error");
    is(res.oauth_error_description, "Client authentication failed.",
       "oauth 400: error_description");
    is_int(res.http_status, 400, "oauth 400: http_status");

    aleph_token_parse(p, 401, hostile, sizeof(hostile) - 1, &res);
    is(res.reason, ALEPH_R_OAUTH_ERROR, "oauth control chars: reason");
    is(res.oauth_error, "bad???X-Evil: 1",
       "oauth control chars: error sanitised");
    is(res.oauth_error_description, "caf???tab",
       "oauth control chars: non-ASCII and tab sanitised");
    ok(!has_crlf(res.detail), "oauth control chars: detail is one line");

    long_text = repeat(p, 'x', 1000);
    body = apr_pstrcat(p, "{\"error\":\"", long_text,
                       "\",\"error_description\":\"", long_text, "\"}", NULL);
    aleph_token_parse(p, 400, body, strlen(body), &res);
    is_int((long long)strlen(res.oauth_error), ALEPH_OAUTH_TEXT_MAX,
           "oauth long error truncated");
    is_int((long long)strlen(res.oauth_error_description),
           ALEPH_OAUTH_TEXT_MAX, "oauth long description truncated");

    aleph_token_parse(p, 400, numeric_desc, sizeof(numeric_desc) - 1, &res);
    is(res.oauth_error, "x", "oauth numeric description: error kept");
    ok(res.oauth_error_description == NULL,
       "oauth numeric description: ignored");
}

static void test_is_valid(void)
{
    static const struct {
        const char *s;
        apr_size_t len;
        int valid;
    } cases[] = {
        { "abc", 3, 1 },
        { "A-Z.a_z~0+9/", 12, 1 },
        { "a=", 2, 1 },
        { "a==", 3, 1 },
        { "=", 1, 0 },
        { "==", 2, 0 },
        { "a=b", 3, 0 },
        { "", 0, 0 },
        { "a b", 3, 0 },
        { "a\r", 2, 0 },
        { "a\n", 2, 0 },
        { "ab\0c", 4, 0 },
        { "a:b", 3, 0 },
        { "a,b", 3, 0 },
        { "a\"b", 3, 0 },
        { "t\xc3\xb6k", 4, 0 },
        { "a\x7f", 2, 0 },
    };
    char max[ALEPH_TOKEN_MAX_LEN + 1];
    apr_size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        is_int(aleph_token_is_valid(cases[i].s, cases[i].len), cases[i].valid,
               "is_valid case %d", (int)i);
    }
    ok(!aleph_token_is_valid(NULL, 0), "is_valid NULL");
    memset(max, 'a', sizeof(max));
    ok(aleph_token_is_valid(max, ALEPH_TOKEN_MAX_LEN), "is_valid max length");
    ok(!aleph_token_is_valid(max, ALEPH_TOKEN_MAX_LEN + 1),
       "is_valid max length + 1");
    ok(aleph_token_is_valid("abcdef", 3), "is_valid reads only len bytes");
}

static aleph_token_request_t base_request(void)
{
    aleph_token_request_t req;

    memset(&req, 0, sizeof(req));
    req.token_url = "https://auth.platform.satellogic.com/oauth/token";
    req.client_id = "client-1";
    req.client_secret = "s3cr\"et";
    req.audience = "https://api.satellogic.com/";
    req.body = ALEPH_BODY_JSON;
    req.client_auth = ALEPH_CLIENT_AUTH_BODY;
    return req;
}

static const char *json_field(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static void test_encode_json(apr_pool_t *p)
{
    aleph_token_request_t req = base_request();
    const char *body, *ctype, *authz;
    json_t *obj;

    aleph_token_request_encode(p, &req, &body, &ctype, &authz);
    is(ctype, "application/json", "json: content type");
    ok(authz == NULL, "json/body: no Authorization");
    obj = body ? json_loads(body, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (ok(json_is_object(obj), "json/body: parses as an object")) {
        is(json_field(obj, "client_id"), "client-1", "json/body: client_id");
        is(json_field(obj, "client_secret"), "s3cr\"et",
           "json/body: client_secret");
        is(json_field(obj, "audience"), "https://api.satellogic.com/",
           "json/body: audience with trailing slash");
        is(json_field(obj, "grant_type"), "client_credentials",
           "json/body: grant_type");
        ok(json_object_get(obj, "scope") == NULL, "json/body: no scope key");
        is_int((long long)json_object_size(obj), 4, "json/body: four keys");
    }
    json_decref(obj);
    ok(body && !strstr(body, ": ") && !strstr(body, ", "),
       "json/body: compact");

    req.scope = "api:tasking api:delivery";
    req.audience = NULL;
    aleph_token_request_encode(p, &req, &body, &ctype, &authz);
    obj = body ? json_loads(body, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (ok(json_is_object(obj), "json/scope: parses")) {
        is(json_field(obj, "scope"), "api:tasking api:delivery",
           "json/scope: scope");
        ok(json_object_get(obj, "audience") == NULL,
           "json/scope: NULL audience omitted");
    }
    json_decref(obj);

    req = base_request();
    req.client_auth = ALEPH_CLIENT_AUTH_BASIC;
    aleph_token_request_encode(p, &req, &body, &ctype, &authz);
    obj = body ? json_loads(body, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (ok(json_is_object(obj), "json/basic: parses")) {
        ok(json_object_get(obj, "client_id") == NULL
           && json_object_get(obj, "client_secret") == NULL,
           "json/basic: no credentials in the body");
        is(json_field(obj, "grant_type"), "client_credentials",
           "json/basic: grant_type");
    }
    json_decref(obj);
    /* base64("client-1:s3cr%22et") */
    is(authz, "Basic Y2xpZW50LTE6czNjciUyMmV0", "json/basic: Authorization");

    req = base_request();
    req.client_secret = "bad\xff";
    aleph_token_request_encode(p, &req, &body, &ctype, &authz);
    ok(body == NULL, "json: invalid UTF-8 secret gives no body");
}

static void test_encode_form(apr_pool_t *p)
{
    aleph_token_request_t req = base_request();
    const char *body, *ctype, *authz;

    req.body = ALEPH_BODY_FORM;
    req.client_id = "abc";
    req.client_secret = "xyz";
    aleph_token_request_encode(p, &req, &body, &ctype, &authz);
    is(ctype, "application/x-www-form-urlencoded", "form: content type");
    is(body, "grant_type=client_credentials&client_id=abc&client_secret=xyz"
       "&audience=https%3A%2F%2Fapi.satellogic.com%2F", "form/body: simple");
    ok(authz == NULL, "form/body: no Authorization");

    req.client_secret = "a b&c=d+\xc3\xa9";
    req.client_id = "-._~";
    req.audience = NULL;
    req.scope = "api:tasking api:delivery";
    aleph_token_request_encode(p, &req, &body, &ctype, &authz);
    is(body, "grant_type=client_credentials&client_id=-._~"
       "&client_secret=a%20b%26c%3Dd%2B%C3%A9"
       "&scope=api%3Atasking%20api%3Adelivery",
       "form/body: special characters, NULL audience omitted");

    req.client_auth = ALEPH_CLIENT_AUTH_BASIC;
    req.client_id = "id:x";
    req.client_secret = "se cret";
    req.audience = "https://api.satellogic.com/";
    req.scope = NULL;
    aleph_token_request_encode(p, &req, &body, &ctype, &authz);
    is(body, "grant_type=client_credentials"
       "&audience=https%3A%2F%2Fapi.satellogic.com%2F",
       "form/basic: no credentials in the body");
    /* base64("id%3Ax:se%20cret") */
    is(authz, "Basic aWQlM0F4OnNlJTIwY3JldA==", "form/basic: Authorization");

    req.client_id = "my id";
    req.client_secret = "p@ss/w:rd";
    aleph_token_request_encode(p, &req, &body, &ctype, &authz);
    /* base64("my%20id:p%40ss%2Fw%3Ard") */
    is(authz, "Basic bXklMjBpZDpwJTQwc3MlMkZ3JTNBcmQ=",
       "form/basic: reserved characters encoded before base64");
}

/* ---- fetch against a one-shot loopback stub ------------------------ */

static const char *fetch_stub(apr_pool_t *p, aleph_token_request_t *req,
                              const char *response, apr_size_t len, int hang,
                              aleph_token_result_t *res, apr_status_t *rv)
{
    stub_t s;

    if (!stub_start(&s, response, len, hang)) {
        diag("could not start the stub server");
        *rv = APR_EGENERAL;
        memset(res, 0, sizeof(*res));
        res->reason = "stub failed";
        return "";
    }
    req->token_url = apr_psprintf(p, "http://127.0.0.1:%d/oauth/token",
                                  s.port);
    *rv = aleph_token_fetch(p, req, res);
    return stub_finish(p, &s);
}

static void test_fetch_stub(apr_pool_t *p)
{
    aleph_token_request_t req = base_request();
    aleph_token_result_t res;
    apr_status_t rv;
    const char *resp, *got, *body;
    char *big;

    req.transport.connect_timeout = apr_time_from_sec(5);
    req.transport.timeout = apr_time_from_sec(10);

    resp = http_response(p, "200 OK", "Content-Type: application/json\r\n",
                         FIXTURE_BODY);
    got = fetch_stub(p, &req, resp, strlen(resp), 0, &res, &rv);
    ok(rv == APR_SUCCESS, "fetch 200: success");
    is(res.reason, ALEPH_R_OK, "fetch 200: reason");
    is(res.access_token, FIXTURE_TOKEN, "fetch 200: token");
    is_int(res.expires_in, 86400, "fetch 200: expires_in");
    ok(strncmp(got, "POST /oauth/token HTTP/1.1\r\n", 28) == 0,
       "fetch 200: POST to the path");
    ok(strcasestr(got, "\r\nContent-Type: application/json\r\n") != NULL,
       "fetch 200: Content-Type sent");
    ok(strcasestr(got, "\r\nAccept: application/json\r\n") != NULL,
       "fetch 200: Accept sent");
    ok(strcasestr(got, "\r\nUser-Agent: mod_aleph\r\n") != NULL,
       "fetch 200: User-Agent sent");
    ok(strcasestr(got, "\r\nAuthorization:") == NULL
       && strcasestr(got, "\r\nExpect:") == NULL,
       "fetch 200: no Authorization, no Expect");
    body = strstr(got, "\r\n\r\n");
    ok(body && strstr(body, "\"client_secret\":\"s3cr\\\"et\"") != NULL,
       "fetch 200: JSON body sent");

    req.body = ALEPH_BODY_FORM;
    req.client_auth = ALEPH_CLIENT_AUTH_BASIC;
    got = fetch_stub(p, &req, resp, strlen(resp), 0, &res, &rv);
    is(res.reason, ALEPH_R_OK, "fetch form/basic: reason");
    ok(strcasestr(got, "\r\nAuthorization: Basic Y2xpZW50LTE6czNjciUyMmV0\r\n")
       != NULL, "fetch form/basic: Authorization sent");
    ok(strcasestr(got, "\r\nContent-Type: application/x-www-form-urlencoded")
       != NULL, "fetch form/basic: form Content-Type");
    body = strstr(got, "\r\n\r\n");
    is(body ? body + 4 : NULL, "grant_type=client_credentials"
       "&audience=https%3A%2F%2Fapi.satellogic.com%2F",
       "fetch form/basic: body");
    req = base_request();
    req.transport.connect_timeout = apr_time_from_sec(5);
    req.transport.timeout = apr_time_from_sec(10);

    resp = http_response(p, "400 Bad Request", "",
                         "{\"error\":\"invalid_client\"}");
    fetch_stub(p, &req, resp, strlen(resp), 0, &res, &rv);
    is(res.reason, ALEPH_R_OAUTH_ERROR, "fetch 400: reason");
    is(res.oauth_error, "invalid_client", "fetch 400: oauth_error");
    is_int(res.http_status, 400, "fetch 400: http_status");

    /* An endpoint that echoes the secret: it must not reach logs or status. */
    resp = http_response(p, "401 Unauthorized", "",
                         "{\"error\":\"bad s3cr\\\"et\",\"error_description\":"
                         "\"secret s3cr\\\"et is wrong; s3cr\\\"et!\"}");
    fetch_stub(p, &req, resp, strlen(resp), 0, &res, &rv);
    is(res.reason, ALEPH_R_OAUTH_ERROR, "fetch 401 echoing the secret: reason");
    is(res.oauth_error, "bad [secret]", "... the secret is redacted from the error");
    is(res.oauth_error_description, "secret [secret] is wrong; [secret]!",
       "... and from the description, every copy");
    ok(res.detail && !strstr(res.detail, "s3cr") && strstr(res.detail, "[secret]"),
       "... and from the detail");

    resp = http_response(p, "429 Too Many Requests", "Retry-After: 30\r\n",
                         "");
    fetch_stub(p, &req, resp, strlen(resp), 0, &res, &rv);
    is(res.reason, ALEPH_R_HTTP_STATUS, "fetch 429: reason");
    is_int(res.http_status, 429, "fetch 429: http_status");
    is_int(res.retry_after, apr_time_from_sec(30), "fetch 429: Retry-After");

    resp = http_response(p, "503 Service Unavailable",
                         "retry-after:   99999999999 \r\n", "");
    fetch_stub(p, &req, resp, strlen(resp), 0, &res, &rv);
    is_int(res.retry_after, apr_time_from_sec(86400),
           "fetch 503: Retry-After bounded to a day");

    resp = http_response(p, "503 Service Unavailable",
                         "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n", "");
    fetch_stub(p, &req, resp, strlen(resp), 0, &res, &rv);
    is_int(res.retry_after, 0, "fetch 503: HTTP-date Retry-After ignored");

    resp = http_response(p, "302 Found",
                         "Location: http://127.0.0.1:1/steal\r\n", "");
    fetch_stub(p, &req, resp, strlen(resp), 0, &res, &rv);
    is(res.reason, ALEPH_R_HTTP_STATUS, "fetch 302: reason");
    ok(res.detail && strstr(res.detail, "redirect") != NULL,
       "fetch 302: detail says redirects are not followed");

    big = repeat(p, 'x', 100000);
    resp = http_response(p, "200 OK", "", big);
    fetch_stub(p, &req, resp, strlen(resp), 0, &res, &rv);
    is(res.reason, ALEPH_R_TOO_LARGE, "fetch announced large body");

    resp = apr_pstrcat(p, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
                       big, NULL);
    fetch_stub(p, &req, resp, strlen(resp), 0, &res, &rv);
    is(res.reason, ALEPH_R_TOO_LARGE, "fetch unannounced large body");
    ok(rv != APR_SUCCESS, "fetch unannounced large body: failure");

    /* About 100 KB of headers, more than the body limit. */
    resp = apr_pstrcat(p, "HTTP/1.1 200 OK\r\n", header_flood(p, 2000),
                       "Content-Length: 2\r\n\r\n{}", NULL);
    fetch_stub(p, &req, resp, strlen(resp), 0, &res, &rv);
    is(res.reason, ALEPH_R_TOO_LARGE, "fetch header flood");

    req.transport.timeout = apr_time_from_msec(300);
    fetch_stub(p, &req, "", 0, 1, &res, &rv);
    is(res.reason, ALEPH_R_TIMEOUT, "fetch silent server: timeout");
    ok(res.detail && !has_crlf(res.detail), "fetch timeout: detail");
}

static void test_fetch_refused(apr_pool_t *p)
{
    aleph_token_request_t req = base_request();
    aleph_token_result_t res;
    apr_status_t rv;

    req.transport.connect_timeout = apr_time_from_sec(2);
    req.transport.timeout = apr_time_from_sec(5);

    req.token_url = "http://127.0.0.1:1/";
    rv = aleph_token_fetch(p, &req, &res);
    ok(rv != APR_SUCCESS, "fetch closed port: failure");
    is(res.reason, ALEPH_R_UNREACHABLE, "fetch closed port: reason");
    is_int(res.http_status, 0, "fetch closed port: no HTTP status");
    ok(res.detail && !has_crlf(res.detail) && !strstr(res.detail, "s3cr"),
       "fetch closed port: detail (%s)", res.detail ? res.detail : "NULL");

    req.token_url = "ftp://127.0.0.1/";
    rv = aleph_token_fetch(p, &req, &res);
    ok(rv != APR_SUCCESS, "fetch ftp: refused");
    ok(res.reason && strcmp(res.reason, ALEPH_R_OK) != 0,
       "fetch ftp: reason %s", res.reason ? res.reason : "NULL");

    req.token_url = "file:///etc/passwd";
    rv = aleph_token_fetch(p, &req, &res);
    ok(rv != APR_SUCCESS && res.access_token == NULL, "fetch file: refused");

    req.token_url = NULL;
    rv = aleph_token_fetch(p, &req, &res);
    is(res.reason, ALEPH_R_INTERNAL, "fetch without URL");
}

int main(void)
{
    apr_pool_t *pool;
    apr_size_t i;

    apr_initialize();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    apr_pool_create(&pool, NULL);

    for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        run_parse_case(pool, &parse_cases[i]);
    }
    run_generated_parse_cases(pool);
    test_fixture_file(pool);
    test_oauth_error_fields(pool);
    test_is_valid();
    test_encode_json(pool);
    test_encode_form(pool);
    test_fetch_refused(pool);
    test_fetch_stub(pool);

    apr_pool_destroy(pool);
    curl_global_cleanup();
    apr_terminate();
    return done_testing();
}
