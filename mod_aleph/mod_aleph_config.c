/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * The directive table and the create/merge of both configurations.
 * Every field follows one pattern: create leaves it unset (NULL or
 * ALEPH_UNSET), merge lets the inner scope win, readers apply defaults.
 */
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_uri.h>

#include <httpd.h>
#include <http_config.h>
#include <util_script.h>

#include "aleph_contracts.h"
#include "aleph_origin.h"
#include "aleph_policy.h"
#include "aleph_secret.h"
#include "mod_aleph.h"

#define ALEPH_DEFAULT_TOKEN_PREFIX    "Bearer "
#define ALEPH_MAX_CACHE_SIZE          4096

const char aleph_contract_auto[] = "auto";

/* Compared with memcmp: any padding would hold garbage. */
typedef char aleph_cred_conf_has_no_padding[
    sizeof(aleph_cred_conf_t) == 10 * sizeof(const char *)
    + 3 * sizeof(apr_interval_time_t) + 2 * sizeof(int) ? 1 : -1];

/* Every credential field unset: what create sets and merge compares with. */
static const aleph_cred_conf_t cred_conf_unset = {
    .timeout = ALEPH_UNSET,
    .refresh_margin = ALEPH_UNSET,
    .backoff_max = ALEPH_UNSET,
    .body = ALEPH_UNSET,
    .client_auth = ALEPH_UNSET,
};

void *aleph_create_dir_conf(apr_pool_t *p, char *dir)
{
    aleph_dir_conf_t *c = apr_pcalloc(p, sizeof(*c));

    (void)dir;
    c->auth = ALEPH_UNSET;
    c->cc = cred_conf_unset;
    return c;
}

int aleph_conf_sets_credential(const aleph_dir_conf_t *c)
{
    return memcmp(&c->cc, &cred_conf_unset, sizeof(c->cc)) != 0;
}

#define MERGE_PTR(f) m->f = add->f ? add->f : base->f
#define MERGE_VAL(f) m->f = add->f != ALEPH_UNSET ? add->f : base->f

void *aleph_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    const aleph_dir_conf_t *base = basev, *add = addv;
    aleph_dir_conf_t *m = apr_palloc(p, sizeof(*m));

    MERGE_VAL(auth);
    /* Most scopes set no credential field: inherit them in one copy. */
    if (!aleph_conf_sets_credential(add)) {
        m->cc = base->cc;
    }
    else {
        MERGE_PTR(cc.token_url);
        MERGE_PTR(cc.client_id);
        MERGE_PTR(cc.secret_spec);
        MERGE_PTR(cc.audience);
        MERGE_PTR(cc.scope);
        MERGE_PTR(cc.ca_file);
        MERGE_PTR(cc.ca_path);
        MERGE_PTR(cc.client_cert);
        MERGE_PTR(cc.client_key);
        MERGE_PTR(cc.token_proxy);
        MERGE_VAL(cc.timeout);
        MERGE_VAL(cc.refresh_margin);
        MERGE_VAL(cc.backoff_max);
        MERGE_VAL(cc.body);
        MERGE_VAL(cc.client_auth);
    }
    MERGE_PTR(token_header);
    MERGE_PTR(token_prefix);
    MERGE_PTR(contract);
    MERGE_PTR(contract_header);
    MERGE_PTR(upstreams);
    MERGE_PTR(contracts_url);
    MERGE_PTR(cred);
    return m;
}

void *aleph_create_server_conf(apr_pool_t *p, server_rec *s)
{
    aleph_server_conf_t *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
    c->cache_size = ALEPH_UNSET;
    return c;
}

void *aleph_merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    const aleph_server_conf_t *base = basev, *add = addv;
    aleph_server_conf_t *m = apr_palloc(p, sizeof(*m));

    MERGE_VAL(cache_size);
    return m;
}

const char *aleph_conf_token_url(const aleph_dir_conf_t *c)
{
    return c->cc.token_url ? c->cc.token_url : ALEPH_DEFAULT_TOKEN_URL;
}

const char *aleph_conf_token_header(const aleph_dir_conf_t *c)
{
    return c->token_header ? c->token_header : ALEPH_DEFAULT_TOKEN_HEADER;
}

const char *aleph_conf_token_prefix(const aleph_dir_conf_t *c)
{
    return c->token_prefix ? c->token_prefix : ALEPH_DEFAULT_TOKEN_PREFIX;
}

