/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * OAuth 2.0 client-credentials grant: request encoding, the HTTP exchange
 * (through aleph_http.c) and the judgement of the response. Everything a
 * token endpoint sends is treated as hostile: it is bounded and validated,
 * and reaches a detail only as sanitised OAuth error text, because details
 * end up in logs and in 503 bodies.
 */
#include <string.h>

#include <apr_base64.h>
#include <apr_cstr.h>
#include <apr_strings.h>

#include <jansson.h>

#include "aleph_http.h"
#include "aleph_token.h"

static void wipe_str(const char *s)
{
    if (s) {
        aleph_http_wipe(s, strlen(s));
    }
}

static const char *nz(const char *s)
{
    return s ? s : "";
}

static apr_status_t fail(aleph_token_result_t *res, const char *reason,
                         const char *detail)
{
    res->reason = reason;
    res->detail = detail;
    return APR_EGENERAL;
}

/* ---- request encoding ---------------------------------------------- */

/* RFC 3986 unreserved; ASCII ranges so the locale cannot interfere. */
static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
        || (c >= '0' && c <= '9')
        || c == '-' || c == '.' || c == '_' || c == '~';
}

static apr_size_t form_escaped_len(const char *s)
{
    apr_size_t n = 0;

    for (; *s; s++) {
        n += is_unreserved((unsigned char)*s) ? 1 : 3;
    }
    return n;
}

/* Writes straight into the caller's buffer so no stray secret copies exist. */
static char *form_escape(char *dst, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (is_unreserved(c)) {
            *dst++ = (char)c;
        }
        else {
            *dst++ = '%';
            *dst++ = hex[c >> 4];
            *dst++ = hex[c & 0x0f];
        }
    }
    return dst;
}

typedef struct {
    const char *name;             /* unreserved characters only */
    const char *value;
} form_param_t;

static const char *form_body(apr_pool_t *p, const aleph_token_request_t *req)
{
    form_param_t params[5];
    int n = 0, i;
    apr_size_t len = 1;
    char *buf, *d;

    params[n].name = "grant_type";
    params[n++].value = "client_credentials";
    if (req->client_auth == ALEPH_CLIENT_AUTH_BODY) {
        params[n].name = "client_id";
        params[n++].value = nz(req->client_id);
        params[n].name = "client_secret";
        params[n++].value = nz(req->client_secret);
    }
    if (req->audience) {
        params[n].name = "audience";
        params[n++].value = req->audience;
    }
    if (req->scope) {
        params[n].name = "scope";
        params[n++].value = req->scope;
    }

    for (i = 0; i < n; i++) {
        len += (i ? 1 : 0) + strlen(params[i].name) + 1
             + form_escaped_len(params[i].value);
    }
    d = buf = apr_palloc(p, len);
    for (i = 0; i < n; i++) {
        apr_size_t nlen = strlen(params[i].name);

        if (i) {
            *d++ = '&';
        }
        memcpy(d, params[i].name, nlen);
        d += nlen;
        *d++ = '=';
        d = form_escape(d, params[i].value);
    }
    *d = '\0';
    return buf;
}

/* RFC 6749 §2.3.1: each part is form-urlencoded before joining. */
static const char *basic_authorization(apr_pool_t *p, const char *id,
                                       const char *secret)
{
    static const char prefix[] = "Basic ";
    apr_size_t plen = form_escaped_len(id) + 1 + form_escaped_len(secret);
    char *plain = apr_palloc(p, plen + 1);
    char *out, *d;

    d = form_escape(plain, id);
    *d++ = ':';
    d = form_escape(d, secret);
    *d = '\0';

    out = apr_palloc(p, sizeof(prefix) - 1 + apr_base64_encode_len((int)plen));
    memcpy(out, prefix, sizeof(prefix) - 1);
    apr_base64_encode(out + sizeof(prefix) - 1, plain, (int)plen);
    aleph_http_wipe(plain, plen);
    return out;
}

static int set_string(json_t *obj, const char *key, const char *value)
{
    /* json_string refuses invalid UTF-8; json_object_set_new then fails. */
    return json_object_set_new(obj, key, json_string(value)) == 0;
}

