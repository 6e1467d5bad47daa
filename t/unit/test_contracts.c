/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * Unit tests of aleph_contracts.c without a server: hostile contracts
 * responses, contract id syntax, and the GET /contracts exchange against a
 * one-shot loopback stub.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>

#include <curl/curl.h>

#include "aleph_contracts.h"
#include "stub.h"
#include "tap.h"

#define ID1 "cont.3f2a9c1e-6863-4375-a89e-c832b32a5350"
#define ID2 "cont.9b7d0e44-1c2f-4d5e-8a6b-0f1e2d3c4b5a"

typedef struct {
    const char *name;
    int status;
    const char *body;
    const char *reason;
    int count;                  /* contracts expected on success */
    const char *first_id;       /* expected on success, if set */
    const char *first_name;     /* expected on success, if set */
} parse_case_t;

static const parse_case_t parse_cases[] = {
    { "two contracts", 200,
      "[{\"contract_id\":\"" ID1 "\",\"name\":\"Enterprise\"},"
      "{\"contract_id\":\"" ID2 "\",\"name\":\"Pilot\"}]",
      ALEPH_C_OK, 2, ID1, "Enterprise" },
    { "one contract", 200, "[{\"contract_id\":\"" ID1 "\",\"name\":\"Only\"}]",
      ALEPH_C_OK, 1, ID1, "Only" },
    { "no contracts", 200, "[]", ALEPH_C_OK, 0, NULL, NULL },
    { "whitespace around", 200, " \n[ ]\n ", ALEPH_C_OK, 0, NULL, NULL },
    { "name absent", 200, "[{\"contract_id\":\"" ID1 "\"}]", ALEPH_C_OK, 1, ID1, "" },
    { "name null", 200, "[{\"contract_id\":\"" ID1 "\",\"name\":null}]",
      ALEPH_C_OK, 1, ID1, "" },
    { "name not a string", 200, "[{\"contract_id\":\"" ID1 "\",\"name\":42}]",
      ALEPH_C_OK, 1, ID1, "" },
    { "name with control characters", 200,
      "[{\"contract_id\":\"" ID1 "\",\"name\":\"a\\r\\nb\\u001bc\\u00e9\"}]",
      ALEPH_C_OK, 1, ID1, "a??b?c??" },
    { "extra members ignored", 200,
      "[{\"contract_id\":\"" ID1 "\",\"name\":\"n\",\"status\":\"active\"}]",
      ALEPH_C_OK, 1, ID1, "n" },
    { "201 is a success too", 201, "[]", ALEPH_C_OK, 0, NULL, NULL },
    { "401", 401, "{\"message\":\"Unauthorized\"}", ALEPH_C_HTTP_STATUS, 0, NULL, NULL },
    { "500 with a list", 500, "[]", ALEPH_C_HTTP_STATUS, 0, NULL, NULL },
    { "302", 302, "", ALEPH_C_HTTP_STATUS, 0, NULL, NULL },
    { "empty body", 200, "", ALEPH_C_NOT_JSON, 0, NULL, NULL },
    { "HTML", 200, "<html>maintenance</html>", ALEPH_C_NOT_JSON, 0, NULL, NULL },
    { "an object", 200, "{\"contracts\":[]}", ALEPH_C_NOT_JSON, 0, NULL, NULL },
    { "a string", 200, "\"" ID1 "\"", ALEPH_C_NOT_JSON, 0, NULL, NULL },
    { "null", 200, "null", ALEPH_C_NOT_JSON, 0, NULL, NULL },
    { "trailing garbage", 200, "[] x", ALEPH_C_NOT_JSON, 0, NULL, NULL },
    { "truncated", 200, "[{\"contract_id\":\"" ID1 "\"", ALEPH_C_NOT_JSON, 0, NULL, NULL },
    { "duplicate member", 200,
      "[{\"contract_id\":\"" ID1 "\",\"contract_id\":\"" ID2 "\"}]",
      ALEPH_C_NOT_JSON, 0, NULL, NULL },
    { "entry not an object", 200, "[\"" ID1 "\"]", ALEPH_C_INVALID, 0, NULL, NULL },
    { "entry without contract_id", 200, "[{\"name\":\"x\"}]", ALEPH_C_INVALID, 0, NULL, NULL },
    { "contract_id a number", 200, "[{\"contract_id\":7}]", ALEPH_C_INVALID, 0, NULL, NULL },
    { "contract_id empty", 200, "[{\"contract_id\":\"\"}]", ALEPH_C_INVALID, 0, NULL, NULL },
    { "contract_id with CRLF", 200,
      "[{\"contract_id\":\"cont.x\\r\\nX-Injected: 1\"}]", ALEPH_C_INVALID, 0, NULL, NULL },
    { "contract_id with a space", 200, "[{\"contract_id\":\"cont x\"}]",
      ALEPH_C_INVALID, 0, NULL, NULL },
    /* jansson refuses \u0000 in strings outright. */
    { "contract_id with NUL", 200, "[{\"contract_id\":\"cont\\u0000x\"}]",
      ALEPH_C_NOT_JSON, 0, NULL, NULL },
    { "contract_id not ASCII", 200, "[{\"contract_id\":\"cont.\\u00e9\"}]",
      ALEPH_C_INVALID, 0, NULL, NULL },
    { "one bad entry spoils the list", 200,
      "[{\"contract_id\":\"" ID1 "\"},{\"contract_id\":\"\"}]",
      ALEPH_C_INVALID, 0, NULL, NULL },
};