const char *aleph_conf_contract_header(const aleph_dir_conf_t *c)
{
    return c->contract_header ? c->contract_header : ALEPH_DEFAULT_CONTRACT_HEADER;
}

const char *aleph_conf_contracts_url(const aleph_dir_conf_t *c)
{
    return c->contracts_url ? c->contracts_url : ALEPH_DEFAULT_CONTRACTS_URL;
}

/* "none" (and "") turn an optional value off; NULL keeps the default. */
static const char *opt_value(const char *v, const char *dflt)
{
    if (!v) {
        return dflt;
    }
    return *v ? v : NULL;
}

void aleph_conf_token_request(const aleph_dir_conf_t *c, aleph_token_request_t *req)
{
    aleph_http_transport_t *t = &req->transport;

    req->token_url = aleph_conf_token_url(c);
    req->client_id = c->cc.client_id;
    req->client_secret = NULL;
    req->audience = opt_value(c->cc.audience, ALEPH_DEFAULT_AUDIENCE);
    req->scope = opt_value(c->cc.scope, NULL);
    req->body = c->cc.body != ALEPH_UNSET ? c->cc.body : ALEPH_BODY_JSON;
    req->client_auth = c->cc.client_auth != ALEPH_UNSET ? c->cc.client_auth
                                                     : ALEPH_CLIENT_AUTH_BODY;
    t->timeout = c->cc.timeout != ALEPH_UNSET ? c->cc.timeout : ALEPH_DEFAULT_TIMEOUT;
    t->connect_timeout = t->timeout;
    t->ca_file = c->cc.ca_file;
    t->ca_path = c->cc.ca_path;
    t->client_cert = c->cc.client_cert;
    t->client_key = c->cc.client_key;
    t->proxy = opt_value(c->cc.token_proxy, NULL);
}

void aleph_conf_policy(const aleph_dir_conf_t *c, aleph_cache_policy_t *policy)
{
    policy->refresh_margin = c->cc.refresh_margin != ALEPH_UNSET ? c->cc.refresh_margin
                                                             : ALEPH_MARGIN_AUTO;
    policy->backoff_max = c->cc.backoff_max != ALEPH_UNSET ? c->cc.backoff_max
                                                       : ALEPH_DEFAULT_BACKOFF_MAX;
    policy->wait_max = c->cc.timeout != ALEPH_UNSET ? c->cc.timeout : ALEPH_DEFAULT_TIMEOUT;
}

/* Directive handlers. Each refuses bad input with a message naming itself. */

static int is_token_char(int ch)
{
    /* RFC 9110 tchar: what a header field name may contain. */
    return apr_isalnum(ch) || (ch && ap_strchr_c("!#$%&'*+-.^_`|~", ch));
}

static const char *check_field_name(cmd_parms *cmd, const char *v)
{
    const char *s;

    if (!*v) {
        return apr_psprintf(cmd->pool, "%s: the header name must not be empty",
                            cmd->cmd->name);
    }
    for (s = v; *s; s++) {
        if (!is_token_char((unsigned char)*s)) {
            return apr_psprintf(cmd->pool, "%s: '%s' is not a valid header name",
                                cmd->cmd->name, v);
        }
    }
    return NULL;
}

/* Visible ASCII and inner spaces only: the value ends up in a header. */
static const char *check_field_value(cmd_parms *cmd, const char *v, const char *what)
{
    const char *s;

    for (s = v; *s; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) {
            return apr_psprintf(cmd->pool, "%s: the %s contains characters "
                                "not allowed in a header value", cmd->cmd->name, what);
        }
    }
    return NULL;
}

static const char *check_url(cmd_parms *cmd, const char *v)
{
    apr_uri_t uri;

    if (apr_uri_parse(cmd->pool, v, &uri) != APR_SUCCESS || !uri.scheme
        || !uri.hostname || !*uri.hostname
        || (strcasecmp(uri.scheme, "https") && strcasecmp(uri.scheme, "http"))) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not an absolute http(s) URL",
                            cmd->cmd->name, v);
    }
    return NULL;
}