/* NULL when a value is not valid UTF-8: JSON cannot carry it. */
static const char *json_body(apr_pool_t *p, const aleph_token_request_t *req)
{
    json_t *obj = json_object();
    json_t *secret = NULL;
    char *buf = NULL;
    int ok = obj != NULL;

    if (ok && req->client_auth == ALEPH_CLIENT_AUTH_BODY) {
        /* Our own reference lets us wipe jansson's copy of the secret. */
        secret = json_string(nz(req->client_secret));
        ok = set_string(obj, "client_id", nz(req->client_id))
          && json_object_set(obj, "client_secret", secret) == 0;
    }
    if (ok && req->audience) {
        ok = set_string(obj, "audience", req->audience);
    }
    if (ok) {
        ok = set_string(obj, "grant_type", "client_credentials");
    }
    if (ok && req->scope) {
        ok = set_string(obj, "scope", req->scope);
    }
    if (ok) {
        size_t len = json_dumpb(obj, NULL, 0, JSON_COMPACT);

        if (len > 0) {
            buf = apr_palloc(p, len + 1);
            json_dumpb(obj, buf, len, JSON_COMPACT);
            buf[len] = '\0';
        }
    }
    if (secret) {
        aleph_http_wipe(json_string_value(secret), json_string_length(secret));
        json_decref(secret);
    }
    json_decref(obj);
    return buf;
}

void aleph_token_request_encode(apr_pool_t *p, const aleph_token_request_t *req,
                                const char **body, const char **content_type,
                                const char **authorization)
{
    if (req->body == ALEPH_BODY_FORM) {
        *body = form_body(p, req);
        *content_type = "application/x-www-form-urlencoded";
    }
    else {
        *body = json_body(p, req);
        *content_type = "application/json";
    }
    *authorization = req->client_auth == ALEPH_CLIENT_AUTH_BASIC
                   ? basic_authorization(p, nz(req->client_id),
                                         nz(req->client_secret))
                   : NULL;
}

/* ---- response judgement -------------------------------------------- */

static int is_b64token_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
        || (c >= '0' && c <= '9')
        || c == '-' || c == '.' || c == '_' || c == '~'
        || c == '+' || c == '/';
}

