/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * SetHandler aleph-status: the token store's state as JSON. Shows
 * fingerprints of keys and tokens, never a token or a secret.
 */
#include <jansson.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_protocol.h>

#include "aleph_credential.h"
#include "aleph_policy.h"
#include "mod_aleph.h"

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

static json_t *time_json(apr_pool_t *p, apr_time_t t)
{
    char buf[APR_RFC822_DATE_LEN];

    if (!t) {
        return json_null();
    }
    apr_rfc822_date(buf, t);
    return json_string(apr_pstrdup(p, buf));
}

static json_t *credential_json(request_rec *r, const aleph_cred_t *cred,
                               char *token, apr_int64_t now)
{
    aleph_token_meta_t meta;
    aleph_slot_stats_t stats;
    int has_token = aleph_store_get(cred->slot, token, &meta);
    json_t *o = json_object();

    aleph_store_stats(cred->slot, now, &stats);
    json_object_set_new(o, "credential", json_string(cred->fingerprint));
    json_object_set_new(o, "client_id", json_string(cred->req.client_id));
    json_object_set_new(o, "token_url", json_string(cred->req.token_url));
    json_object_set_new(o, "audience", cred->req.audience
                        ? json_string(cred->req.audience) : json_null());
    json_object_set_new(o, "scope", cred->req.scope
                        ? json_string(cred->req.scope) : json_null());
    json_object_set_new(o, "state", json_string(token_state(has_token, &meta,
                                                            &stats, now)));
    json_object_set_new(o, "token", has_token
                        ? json_string(aleph_fingerprint(r->pool, token, meta.token_len))
                        : json_null());
    json_object_set_new(o, "obtained", time_json(r->pool, has_token ? meta.obtained : 0));
    json_object_set_new(o, "expires_in", has_token
                        ? json_integer((meta.expires_at - now) / ALEPH_SEC)
                        : json_null());
    json_object_set_new(o, "token_requests", json_integer((json_int_t)stats.fetches));
    json_object_set_new(o, "failures", json_integer((json_int_t)stats.failures));
    json_object_set_new(o, "last_error", stats.last_error[0]
                        ? json_string(stats.last_error) : json_null());
    json_object_set_new(o, "last_error_time", time_json(r->pool, stats.last_error_time));
    /* The token was only needed for its fingerprint. */
    memset(token, 0, ALEPH_TOKEN_MAX_LEN + 1);
    return o;
}

static int aleph_status_handler(request_rec *r)
{
    apr_array_header_t *creds = aleph_scopes_creds();
    aleph_store_t *store = aleph_store_current();
    apr_hash_t *seen = apr_hash_make(r->pool);
    char *token = apr_palloc(r->pool, ALEPH_TOKEN_MAX_LEN + 1);
    apr_int64_t now = aleph_clock_now();
    json_t *doc, *list;
    char *text;
    int i;

    if (!r->handler || strcmp(r->handler, ALEPH_STATUS_HANDLER)) {
        return DECLINED;
    }
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    doc = json_object();
    list = json_array();
    for (i = 0; creds && i < creds->nelts; i++) {
        const aleph_cred_t *cred = APR_ARRAY_IDX(creds, i, aleph_cred_t *);

        if (!cred->slot || apr_hash_get(seen, cred->key, ALEPH_KEY_LEN)) {
            continue;
        }
        apr_hash_set(seen, cred->key, ALEPH_KEY_LEN, cred);
        json_array_append_new(list, credential_json(r, cred, token, now));
    }
    json_object_set_new(doc, "module", json_string("mod_aleph"));
    json_object_set_new(doc, "store_slots_used", json_integer(store ? aleph_store_used(store) : 0));
    json_object_set_new(doc, "store_slots", json_integer(store ? aleph_store_capacity(store) : 0));
    json_object_set_new(doc, "credentials", list);
    text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(doc);
    if (!text) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only) {
        ap_rputs(text, r);
        ap_rputs("\n", r);
    }
    free(text);
    return OK;
}

void aleph_status_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_handler(aleph_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
}