static const char *set_seconds(cmd_parms *cmd, const char *arg,
                               apr_interval_time_t min, apr_interval_time_t max,
                               apr_interval_time_t *out)
{
    apr_interval_time_t t;

    if (ap_timeout_parameter_parse(arg, &t, "s") != APR_SUCCESS || t < min || t > max) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a time between %"
                            APR_INT64_T_FMT "ms and %" APR_INT64_T_FMT "s "
                            "(seconds, or a number with an ms suffix)",
                            cmd->cmd->name, arg, min / 1000, max / ALEPH_SEC);
    }
    *out = t;
    return NULL;
}

#define DIR_CONF(v) aleph_dir_conf_t *c = (v)

static const char *cmd_auth(cmd_parms *cmd, void *dc, int on)
{
    DIR_CONF(dc);
    (void)cmd;
    c->auth = on;
    return NULL;
}

static const char *cmd_token_url(cmd_parms *cmd, void *dc, const char *v)
{
    DIR_CONF(dc);
    const char *err = check_url(cmd, v);

    c->cc.token_url = v;
    return err;
}

static const char *cmd_client_id(cmd_parms *cmd, void *dc, const char *v)
{
    DIR_CONF(dc);

    if (!*v) {
        return apr_psprintf(cmd->pool, "%s: the client id must not be empty",
                            cmd->cmd->name);
    }
    c->cc.client_id = v;
    return check_field_value(cmd, v, "client id");
}

static const char *cmd_client_secret(cmd_parms *cmd, void *dc, const char *v)
{
    DIR_CONF(dc);

    /* Never echo v: it may be the secret itself. */
    if (!aleph_secret_spec_valid(v)) {
        return apr_psprintf(cmd->pool, "%s: a literal secret is refused; give "
                            "file:PATH (a file only the server can read) or "
                            "env:NAME (an environment variable)", cmd->cmd->name);
    }
    c->cc.secret_spec = v;
    return NULL;
}

static const char *cmd_audience(cmd_parms *cmd, void *dc, const char *v)
{
    DIR_CONF(dc);

    c->cc.audience = strcasecmp(v, "none") ? v : "";
    return check_field_value(cmd, v, "audience");
}

static const char *cmd_scope(cmd_parms *cmd, void *dc, const char *v)
{
    DIR_CONF(dc);

    c->cc.scope = strcasecmp(v, "none") ? v : "";
    return check_field_value(cmd, v, "scope");
}

static const char *keyword(cmd_parms *cmd, const char *v, const char *a,
                           const char *b, int *out)
{
    if (!strcasecmp(v, a)) {
        *out = 0;
    }
    else if (!strcasecmp(v, b)) {
        *out = 1;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: unknown keyword '%s' (expected %s or %s)",
                            cmd->cmd->name, v, a, b);
    }
    return NULL;
}

static const char *cmd_token_request(cmd_parms *cmd, void *dc, const char *v)
{
    DIR_CONF(dc);
    return keyword(cmd, v, "json", "form", &c->cc.body);
}

static const char *cmd_client_auth(cmd_parms *cmd, void *dc, const char *v)
{
    DIR_CONF(dc);
    return keyword(cmd, v, "body", "basic", &c->cc.client_auth);
}

/*
 * RAW_ARGS: httpd's TAKE12 and TAKE_ARGV both treat an empty argument ("")
 * as the end of the line, and "" is how the bare token is asked for.
 */
static const char *cmd_token_header(cmd_parms *cmd, void *dc, const char *args)
{
    DIR_CONF(dc);
    const char *name = ap_getword_conf(cmd->pool, &args);
    const char *prefix = NULL;
    const char *err;

    while (apr_isspace(*args)) {
        args++;
    }
    if (*args) {
        prefix = ap_getword_conf(cmd->pool, &args);
    }
    while (apr_isspace(*args)) {
        args++;
    }
    if (!*name || *args) {
        return apr_psprintf(cmd->pool, "%s takes a header name and an optional "
                            "prefix", cmd->cmd->name);
    }
    if ((err = check_field_name(cmd, name)) != NULL) {
        return err;
    }
    c->token_header = name;
    if (prefix) {
        if ((err = check_field_value(cmd, prefix, "prefix")) != NULL) {
            return err;
        }
        /* The separating space is added once, here, not per request. */
        c->token_prefix = *prefix ? apr_pstrcat(cmd->pool, prefix, " ", NULL) : "";
    }
    return NULL;
}