int aleph_token_is_valid(const char *s, apr_size_t len)
{
    apr_size_t i = 0;

    if (!s || len == 0 || len > ALEPH_TOKEN_MAX_LEN) {
        return 0;
    }
    while (i < len && is_b64token_char((unsigned char)s[i])) {
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

/* OAuth error texts reach logs; keep them printable and short. */
static const char *sanitise(apr_pool_t *p, const char *s, apr_size_t len)
{
    return aleph_http_printable(p, s, len, ALEPH_OAUTH_TEXT_MAX);
}

/* 1 and the result filled in if root is an RFC 6749 §5.2 error object. */
static int take_oauth_error(apr_pool_t *p, json_t *root,
                            aleph_token_result_t *res)
{
    json_t *err = json_is_object(root) ? json_object_get(root, "error") : NULL;
    json_t *desc;

    if (!json_is_string(err)) {
        return 0;
    }
    res->oauth_error = sanitise(p, json_string_value(err),
                                json_string_length(err));
    desc = json_object_get(root, "error_description");
    if (json_is_string(desc)) {
        res->oauth_error_description = sanitise(p, json_string_value(desc),
                                                json_string_length(desc));
    }
    fail(res, ALEPH_R_OAUTH_ERROR,
         apr_psprintf(p, "The token endpoint answered HTTP %d with OAuth "
                      "error \"%s\".", res->http_status, res->oauth_error));
    return 1;
}

/* Digits only: "+5", " 5" or "5s" are not what RFC 6749 means. */
static int expiry_from_string(const char *s, apr_size_t len, apr_int64_t *out)
{
    apr_int64_t v = 0;
    apr_size_t i;

    if (len == 0) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
        /* Saturate rather than overflow; the caller clamps anyway. */
        if (v <= ALEPH_MAX_LIFETIME_SEC) {
            v = v * 10 + (s[i] - '0');
        }
    }
    *out = v;
    return v > 0;
}

/* 1 and *out in 1..ALEPH_MAX_LIFETIME_SEC if v is an acceptable expires_in. */
static int expiry_seconds(json_t *v, apr_int64_t *out)
{
    apr_int64_t secs;

    if (v == NULL) {
        secs = ALEPH_DEFAULT_LIFETIME_SEC;
    }
    else if (json_is_integer(v)) {
        secs = (apr_int64_t)json_integer_value(v);
        if (secs <= 0) {
            return 0;
        }
    }
    else if (json_is_real(v)) {
        double d = json_real_value(v);

        if (!(d > 0)) {
            return 0;
        }
        /* Compare as double first: converting a huge double is undefined.
         * For positive values the cast truncates, which is the floor. */
        secs = d >= (double)ALEPH_MAX_LIFETIME_SEC
             ? ALEPH_MAX_LIFETIME_SEC : (apr_int64_t)d;
        if (secs < 1) {
            secs = 1;
        }
    }
    else if (json_is_string(v)) {
        if (!expiry_from_string(json_string_value(v), json_string_length(v),
                                &secs)) {
            return 0;
        }
    }
    else {
        return 0;
    }
    *out = secs > ALEPH_MAX_LIFETIME_SEC ? ALEPH_MAX_LIFETIME_SEC : secs;
    return 1;
}

static apr_status_t judge_success(apr_pool_t *p, json_t *root,
                                  aleph_token_result_t *res)
{
    json_t *tok, *type;
    const char *token;
    apr_size_t len;
    apr_int64_t expires_in;

    if (take_oauth_error(p, root, res)) {
        return APR_EGENERAL;
    }

    tok = json_object_get(root, "access_token");
    if (!json_is_string(tok) || json_string_length(tok) == 0) {
        return fail(res, ALEPH_R_NO_TOKEN, apr_psprintf(p,
                    "The token endpoint's HTTP %d response has no "
                    "access_token string.", res->http_status));
    }
    token = json_string_value(tok);
    len = json_string_length(tok);
    if (len > ALEPH_TOKEN_MAX_LEN) {
        return fail(res, ALEPH_R_TOKEN_TOO_LONG, apr_psprintf(p,
                    "The access token is %" APR_SIZE_T_FMT " bytes long, "
                    "more than the %d accepted.", len, ALEPH_TOKEN_MAX_LEN));
    }
    if (!aleph_token_is_valid(token, len)) {
        return fail(res, ALEPH_R_BAD_TOKEN,
                    "The access token contains characters not allowed in "
                    "an RFC 6750 bearer token.");
    }

    /* Absent token_type is taken as Bearer: Aleph always is. */
    type = json_object_get(root, "token_type");
    if (type && !(json_is_string(type) && json_string_length(type) == 6
                  && !apr_cstr_casecmp(json_string_value(type), "Bearer"))) {
        return fail(res, ALEPH_R_BAD_TYPE,
                    "The token endpoint issued a token whose token_type "
                    "is not Bearer.");
    }

    if (!expiry_seconds(json_object_get(root, "expires_in"), &expires_in)) {
        return fail(res, ALEPH_R_BAD_EXPIRY,
                    "The token response's expires_in is not a positive "
                    "number of seconds.");
    }

    res->access_token = apr_pstrmemdup(p, token, len);
    res->token_len = len;
    res->expires_in = expires_in;
    res->reason = ALEPH_R_OK;
    res->detail = apr_psprintf(p, "The token endpoint issued a Bearer token "
                               "valid for %" APR_INT64_T_FMT " seconds.",
                               expires_in);
    return APR_SUCCESS;
}

apr_status_t aleph_token_parse(apr_pool_t *p, int http_status,
                               const char *body, apr_size_t len,
                               aleph_token_result_t *res)
{
    json_error_t jerr;
    json_t *root;
    apr_status_t rv;

    memset(res, 0, sizeof(*res));
    res->http_status = http_status;

    if (len > ALEPH_RESPONSE_MAX_LEN) {
        return fail(res, ALEPH_R_TOO_LARGE, apr_psprintf(p,
                    "The token endpoint's HTTP %d response is larger than "
                    "%d bytes.", http_status, ALEPH_RESPONSE_MAX_LEN));
    }

    /* DECODE_ANY so that a bare string or number gets its own message. */
    root = json_loadb(body ? body : "", len,
                      JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);

    if (http_status < 200 || http_status > 299) {
        if (take_oauth_error(p, root, res)) {
            rv = APR_EGENERAL;
        }
        else if (http_status >= 300 && http_status < 400) {
            rv = fail(res, ALEPH_R_HTTP_STATUS, apr_psprintf(p,
                      "The token endpoint answered HTTP %d and redirects "
                      "are not followed.", http_status));
        }
        else {
            rv = fail(res, ALEPH_R_HTTP_STATUS, apr_psprintf(p,
                      "The token endpoint answered HTTP %d.", http_status));
        }
    }
    else if (root == NULL) {
        /* jerr.text may quote body bytes; only its position is safe. */
        rv = fail(res, ALEPH_R_NOT_JSON, apr_psprintf(p,
                  "The token endpoint's HTTP %d response is not valid JSON "
                  "(error at line %d, column %d).",
                  http_status, jerr.line, jerr.column));
    }
    else if (!json_is_object(root)) {
        rv = fail(res, ALEPH_R_NOT_JSON, apr_psprintf(p,
                  "The token endpoint's HTTP %d response is not a JSON "
                  "object.", http_status));
    }
    else {
        rv = judge_success(p, root, res);
    }
    json_decref(root);
    return rv;
}

/* ---- the HTTP exchange --------------------------------------------- */

/* text with every copy of secret replaced, or text itself when it has none. */
static const char *redact(apr_pool_t *p, const char *text, const char *secret)
{
    apr_size_t n = secret ? strlen(secret) : 0;
    const char *hit, *out = "";

    if (!text || n == 0) {
        return text;
    }
    while ((hit = strstr(text, secret)) != NULL) {
        out = apr_pstrcat(p, out, apr_pstrmemdup(p, text, (apr_size_t)(hit - text)),
                          "[secret]", NULL);
        text = hit + n;
    }
    return *out ? apr_pstrcat(p, out, text, NULL) : text;
}

apr_status_t aleph_token_fetch(apr_pool_t *p, const aleph_token_request_t *req,
                               aleph_token_result_t *res)
{
    const char *body, *content_type, *authorization, *authz_line = NULL;
    const char *headers[5];
    aleph_http_request_t http;
    aleph_http_response_t resp;
    apr_status_t rv = APR_SUCCESS;
    const char *reason = NULL;
    int n = 0;

    memset(res, 0, sizeof(*res));
    if (!req->token_url) {
        return fail(res, ALEPH_R_INTERNAL, "No token endpoint URL is set.");
    }
    aleph_token_request_encode(p, req, &body, &content_type, &authorization);
    if (!body) {
        wipe_str(authorization);
        return fail(res, ALEPH_R_INTERNAL,
                    "The token request could not be encoded because a "
                    "parameter is not valid UTF-8.");
    }
    headers[n++] = apr_pstrcat(p, "Content-Type: ", content_type, NULL);
    headers[n++] = "Accept: application/json";
    /* No 100-continue round trip for a body this small. */
    headers[n++] = "Expect:";
    if (authorization) {
        authz_line = apr_pstrcat(p, "Authorization: ", authorization, NULL);
        headers[n++] = authz_line;
    }
    headers[n] = NULL;

    memset(&http, 0, sizeof(http));
    http.url = req->token_url;
    http.body = body;
    http.headers = headers;
    http.max_len = ALEPH_RESPONSE_MAX_LEN;
    http.transport = &req->transport;
    aleph_http_perform(p, &http, &resp);

    switch (resp.outcome) {
    case ALEPH_HTTP_DONE:
        rv = aleph_token_parse(p, resp.status, resp.body, resp.len, res);
        break;
    case ALEPH_HTTP_BODY_TOO_LARGE:
    case ALEPH_HTTP_HEADERS_TOO_LARGE:
        reason = ALEPH_R_TOO_LARGE;
        break;
    case ALEPH_HTTP_TIMEOUT:
        reason = ALEPH_R_TIMEOUT;
        break;
    case ALEPH_HTTP_TLS_FAILED:
        reason = ALEPH_R_TLS;
        break;
    case ALEPH_HTTP_UNREACHABLE:
        reason = ALEPH_R_UNREACHABLE;
        break;
    default:
        reason = ALEPH_R_INTERNAL;
        break;
    }
    if (reason) {
        rv = fail(res, reason, aleph_http_failure(p, &resp, "token", ALEPH_RESPONSE_MAX_LEN));
        res->http_status = resp.status;
    }
    res->retry_after = resp.retry_after;
    /*
     * An endpoint may echo what it received ("wrong secret '...'"), and
     * these texts go to the error log and the status page.
     */
    res->oauth_error = redact(p, res->oauth_error, req->client_secret);
    res->oauth_error_description = redact(p, res->oauth_error_description,
                                          req->client_secret);
    res->detail = redact(p, res->detail, req->client_secret);
    /* The response body holds the token; the request, the secret. */
    if (resp.body) {
        aleph_http_wipe(resp.body, resp.len);
    }
    wipe_str(body);
    wipe_str(authorization);
    wipe_str(authz_line);
    return rv;
}
