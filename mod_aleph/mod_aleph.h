/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * Declarations shared by the httpd glue (mod_aleph*.c). The portable core
 * (aleph_*.h) never includes this file.
 */
#ifndef MOD_ALEPH_H
#define MOD_ALEPH_H

#include <httpd.h>
#include <http_config.h>

#include "aleph_cache.h"
#include "aleph_store.h"
#include "aleph_token.h"

extern module AP_MODULE_DECLARE_DATA aleph_module;

#define ALEPH_PROVIDER_GROUP    "aleph_token"
#define ALEPH_PROVIDER_VERSION  "0"
#define ALEPH_STATUS_HANDLER    "aleph-status"
#define ALEPH_DEFAULT_CACHE_SIZE 64
#define ALEPH_DEFAULT_TOKEN_HEADER    "authorizationToken"
#define ALEPH_DEFAULT_CONTRACT_HEADER "X-Satellogic-Contract-Id"
/* Configuration sentinels: not set in this scope / automatic margin. */
#define ALEPH_UNSET             (-1)
#define ALEPH_MARGIN_AUTO       (-2)

/* A token source registered with ap_register_provider(). */
typedef struct {
    aleph_fetch_fn *fetch;
} aleph_provider_t;

/*
 * The fields that make up a credential: what the token request is and how
 * it is made. Kept together so that "is this the credential resolved at
 * start-up?" is one comparison. Ordered so that the struct has no padding.
 */
typedef struct {
    const char *token_url;
    const char *client_id;
    const char *secret_spec;
    const char *audience;         /* "" = none */
    const char *scope;            /* "" = none */
    const char *ca_file;
    const char *ca_path;
    const char *client_cert;
    const char *client_key;
    const char *token_proxy;      /* "" = none */
    apr_interval_time_t timeout;
    apr_interval_time_t refresh_margin;
    apr_interval_time_t backoff_max;
    int body;                     /* aleph_body_e */
    int client_auth;              /* aleph_client_auth_e */
} aleph_cred_conf_t;

/* Per-directory configuration. NULL / ALEPH_UNSET mean "unset, inherit". */
typedef struct {
    int auth;
    aleph_cred_conf_t cc;
    const char *token_header;
    const char *token_prefix;     /* with its trailing space; "" = bare */
    const char *contract;         /* "" = none; aleph_contract_auto = look it up */
    const char *contract_header;
    apr_array_header_t *upstreams;/* normalised origins (char *) */
    const char *contracts_url;
    /* Derived at start-up, not by a directive: */
    const struct aleph_cred_t *cred; /* set at start-up for each section */
} aleph_dir_conf_t;

/*
 * A resolved credential: the token request an effective configuration
 * describes, with its slot in the store. Built at start-up for every
 * scope, so that a request only follows a pointer.
 */
typedef struct aleph_cred_t {
    aleph_token_request_t req;
    const char *secret_spec;
    const char *scope_name;       /* where it was configured, for logs */
    unsigned char key[ALEPH_KEY_LEN];
    const char *fingerprint;      /* of key */
    aleph_slot_t *slot;
    aleph_cache_policy_t policy;
    /* Default upstreams: the https audience's origin (aleph_origin_add), or NULL. */
    apr_array_header_t *audience_origins;
    const aleph_dir_conf_t *src;  /* the effective configuration it came from */
} aleph_cred_t;

/* Server-wide settings (global scope only). */
typedef struct {
    int cache_size;               /* slots; 0 = unset */
} aleph_server_conf_t;

/* Handed from the decision to the injection and to the 401 retry. */
typedef struct {
    const char *token_header;
    const char *token_prefix;
    const char *token_value;      /* prefix + token */
    const char *contract_header;
    const char *contract;         /* NULL: none */
    const aleph_cred_t *cred;
    apr_uint32_t serial;          /* of the token sent */
    apr_time_t obtained;          /* when that token was obtained */
    int retry_owned;              /* the 401 retry handler runs (or retried) it */
} aleph_injection_t;

/* mod_aleph_config.c */
extern const command_rec aleph_cmds[];
void *aleph_create_dir_conf(apr_pool_t *p, char *dir);
void *aleph_merge_dir_conf(apr_pool_t *p, void *base, void *add);
void *aleph_create_server_conf(apr_pool_t *p, server_rec *s);
void *aleph_merge_server_conf(apr_pool_t *p, void *base, void *add);
/* Whether a scope sets any field of its own credential. */
int aleph_conf_sets_credential(const aleph_dir_conf_t *c);
/* Effective values, with defaults applied. */
const char *aleph_conf_token_url(const aleph_dir_conf_t *c);
const char *aleph_conf_token_header(const aleph_dir_conf_t *c);
const char *aleph_conf_token_prefix(const aleph_dir_conf_t *c);
/* The token request c describes, without its secret. */
void aleph_conf_token_request(const aleph_dir_conf_t *c, aleph_token_request_t *req);
const char *aleph_conf_contract_header(const aleph_dir_conf_t *c);
const char *aleph_conf_contracts_url(const aleph_dir_conf_t *c);
/* The value of contract for AlephContract auto, told apart by its address. */
extern const char aleph_contract_auto[];
void aleph_conf_policy(const aleph_dir_conf_t *c, aleph_cache_policy_t *policy);

/* mod_aleph_scopes.c: start-up resolution and checks of every scope */
int aleph_scopes_check(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
int aleph_scopes_bind(apr_pool_t *pconf, server_rec *s, aleph_store_t *store);
const aleph_cred_t *aleph_scopes_cred_for(request_rec *r, const aleph_dir_conf_t *c);
apr_array_header_t *aleph_scopes_creds(void);

/* mod_aleph_store.c: the store's lifetime inside httpd */
int aleph_store_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp, server_rec *s);
aleph_store_t *aleph_store_current(void);

/* mod_aleph_refresh.c: renewing tokens ahead of expiry in the background */
int aleph_refresh_start(apr_pool_t *pconf, server_rec *s);

/* mod_aleph_proxy.c: the decision and the injection */
void aleph_proxy_register_hooks(apr_pool_t *p);
/* Refuses a request with status and a JSON body {"error":code,"detail":detail}. */
int aleph_refuse(request_rec *r, int status, const char *code, const char *detail,
                 apr_interval_time_t retry_after);
/* One tagged line on a token request's outcome; r may be NULL. */
void aleph_log_fetch(server_rec *s, request_rec *r, const aleph_cred_t *cred,
                     const aleph_token_result_t *res);

/* mod_aleph_contract.c: AlephContract auto; OK with *contract set, or a refusal */
int aleph_contract_lookup(request_rec *r, const aleph_dir_conf_t *c,
                          const aleph_cred_t *cred, const char *token_header,
                          const char *token_value, const char **contract);

/* mod_aleph_retry.c: an upstream 401 discards the token; safe requests retry once */
void aleph_retry_register_hooks(apr_pool_t *p);

/* mod_aleph_status.c */
void aleph_status_register_hooks(apr_pool_t *p);

/* mod_aleph.c: the token source selected at start-up */
aleph_fetch_fn *aleph_provider_fetch(void);

#endif
