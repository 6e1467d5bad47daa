/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * SetHandler aleph-status: the token store's state as JSON, or with
 * ?format=prometheus as Prometheus text exposition; and a short section of
 * mod_status's server-status page. Shows fingerprints of keys and tokens,
 * never a token or a secret.
 */
#include <jansson.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_protocol.h>
#include <util_script.h>
#include <mod_status.h>

#include "aleph_credential.h"
#include "aleph_policy.h"
#include "mod_aleph.h"

#define PROMETHEUS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static const char *const token_states[] = {
    "none", "valid", "refreshing", "backing_off", "expired", NULL
};

/* One credential's state, read once and shown in any format. */
typedef struct {
    const aleph_cred_t *cred;
    aleph_slot_stats_t stats;
    const char *state;
    const char *token_fingerprint;  /* NULL: no token */
    apr_int64_t expires_in;         /* seconds; only with a token */
    apr_time_t obtained;            /* wall clock; 0: no token */
    apr_time_t expires_at;          /* wall clock; 0: no token */
    const char *contract;           /* found by AlephContract auto, or NULL */
} cred_status_t;

static const char *token_state(int has_token, const aleph_token_meta_t *meta,
                               const aleph_slot_stats_t *stats, apr_int64_t now)
{
    if (stats->in_flight) {
        return "refreshing";
    }
    if (has_token && now < meta->expires_at) {
        return "valid";
    }
    if (stats->retry_at) {
        return "backing_off";
    }
    return has_token ? "expired" : "none";
}

static void read_cred(apr_pool_t *p, const aleph_cred_t *cred, char *token,
                      cred_status_t *cs)
{
    apr_int64_t now = aleph_clock_now();
    aleph_token_meta_t meta;
    int has_token = aleph_store_get(cred->slot, token, &meta);
    char contract[ALEPH_CONTRACT_ID_MAX + 1];

    aleph_store_stats(cred->slot, now, &cs->stats);
    cs->cred = cred;
    cs->contract = aleph_store_contract(cred->slot, contract) == ALEPH_CONTRACT_STATE_KNOWN
                 ? apr_pstrdup(p, contract) : NULL;
    cs->state = token_state(has_token, &meta, &cs->stats, now);
    cs->token_fingerprint = NULL;
    cs->expires_in = 0;
    cs->obtained = 0;
    cs->expires_at = 0;
    if (has_token) {
        cs->token_fingerprint = aleph_fingerprint(p, token, meta.token_len);
        cs->expires_in = (meta.expires_at - now) / ALEPH_SEC;
        cs->obtained = meta.obtained;
        /* The store keeps monotonic time; people read wall-clock time. */
        cs->expires_at = apr_time_now() + (meta.expires_at - now);
    }
    /* The token was only needed for its fingerprint. */
    memset(token, 0, ALEPH_TOKEN_MAX_LEN + 1);
}

/* Every credential of the running configuration, once each. */
static apr_array_header_t *read_creds(apr_pool_t *p)
{
    apr_array_header_t *creds = aleph_scopes_creds();
    apr_array_header_t *out = apr_array_make(p, creds ? creds->nelts : 0,
                                             sizeof(cred_status_t));
    apr_hash_t *seen = apr_hash_make(p);
    char *token = apr_palloc(p, ALEPH_TOKEN_MAX_LEN + 1);
    int i;

    for (i = 0; creds && i < creds->nelts; i++) {
        const aleph_cred_t *cred = APR_ARRAY_IDX(creds, i, aleph_cred_t *);

        if (!cred->slot || apr_hash_get(seen, cred->key, ALEPH_KEY_LEN)) {
            continue;
        }
        apr_hash_set(seen, cred->key, ALEPH_KEY_LEN, cred);
        read_cred(p, cred, token, apr_array_push(out));
    }
    return out;
}

static json_t *time_json(apr_pool_t *p, apr_time_t t)
{
    char buf[APR_RFC822_DATE_LEN];

    if (!t) {
        return json_null();
    }
    apr_rfc822_date(buf, t);
    return json_string(apr_pstrdup(p, buf));
}

static json_t *string_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

static json_t *credential_json(apr_pool_t *p, const cred_status_t *cs)
{
    const aleph_cred_t *cred = cs->cred;
    json_t *o = json_object();

    json_object_set_new(o, "credential", json_string(cred->fingerprint));
    json_object_set_new(o, "client_id", json_string(cred->req.client_id));
    json_object_set_new(o, "token_url", json_string(cred->req.token_url));
    json_object_set_new(o, "audience", string_or_null(cred->req.audience));
    json_object_set_new(o, "scope", string_or_null(cred->req.scope));
    json_object_set_new(o, "state", json_string(cs->state));
    json_object_set_new(o, "token", string_or_null(cs->token_fingerprint));
    json_object_set_new(o, "obtained", time_json(p, cs->obtained));
    json_object_set_new(o, "expires_at", time_json(p, cs->expires_at));
    json_object_set_new(o, "expires_in", cs->token_fingerprint
                        ? json_integer(cs->expires_in) : json_null());
    json_object_set_new(o, "token_requests", json_integer((json_int_t)cs->stats.fetches));
    json_object_set_new(o, "failures", json_integer((json_int_t)cs->stats.failures));
    json_object_set_new(o, "injections", json_integer((json_int_t)cs->stats.injections));
    json_object_set_new(o, "last_error", string_or_null(cs->stats.last_error));
    json_object_set_new(o, "last_error_time", time_json(p, cs->stats.last_error_time));
    json_object_set_new(o, "contract", string_or_null(cs->contract));
    return o;
}