static const char *cmd_contract(cmd_parms *cmd, void *dc, const char *v)
{
    DIR_CONF(dc);

    if (!*v) {
        return apr_psprintf(cmd->pool, "%s: give a contract id, auto or none",
                            cmd->cmd->name);
    }
    if (!strcasecmp(v, "auto")) {
        c->contract = aleph_contract_auto;
        return NULL;
    }
    c->contract = strcasecmp(v, "none") ? v : "";
    return check_field_value(cmd, v, "contract id");
}

static const char *cmd_contracts_url(cmd_parms *cmd, void *dc, const char *v)
{
    DIR_CONF(dc);
    const char *err = check_url(cmd, v);

    c->contracts_url = v;
    return err;
}

static const char *cmd_contract_header(cmd_parms *cmd, void *dc, const char *v)
{
    DIR_CONF(dc);

    c->contract_header = v;
    return check_field_name(cmd, v);
}

static const char *cmd_timeout(cmd_parms *cmd, void *dc, const char *v)
{
    DIR_CONF(dc);
    return set_seconds(cmd, v, ALEPH_MIN_TIMEOUT, ALEPH_MAX_TIMEOUT, &c->cc.timeout);
}

static const char *cmd_refresh_margin(cmd_parms *cmd, void *dc, const char *v)
{
    DIR_CONF(dc);

    if (!strcasecmp(v, "auto")) {
        c->cc.refresh_margin = ALEPH_MARGIN_AUTO;
        return NULL;
    }
    return set_seconds(cmd, v, 0, 86400 * ALEPH_SEC, &c->cc.refresh_margin);
}

static const char *cmd_backoff_max(cmd_parms *cmd, void *dc, const char *v)
{
    DIR_CONF(dc);
    return set_seconds(cmd, v, ALEPH_BACKOFF_BASE, 3600 * ALEPH_SEC, &c->cc.backoff_max);
}

/* A file or folder the server reads at start-up; relative to ServerRoot. */
static const char *set_path(cmd_parms *cmd, const char *arg, apr_filetype_e type,
                            const char **out)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    apr_finfo_t fi;
    apr_status_t rv;

    if (!path) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a valid path", cmd->cmd->name, arg);
    }
    rv = apr_stat(&fi, path, APR_FINFO_TYPE, cmd->pool);
    if (rv != APR_SUCCESS || fi.filetype != type) {
        return apr_psprintf(cmd->pool, "%s: %s is not a readable %s", cmd->cmd->name,
                            path, type == APR_DIR ? "folder" : "file");
    }
    *out = path;
    return NULL;
}

static const char *cmd_ca_file(cmd_parms *cmd, void *dc, const char *v)
{
    DIR_CONF(dc);
    return set_path(cmd, v, APR_REG, &c->cc.ca_file);
}

static const char *cmd_ca_path(cmd_parms *cmd, void *dc, const char *v)
{
    DIR_CONF(dc);
    return set_path(cmd, v, APR_DIR, &c->cc.ca_path);
}

static const char *cmd_client_cert(cmd_parms *cmd, void *dc, const char *v)
{
    DIR_CONF(dc);
    return set_path(cmd, v, APR_REG, &c->cc.client_cert);
}

static const char *cmd_client_key(cmd_parms *cmd, void *dc, const char *v)
{
    DIR_CONF(dc);
    return set_path(cmd, v, APR_REG, &c->cc.client_key);
}

static const char *cmd_token_proxy(cmd_parms *cmd, void *dc, const char *v)
{
    DIR_CONF(dc);

    if (!strcasecmp(v, "none")) {
        c->cc.token_proxy = "";
        return NULL;
    }
    c->cc.token_proxy = v;
    return check_url(cmd, v);
}

static const char *cmd_upstream(cmd_parms *cmd, void *dc, const char *v)
{
    DIR_CONF(dc);
    char origin[ALEPH_ORIGIN_MAX];

    if (!aleph_origin_of(v, 1, origin)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not an origin "
                            "(scheme://host[:port], without a path)", cmd->cmd->name, v);
    }
    /* Repeated lines add up within one scope; an inner scope's list replaces it. */
    if (!c->upstreams) {
        c->upstreams = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    aleph_origin_add(c->upstreams, apr_pstrdup(cmd->pool, origin));
    return NULL;
}

