/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * Start-up work on every scope: compute the configuration a request in
 * each server, <Location> and <Proxy> section will see, refuse incomplete
 * ones (so that `apache2 -t` fails, not requests), read the secrets and
 * resolve each credential once, so that requests only follow a pointer.
 */
#include <apr_hash.h>
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <mod_proxy.h>

#include "aleph_credential.h"
#include "aleph_origin.h"
#include "aleph_secret.h"
#include "mod_aleph.h"

APLOG_USE_MODULE(aleph);

/* This generation's credentials (aleph_cred_t *), in pconf. */
static apr_array_header_t *creds;

apr_array_header_t *aleph_scopes_creds(void)
{
    return creds;
}

typedef struct {
    apr_pool_t *pconf;
    apr_pool_t *ptemp;
    apr_hash_t *secrets;          /* spec -> secret, read once per start */
    int errors;
} scan_t;

static int same_str(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

/* Whether cred is what configuration c describes, compared by value. */
static int same_credential(const aleph_cred_t *cred, const aleph_dir_conf_t *c)
{
    const aleph_cred_conf_t *a = &cred->src->cc, *b = &c->cc;
    aleph_token_request_t ra, rb;
    aleph_cache_policy_t pa, pb;

    /* Compare effective values: an unset field equals its default. */
    aleph_conf_token_request(cred->src, &ra);
    aleph_conf_token_request(c, &rb);
    aleph_conf_policy(cred->src, &pa);
    aleph_conf_policy(c, &pb);
    return same_str(ra.token_url, rb.token_url) && same_str(ra.client_id, rb.client_id)
        && same_str(a->secret_spec, b->secret_spec)
        && same_str(ra.audience, rb.audience) && same_str(ra.scope, rb.scope)
        && same_str(ra.transport.ca_file, rb.transport.ca_file)
        && same_str(ra.transport.ca_path, rb.transport.ca_path)
        && same_str(ra.transport.client_cert, rb.transport.client_cert)
        && same_str(ra.transport.client_key, rb.transport.client_key)
        && same_str(ra.transport.proxy, rb.transport.proxy)
        && ra.body == rb.body && ra.client_auth == rb.client_auth
        && ra.transport.timeout == rb.transport.timeout && pa.refresh_margin == pb.refresh_margin
        && pa.backoff_max == pb.backoff_max;
}

static const char *load_secret(scan_t *sc, const char *spec, const char *scope)
{
    const char *secret = apr_hash_get(sc->secrets, spec, APR_HASH_KEY_STRING);
    const char *error = NULL;
    int others_can_read;

    if (secret) {
        return secret;
    }
    if (aleph_secret_load(sc->pconf, spec, &secret, &error, &others_can_read)
        != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, NULL,
                     "ALEPH00002: %s: AlephClientSecret: %s; fix it, or give another "
                     "file:PATH or env:NAME", scope, error);
        sc->errors++;
        return NULL;
    }
    if (others_can_read) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_WARNING, 0, NULL,
                     "ALEPH00003: %s: AlephClientSecret: the file %s can be read "
                     "by other users; make it readable by root only (chmod 600)",
                     scope, spec + 5);
    }
    apr_pool_cleanup_register(sc->pconf, secret, aleph_secret_wipe,
                              apr_pool_cleanup_null);
    apr_hash_set(sc->secrets, spec, APR_HASH_KEY_STRING, secret);
    return secret;
}

/* Resolves the credential eff describes, sharing one per distinct credential. */
static const aleph_cred_t *resolve(scan_t *sc, const aleph_dir_conf_t *eff,
                                   const char *scope)
{
    const char *origin;
    aleph_token_request_t req;
    aleph_cred_t *cred;
    int i;

    for (i = 0; i < creds->nelts; i++) {
        cred = APR_ARRAY_IDX(creds, i, aleph_cred_t *);
        if (same_credential(cred, eff)) {
            return cred;
        }
    }
    aleph_conf_token_request(eff, &req);
    req.client_secret = load_secret(sc, eff->cc.secret_spec, scope);
    if (!req.client_secret) {
        return NULL;
    }
    cred = apr_pcalloc(sc->pconf, sizeof(*cred));
    cred->req = req;
    cred->secret_spec = eff->cc.secret_spec;
    cred->scope_name = scope;
    cred->src = eff;
    aleph_conf_policy(eff, &cred->policy);
    if ((origin = aleph_origin_https(sc->pconf, req.audience)) != NULL) {
        cred->audience_origins = apr_array_make(sc->pconf, 2, sizeof(const char *));
        aleph_origin_add(cred->audience_origins, origin);
    }
    aleph_credential_key(&req, cred->key);
    cred->fingerprint = aleph_fingerprint(sc->pconf, cred->key, sizeof(cred->key));
    APR_ARRAY_PUSH(creds, aleph_cred_t *) = cred;
    return cred;
}