static int status_json(request_rec *r, const apr_array_header_t *list,
                       const aleph_store_t *store)
{
    json_t *doc = json_object(), *creds = json_array();
    char *text;
    int i;

    for (i = 0; i < list->nelts; i++) {
        json_array_append_new(creds, credential_json(r->pool,
                              &APR_ARRAY_IDX(list, i, cred_status_t)));
    }
    json_object_set_new(doc, "module", json_string("mod_aleph"));
    json_object_set_new(doc, "store_slots_used", json_integer(store ? aleph_store_used(store) : 0));
    json_object_set_new(doc, "store_slots", json_integer(store ? aleph_store_capacity(store) : 0));
    json_object_set_new(doc, "credentials", creds);
    text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(doc);
    if (!text) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_set_content_type(r, "application/json");
    if (!r->header_only) {
        ap_rputs(text, r);
        ap_rputs("\n", r);
    }
    free(text);
    return OK;
}

/* A label value per the text exposition format: \, " and newline escaped. */
static const char *label_value(apr_pool_t *p, const char *s)
{
    char *out = apr_palloc(p, 2 * strlen(s) + 1), *d = out;

    for (; *s; s++) {
        if (*s == '\\' || *s == '"') {
            *d++ = '\\';
            *d++ = *s;
        }
        else if (*s == '\n') {
            *d++ = '\\';
            *d++ = 'n';
        }
        else {
            *d++ = *s;
        }
    }
    *d = '\0';
    return out;
}