static const char *cmd_cache_size(cmd_parms *cmd, void *dc, const char *v)
{
    aleph_server_conf_t *sc = ap_get_module_config(cmd->server->module_config,
                                                   &aleph_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    char *end;
    long n;

    (void)dc;
    if (err) {
        return err;
    }
    n = strtol(v, &end, 10);
    if (*end || n < 1 || n > ALEPH_MAX_CACHE_SIZE) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a number of credentials "
                            "between 1 and %d", cmd->cmd->name, v, ALEPH_MAX_CACHE_SIZE);
    }
    sc->cache_size = (int)n;
    return NULL;
}

#define DIR_SCOPE (RSRC_CONF | ACCESS_CONF)

const command_rec aleph_cmds[] = {
    AP_INIT_FLAG("AlephAuth", cmd_auth, NULL, DIR_SCOPE,
                 "On to add Aleph credentials to requests proxied from this scope"),
    AP_INIT_TAKE1("AlephTokenURL", cmd_token_url, NULL, DIR_SCOPE,
                  "OAuth 2.0 token endpoint URL"),
    AP_INIT_TAKE1("AlephClientID", cmd_client_id, NULL, DIR_SCOPE,
                  "OAuth 2.0 client id"),
    AP_INIT_TAKE1("AlephClientSecret", cmd_client_secret, NULL, DIR_SCOPE,
                  "where the client secret is read from: file:PATH or env:NAME"),
    AP_INIT_TAKE1("AlephAudience", cmd_audience, NULL, DIR_SCOPE,
                  "audience parameter of the token request, or none"),
    AP_INIT_TAKE1("AlephScope", cmd_scope, NULL, DIR_SCOPE,
                  "scope parameter of the token request, or none"),
    AP_INIT_TAKE1("AlephTokenRequest", cmd_token_request, NULL, DIR_SCOPE,
                  "body encoding of the token request: json or form"),
    AP_INIT_TAKE1("AlephClientAuth", cmd_client_auth, NULL, DIR_SCOPE,
                  "client credentials in the body or as HTTP Basic: body or basic"),
    AP_INIT_RAW_ARGS("AlephTokenHeader", cmd_token_header, NULL, DIR_SCOPE,
                     "header the token is sent in, and its scheme prefix"),
    AP_INIT_TAKE1("AlephContract", cmd_contract, NULL, DIR_SCOPE,
                  "contract id sent upstream, auto (the credential's only one), or none"),
    AP_INIT_TAKE1("AlephContractsURL", cmd_contracts_url, NULL, DIR_SCOPE,
                  "where AlephContract auto lists the credential's contracts"),
    AP_INIT_TAKE1("AlephContractHeader", cmd_contract_header, NULL, DIR_SCOPE,
                  "header the contract id is sent in"),
    AP_INIT_TAKE1("AlephTimeout", cmd_timeout, NULL, DIR_SCOPE,
                  "time limit of a token request, and of waiting for one"),
    AP_INIT_TAKE1("AlephRefreshMargin", cmd_refresh_margin, NULL, DIR_SCOPE,
                  "how long before expiry a token is renewed, or auto"),
    AP_INIT_TAKE1("AlephBackoffMax", cmd_backoff_max, NULL, DIR_SCOPE,
                  "longest wait between failed token requests"),
    AP_INIT_TAKE1("AlephCACertificateFile", cmd_ca_file, NULL, DIR_SCOPE,
                  "CA certificates (PEM) that verify the token endpoint"),
    AP_INIT_TAKE1("AlephCACertificatePath", cmd_ca_path, NULL, DIR_SCOPE,
                  "folder of hashed CA certificates that verify the token endpoint"),
    AP_INIT_TAKE1("AlephClientCertificateFile", cmd_client_cert, NULL, DIR_SCOPE,
                  "client certificate (PEM) for mutual TLS with the token endpoint"),
    AP_INIT_TAKE1("AlephClientKeyFile", cmd_client_key, NULL, DIR_SCOPE,
                  "private key (PEM) of the client certificate"),
    AP_INIT_TAKE1("AlephTokenProxy", cmd_token_proxy, NULL, DIR_SCOPE,
                  "outbound HTTP(S) proxy for token requests, or none"),
    AP_INIT_ITERATE("AlephUpstream", cmd_upstream, NULL, DIR_SCOPE,
                    "origins (scheme://host[:port]) the token may be sent to"),
    AP_INIT_TAKE1("AlephCacheSize", cmd_cache_size, NULL, RSRC_CONF,
                  "number of credentials the shared token store holds"),
    {NULL}
};