/* Checks one scope; section is its own configuration, base its server's. */
static void check_scope(scan_t *sc, aleph_dir_conf_t *section,
                        const aleph_dir_conf_t *base, const char *scope)
{
    const aleph_dir_conf_t *eff = section == base ? base
        : aleph_merge_dir_conf(sc->pconf, (void *)base, section);
    const aleph_cred_t *cred;

    section->cred = NULL;       /* NULL inherits the enclosing scope's */
    if ((section == base || aleph_conf_sets_credential(section))
        && eff->cc.client_id && eff->cc.secret_spec) {
        section->cred = resolve(sc, eff, scope);
        if (!section->cred) {
            return;
        }
    }
    cred = section->cred ? section->cred : eff->cred;
    if (eff->auth == 1 && cred && !eff->upstreams && !cred->audience_origins) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_WARNING, 0, NULL,
                     "ALEPH00022: %s: AlephAuth On without AlephUpstream, and the "
                     "audience is not an https URL: tokens go wherever this scope "
                     "proxies to; list the allowed origins with AlephUpstream", scope);
    }
    if (eff->auth == 1 && (!eff->cc.client_id || !eff->cc.secret_spec)) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, NULL,
                     "ALEPH00001: %s: AlephAuth On needs %s; add it to this "
                     "scope or an enclosing one", scope,
                     !eff->cc.client_id ? "AlephClientID" : "AlephClientSecret");
        sc->errors++;
    }
}

static const char *server_name(apr_pool_t *p, server_rec *s)
{
    if (!s->is_virtual) {
        return "server config";
    }
    return apr_psprintf(p, "<VirtualHost %s:%u>",
                        s->server_hostname ? s->server_hostname : "*",
                        s->addrs ? (unsigned)s->addrs->host_port : 0);
}

/* A section's path as written: the core keeps it for <Location>, mod_proxy for <Proxy>. */
static const char *section_path(ap_conf_vector_t *sec, module *proxy)
{
    const core_dir_config *cd = ap_get_core_module_config(sec);
    const proxy_dir_conf *pd;

    if (cd && cd->d) {
        return cd->d;
    }
    pd = proxy ? ap_get_module_config(sec, proxy) : NULL;
    return pd && pd->p ? pd->p : "?";
}

static void check_sections(scan_t *sc, apr_array_header_t *sections,
                           const aleph_dir_conf_t *base, const char *kind,
                           const char *where, module *proxy)
{
    ap_conf_vector_t **sec;
    int i;

    if (!sections) {
        return;
    }
    sec = (ap_conf_vector_t **)sections->elts;
    for (i = 0; i < sections->nelts; i++) {
        aleph_dir_conf_t *c = ap_get_module_config(sec[i], &aleph_module);

        if (c) {
            check_scope(sc, c, base, apr_psprintf(sc->pconf, "<%s %s> in %s", kind,
                                                  section_path(sec[i], proxy), where));
        }
    }
}

int aleph_scopes_check(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    module *proxy = ap_find_linked_module("mod_proxy.c");
    scan_t sc;

    sc.pconf = pconf;
    sc.ptemp = ptemp;
    sc.secrets = apr_hash_make(ptemp);
    sc.errors = 0;
    creds = apr_array_make(pconf, 4, sizeof(aleph_cred_t *));
    for (; s; s = s->next) {
        aleph_dir_conf_t *base = ap_get_module_config(s->lookup_defaults, &aleph_module);
        core_server_config *core = ap_get_core_module_config(s->module_config);
        const char *where = server_name(pconf, s);

        check_scope(&sc, base, base, where);
        check_sections(&sc, core->sec_url, base, "Location", where, proxy);
        if (proxy) {
            proxy_server_conf *ps = ap_get_module_config(s->module_config, proxy);
            check_sections(&sc, ps->sec_proxy, base, "Proxy", where, proxy);
        }
    }
    return sc.errors ? HTTP_INTERNAL_SERVER_ERROR : OK;
}

int aleph_scopes_bind(apr_pool_t *pconf, server_rec *s, aleph_store_t *store)
{
    int i;

    for (i = 0; i < creds->nelts; i++) {
        aleph_cred_t *cred = APR_ARRAY_IDX(creds, i, aleph_cred_t *);

        cred->slot = aleph_store_slot(store, cred->key);
        if (!cred->slot) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                         "ALEPH00004: AlephCacheSize %u is too small for the "
                         "credentials configured; raise it and restart",
                         aleph_store_capacity(store));
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                     "ALEPH00005: credential %s (client id %s, %s) first "
                     "configured in %s", cred->fingerprint, cred->req.client_id,
                     cred->req.token_url, cred->scope_name);
    }
    (void)pconf;
    return OK;
}

const aleph_cred_t *aleph_scopes_cred_for(request_rec *r, const aleph_dir_conf_t *c)
{
    const aleph_cred_t *cred = c->cred;
    int i;

    /* The usual case: the scope's own resolution, checked by identity. */
    if (cred && !memcmp(&cred->src->cc, &c->cc, sizeof(c->cc))) {
        return cred;
    }
    /* Sections combined at request time (nested <Location>s): by value. */
    for (i = 0; i < creds->nelts; i++) {
        cred = APR_ARRAY_IDX(creds, i, aleph_cred_t *);
        if (same_credential(cred, c)) {
            return cred;
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  "ALEPH00006: the Aleph credential directives that apply to %s "
                  "combine sections in a way not checked at start-up; set "
                  "AlephClientID, AlephClientSecret and the token request "
                  "directives together in one scope", r->uri);
    return NULL;
}