static void metric_head(request_rec *r, const char *name, const char *type,
                        const char *help)
{
    ap_rprintf(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample per credential of a per-credential counter or gauge. */
static void per_credential(request_rec *r, const apr_array_header_t *list,
                           const char *const *labels, const char *name,
                           apr_size_t offset)
{
    int i;

    for (i = 0; i < list->nelts; i++) {
        const cred_status_t *cs = &APR_ARRAY_IDX(list, i, cred_status_t);

        ap_rprintf(r, "%s{%s} %" APR_UINT64_T_FMT "\n", name, labels[i],
                   *(const apr_uint64_t *)((const char *)&cs->stats + offset));
    }
}

static int status_prometheus(request_rec *r, const apr_array_header_t *list,
                             const aleph_store_t *store)
{
    const char **labels = apr_palloc(r->pool, (list->nelts + 1) * sizeof(*labels));
    int i, j;

    ap_set_content_type(r, PROMETHEUS_CONTENT_TYPE);
    if (r->header_only) {
        return OK;
    }
    for (i = 0; i < list->nelts; i++) {
        const cred_status_t *cs = &APR_ARRAY_IDX(list, i, cred_status_t);

        labels[i] = apr_psprintf(r->pool, "credential=\"%s\",client_id=\"%s\"",
                                 cs->cred->fingerprint,
                                 label_value(r->pool, cs->cred->req.client_id));
    }
    metric_head(r, "aleph_token_requests_total", "counter",
                "Token endpoint requests made for the credential, successful or not.");
    per_credential(r, list, labels, "aleph_token_requests_total",
                   APR_OFFSETOF(aleph_slot_stats_t, fetches));
    metric_head(r, "aleph_token_failures_total", "counter",
                "Token endpoint requests for the credential that failed.");
    per_credential(r, list, labels, "aleph_token_failures_total",
                   APR_OFFSETOF(aleph_slot_stats_t, failures));
    metric_head(r, "aleph_injections_total", "counter",
                "Requests forwarded with the credential's token.");
    per_credential(r, list, labels, "aleph_injections_total",
                   APR_OFFSETOF(aleph_slot_stats_t, injections));
    metric_head(r, "aleph_token_expires_in_seconds", "gauge",
                "Seconds until the credential's token is treated as expired "
                "(absent without a token).");
    for (i = 0; i < list->nelts; i++) {
        const cred_status_t *cs = &APR_ARRAY_IDX(list, i, cred_status_t);

        if (cs->token_fingerprint) {
            ap_rprintf(r, "aleph_token_expires_in_seconds{%s} %" APR_INT64_T_FMT "\n",
                       labels[i], cs->expires_in);
        }
    }
    metric_head(r, "aleph_token_state", "gauge",
                "The credential's token state: 1 for the current state, 0 for the others.");
    for (i = 0; i < list->nelts; i++) {
        const cred_status_t *cs = &APR_ARRAY_IDX(list, i, cred_status_t);

        for (j = 0; token_states[j]; j++) {
            ap_rprintf(r, "aleph_token_state{%s,state=\"%s\"} %d\n", labels[i],
                       token_states[j], !strcmp(cs->state, token_states[j]));
        }
    }
    metric_head(r, "aleph_store_slots_used", "gauge",
                "Slots of the shared token store in use.");
    ap_rprintf(r, "aleph_store_slots_used %u\n", store ? aleph_store_used(store) : 0);
    metric_head(r, "aleph_store_slots", "gauge", "Slots of the shared token store.");
    ap_rprintf(r, "aleph_store_slots %u\n", store ? aleph_store_capacity(store) : 0);
    return OK;
}

static int aleph_status_handler(request_rec *r)
{
    apr_table_t *args;
    const char *format;

    if (!r->handler || strcmp(r->handler, ALEPH_STATUS_HANDLER)) {
        return DECLINED;
    }
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    ap_args_to_table(r, &args);
    format = apr_table_get(args, "format");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!format || !strcmp(format, "json")) {
        return status_json(r, read_creds(r->pool), aleph_store_current());
    }
    if (!strcmp(format, "prometheus")) {
        return status_prometheus(r, read_creds(r->pool), aleph_store_current());
    }
    return HTTP_BAD_REQUEST;
}

/* server-status?auto: totals as "Key: value" lines. */
static void server_status_short(request_rec *r, const apr_array_header_t *list,
                                const aleph_store_t *store)
{
    apr_uint64_t fetches = 0, failures = 0, injections = 0;
    int i, valid = 0;

    for (i = 0; i < list->nelts; i++) {
        const cred_status_t *cs = &APR_ARRAY_IDX(list, i, cred_status_t);

        valid += !strcmp(cs->state, "valid");
        fetches += cs->stats.fetches;
        failures += cs->stats.failures;
        injections += cs->stats.injections;
    }
    ap_rprintf(r, "Aleph Credentials: %d\nAleph Tokens Valid: %d\n"
               "Aleph Token Requests: %" APR_UINT64_T_FMT "\n"
               "Aleph Token Failures: %" APR_UINT64_T_FMT "\n"
               "Aleph Injections: %" APR_UINT64_T_FMT "\n"
               "Aleph Store Slots Used: %u\nAleph Store Slots: %u\n",
               list->nelts, valid, fetches, failures, injections,
               store ? aleph_store_used(store) : 0,
               store ? aleph_store_capacity(store) : 0);
}

static void server_status_html(request_rec *r, const apr_array_header_t *list,
                               const aleph_store_t *store, int tables)
{
    int i;

    ap_rputs("<hr />\n<h2>mod_aleph</h2>\n", r);
    ap_rprintf(r, "<p>Token store: %u of %u slots used; the details are on the "
               "aleph-status handler.</p>\n", store ? aleph_store_used(store) : 0,
               store ? aleph_store_capacity(store) : 0);
    if (tables) {
        ap_rputs("<table border=\"0\"><tr><th>credential</th><th>client id</th>"
                 "<th>state</th><th>expires in (s)</th><th>token requests</th>"
                 "<th>failures</th><th>injections</th><th>last error</th></tr>\n", r);
    }
    for (i = 0; i < list->nelts; i++) {
        const cred_status_t *cs = &APR_ARRAY_IDX(list, i, cred_status_t);
        const char *expires = cs->token_fingerprint
            ? apr_psprintf(r->pool, "%" APR_INT64_T_FMT, cs->expires_in) : "-";

        ap_rprintf(r, tables
                   ? "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%"
                     APR_UINT64_T_FMT "</td><td>%" APR_UINT64_T_FMT "</td><td>%"
                     APR_UINT64_T_FMT "</td><td>%s</td></tr>\n"
                   : "<p>%s, client id %s: %s, expires in %s s, %" APR_UINT64_T_FMT
                     " token requests, %" APR_UINT64_T_FMT " failures, %"
                     APR_UINT64_T_FMT " injections; last error: %s</p>\n",
                   cs->cred->fingerprint,
                   ap_escape_html2(r->pool, cs->cred->req.client_id, 0),
                   cs->state, expires, cs->stats.fetches, cs->stats.failures,
                   cs->stats.injections, cs->stats.last_error[0]
                   ? ap_escape_html2(r->pool, cs->stats.last_error, 0) : "-");
    }
    if (tables) {
        ap_rputs("</table>\n", r);
    }
}

static int aleph_server_status(request_rec *r, int flags)
{
    const apr_array_header_t *list = read_creds(r->pool);

    if (flags & AP_STATUS_SHORT) {
        server_status_short(r, list, aleph_store_current());
    }
    else {
        server_status_html(r, list, aleph_store_current(),
                           !(flags & AP_STATUS_NOTABLE));
    }
    return OK;
}

void aleph_status_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_handler(aleph_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, aleph_server_status, NULL, NULL, APR_HOOK_MIDDLE);
}