static void run_parse_case(apr_pool_t *p, const parse_case_t *c)
{
    aleph_contracts_result_t res;
    apr_status_t rv = aleph_contracts_parse(p, c->status, c->body, strlen(c->body), &res);

    is(res.reason, c->reason, "%s: reason", c->name);
    ok(res.detail && *res.detail && !strpbrk(res.detail, "\r\n"),
       "%s: a one-line detail", c->name);
    if (strcmp(c->reason, ALEPH_C_OK) == 0) {
        ok(rv == APR_SUCCESS && res.contracts && res.contracts->nelts == c->count,
           "%s: %d contracts", c->name, c->count);
        if (c->first_id && res.contracts && res.contracts->nelts > 0) {
            aleph_contract_t *first = &APR_ARRAY_IDX(res.contracts, 0, aleph_contract_t);

            is(first->contract_id, c->first_id, "%s: contract_id", c->name);
            is(first->name, c->first_name, "%s: name", c->name);
        }
    }
    else {
        ok(rv != APR_SUCCESS && res.contracts == NULL, "%s: refused, no list", c->name);
    }
}

static char *repeat(apr_pool_t *p, char c, apr_size_t n)
{
    char *s = apr_palloc(p, n + 1);

    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* Limits: id length, name length, number of entries, body size. */
static void test_limits(apr_pool_t *p)
{
    aleph_contracts_result_t res;
    const char *body;
    apr_array_header_t *many;
    char *big;
    int i;

    body = apr_psprintf(p, "[{\"contract_id\":\"%s\"}]", repeat(p, 'c', ALEPH_CONTRACT_ID_MAX));
    aleph_contracts_parse(p, 200, body, strlen(body), &res);
    is(res.reason, ALEPH_C_OK, "a contract id of the maximum length");
    body = apr_psprintf(p, "[{\"contract_id\":\"%s\"}]",
                        repeat(p, 'c', ALEPH_CONTRACT_ID_MAX + 1));
    aleph_contracts_parse(p, 200, body, strlen(body), &res);
    is(res.reason, ALEPH_C_INVALID, "a contract id one byte too long");

    body = apr_psprintf(p, "[{\"contract_id\":\"" ID1 "\",\"name\":\"%s\"}]",
                        repeat(p, 'n', 5000));
    aleph_contracts_parse(p, 200, body, strlen(body), &res);
    ok(res.contracts && res.contracts->nelts == 1
       && strlen(APR_ARRAY_IDX(res.contracts, 0, aleph_contract_t).name)
          == ALEPH_CONTRACT_NAME_MAX, "a long name is cut to %d bytes",
       ALEPH_CONTRACT_NAME_MAX);

    many = apr_array_make(p, ALEPH_CONTRACTS_MAX + 2, sizeof(char *));
    for (i = 0; i <= ALEPH_CONTRACTS_MAX; i++) {
        APR_ARRAY_PUSH(many, char *) = apr_psprintf(p, "{\"contract_id\":\"c%d\"}", i);
    }
    body = apr_pstrcat(p, "[", apr_array_pstrcat(p, many, ','), "]", NULL);
    aleph_contracts_parse(p, 200, body, strlen(body), &res);
    is(res.reason, ALEPH_C_TOO_LARGE, "more than %d contracts", ALEPH_CONTRACTS_MAX);
    apr_array_pop(many);
    body = apr_pstrcat(p, "[", apr_array_pstrcat(p, many, ','), "]", NULL);
    aleph_contracts_parse(p, 200, body, strlen(body), &res);
    ok(res.contracts && res.contracts->nelts == ALEPH_CONTRACTS_MAX,
       "exactly %d contracts", ALEPH_CONTRACTS_MAX);

    big = repeat(p, ' ', ALEPH_CONTRACTS_RESPONSE_MAX_LEN + 1);
    big[0] = '[';
    big[ALEPH_CONTRACTS_RESPONSE_MAX_LEN] = ']';
    aleph_contracts_parse(p, 200, big, strlen(big), &res);
    is(res.reason, ALEPH_C_TOO_LARGE, "a body over %d bytes", ALEPH_CONTRACTS_RESPONSE_MAX_LEN);

    /* Parsing stops at len: the rest of the buffer is not read. */
    body = "[]GARBAGE";
    aleph_contracts_parse(p, 200, body, 2, &res);
    is(res.reason, ALEPH_C_OK, "only len bytes are parsed");
}

static void test_id_syntax(void)
{
    ok(aleph_contract_id_is_valid(ID1, strlen(ID1)), "an Aleph contract id is valid");
    ok(aleph_contract_id_is_valid("x", 1), "one character");
    ok(!aleph_contract_id_is_valid("", 0), "empty");
    ok(!aleph_contract_id_is_valid(NULL, 0), "NULL");
    ok(!aleph_contract_id_is_valid("a b", 3), "space");
    ok(!aleph_contract_id_is_valid("a\tb", 3), "tab");
    ok(!aleph_contract_id_is_valid("a\x7f", 2), "DEL");
    ok(!aleph_contract_id_is_valid("a\xc3\xa9", 3), "UTF-8");
}

/* The Aleph fixture beside this file: t/unit/../fixtures/aleph. */
static void test_fixture_file(apr_pool_t *p)
{
    char *path = apr_pstrdup(p, __FILE__), *slash = strrchr(path, '/');
    aleph_contracts_result_t res;
    char buf[4096];
    size_t n;
    FILE *f;

    if (slash) {
        *slash = '\0';
    }
    path = apr_pstrcat(p, slash ? path : ".", "/../fixtures/aleph/contracts.json", NULL);
    f = fopen(path, "rb");
    if (!ok(f != NULL, "fixture %s readable", path)) {
        return;
    }
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    aleph_contracts_parse(p, 200, buf, n, &res);
    is(res.reason, ALEPH_C_OK, "fixture: reason");
    ok(res.contracts && res.contracts->nelts == 2, "fixture: two contracts");
    if (res.contracts && res.contracts->nelts == 2) {
        is(APR_ARRAY_IDX(res.contracts, 1, aleph_contract_t).contract_id, ID2,
           "fixture: second id");
        is(APR_ARRAY_IDX(res.contracts, 1, aleph_contract_t).name, "Tasking Pilot",
           "fixture: second name");
    }
}

static const char *fetch_stub(apr_pool_t *p, const char *response, int hang,
                              apr_interval_time_t timeout,
                              aleph_contracts_result_t *res, apr_status_t *rv)
{
    aleph_contracts_request_t req;
    aleph_http_transport_t transport;
    stub_t s;

    if (!stub_start(&s, response, strlen(response), hang)) {
        diag("could not start the stub server");
        *rv = APR_EGENERAL;
        memset(res, 0, sizeof(*res));
        res->reason = "stub failed";
        return "";
    }
    req.url = apr_psprintf(p, "http://127.0.0.1:%d/contracts", s.port);
    req.token_header = "authorizationToken";
    req.token_value = "Bearer tok.en";
    memset(&transport, 0, sizeof(transport));
    transport.connect_timeout = apr_time_from_sec(5);
    transport.timeout = timeout;
    req.transport = &transport;
    *rv = aleph_contracts_fetch(p, &req, res);
    return stub_finish(p, &s);
}

static void test_fetch(apr_pool_t *p)
{
    aleph_contracts_result_t res;
    aleph_contracts_request_t req;
    aleph_http_transport_t transport;
    apr_status_t rv;
    const char *got, *resp;

    resp = http_response(p, "200 OK", "Content-Type: application/json\r\n",
                         "[{\"contract_id\":\"" ID1 "\",\"name\":\"One\"}]");
    got = fetch_stub(p, resp, 0, apr_time_from_sec(10), &res, &rv);
    ok(rv == APR_SUCCESS && res.contracts && res.contracts->nelts == 1,
       "fetch: one contract");
    ok(strncmp(got, "GET /contracts HTTP/1.1\r\n", 25) == 0, "fetch: GET /contracts");
    ok(strstr(got, "\r\nauthorizationToken: Bearer tok.en\r\n") != NULL,
       "fetch: the token header is sent");
    ok(strcasestr(got, "\r\nX-Satellogic-Contract-Id:") == NULL,
       "fetch: no contract header");
    ok(strcasestr(got, "\r\nAccept: application/json\r\n") != NULL, "fetch: Accept sent");
    ok(strcasestr(got, "\r\nContent-Length:") == NULL, "fetch: no body");

    resp = http_response(p, "401 Unauthorized", "", "{\"message\":\"Unauthorized\"}");
    fetch_stub(p, resp, 0, apr_time_from_sec(10), &res, &rv);
    is(res.reason, ALEPH_C_HTTP_STATUS, "fetch 401: reason");
    is_int(res.http_status, 401, "fetch 401: status");
    ok(res.detail && strstr(res.detail, "token was refused"), "fetch 401: detail");

    resp = http_response(p, "302 Found", "Location: http://127.0.0.1:1/steal\r\n", "");
    fetch_stub(p, resp, 0, apr_time_from_sec(10), &res, &rv);
    is(res.reason, ALEPH_C_HTTP_STATUS, "fetch 302: not followed");

    resp = http_response(p, "200 OK", "",
                         repeat(p, ' ', ALEPH_CONTRACTS_RESPONSE_MAX_LEN + 10));
    fetch_stub(p, resp, 0, apr_time_from_sec(10), &res, &rv);
    is(res.reason, ALEPH_C_TOO_LARGE, "fetch: announced large body");
    resp = apr_pstrcat(p, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
                       repeat(p, ' ', ALEPH_CONTRACTS_RESPONSE_MAX_LEN + 10), NULL);
    fetch_stub(p, resp, 0, apr_time_from_sec(10), &res, &rv);
    is(res.reason, ALEPH_C_TOO_LARGE, "fetch: unannounced large body");

    fetch_stub(p, "", 1, apr_time_from_msec(300), &res, &rv);
    is(res.reason, ALEPH_C_TIMEOUT, "fetch: silent server times out");

    memset(&req, 0, sizeof(req));
    req.url = "http://127.0.0.1:1/contracts";
    req.token_header = "authorizationToken";
    req.token_value = "Bearer tok.en";
    memset(&transport, 0, sizeof(transport));
    transport.timeout = apr_time_from_sec(5);
    req.transport = &transport;
    rv = aleph_contracts_fetch(p, &req, &res);
    is(res.reason, ALEPH_C_UNREACHABLE, "fetch: closed port");
    ok(res.detail && !strstr(res.detail, "tok.en"), "fetch: the detail has no token");
    req.url = "file:///etc/passwd";
    rv = aleph_contracts_fetch(p, &req, &res);
    ok(rv != APR_SUCCESS && res.contracts == NULL, "fetch: file:// refused");
    req.url = NULL;
    aleph_contracts_fetch(p, &req, &res);
    is(res.reason, ALEPH_C_INTERNAL, "fetch: no URL");
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
    test_limits(pool);
    test_id_syntax();
    test_fixture_file(pool);
    test_fetch(pool);

    apr_pool_destroy(pool);
    curl_global_cleanup();
    apr_terminate();
    return done_testing();
}
