/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * AlephContract auto: the credential's one contract, looked up through
 * AlephContractsURL with the scope's token at first use, kept in the store
 * with the token; several or none refuse the request and say so in the log.
 */
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "aleph_contracts.h"
#include "aleph_policy.h"
#include "mod_aleph.h"

APLOG_USE_MODULE(aleph);

/* Contracts named in one log line when there are several; the rest are counted. */
#define ALEPH_CONTRACTS_LOGGED 20

/* "cont.a (Name A), cont.b (Name B)", for the administrator to pick from. */
static const char *contract_list(apr_pool_t *p, const apr_array_header_t *contracts)
{
    const char *list = "";
    int i;

    for (i = 0; i < contracts->nelts && i < ALEPH_CONTRACTS_LOGGED; i++) {
        const aleph_contract_t *c = &APR_ARRAY_IDX(contracts, i, aleph_contract_t);

        list = apr_psprintf(p, "%s%s%s (%s)", list, i ? ", " : "", c->contract_id, c->name);
    }
    if (i < contracts->nelts) {
        list = apr_psprintf(p, "%s and %d more (aleph contracts lists them all)", list,
                            contracts->nelts - i);
    }
    return list;
}

static void log_contract_lookup(request_rec *r, const aleph_cred_t *cred,
                                const char *url, const aleph_contract_answer_t *answer)
{
    const aleph_contracts_result_t *res = &answer->result;

    if (answer->found) {
        const aleph_contract_t *c = &APR_ARRAY_IDX(res->contracts, 0, aleph_contract_t);

        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "ALEPH00040: AlephContract auto: credential %s (client id %s) "
                      "uses %s (%s), its only contract at %s", cred->fingerprint,
                      cred->req.client_id, c->contract_id, c->name, url);
    }
    else if (!strcmp(answer->code, ALEPH_CONTRACT_AMBIGUOUS)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "ALEPH00041: AlephContract auto: credential %s (client id %s) has "
                      "%d contracts at %s; pick one and set it with AlephContract ID "
                      "instead of auto: %s", cred->fingerprint, cred->req.client_id,
                      res->contracts->nelts, url, contract_list(r->pool, res->contracts));
    }
    else if (!strcmp(answer->code, ALEPH_CONTRACT_NONE)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "ALEPH00042: AlephContract auto: credential %s (client id %s) has "
                      "no contracts at %s; check the credential with Satellogic, or set "
                      "AlephContract none where no contract is needed", cred->fingerprint,
                      cred->req.client_id, url);
    }
    else {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "ALEPH00043: AlephContract auto: the contracts request for "
                      "credential %s (client id %s) to %s failed: %s: %s Check "
                      "AlephContractsURL, or set AlephContract ID", cred->fingerprint,
                      cred->req.client_id, url, res->reason, res->detail);
    }
}

/* What a client is told when no contract can be had. */
static const char *contract_refusal(const char *code)
{
    if (!strcmp(code, ALEPH_CONTRACT_AMBIGUOUS)) {
        return "The credential has several contracts and the gateway has not been "
               "told which to use.";
    }
    if (!strcmp(code, ALEPH_CONTRACT_NONE)) {
        return "The credential has no contract.";
    }
    if (!strcmp(code, ALEPH_CONTRACT_PENDING)) {
        return "The contract lookup is taking too long.";
    }
    return "The credential's contract could not be looked up.";
}

/*
 * AlephContract auto: the credential's one contract, looked up with the
 * scope's token at first use and kept in the store; *contract points to it,
 * or the request is refused.
 */
int aleph_contract_lookup(request_rec *r, const aleph_dir_conf_t *c,
                          const aleph_cred_t *cred, const char *token_header,
                          const char *token_value, const char **contract)
{
    aleph_contracts_request_t req;
    aleph_contract_answer_t answer;
    char *id = apr_palloc(r->pool, ALEPH_CONTRACT_ID_MAX + 1);

    req.url = aleph_conf_contracts_url(c);
    req.token_header = token_header;
    req.token_value = token_value;
    req.transport = &cred->req.transport;
    aleph_cache_contract(r->pool, cred->slot, &req, aleph_contracts_fetch, &cred->policy,
                         id, &answer);
    if (answer.looked_up) {
        log_contract_lookup(r, cred, req.url, &answer);
    }
    if (answer.found) {
        *contract = id;
        return OK;
    }
    if (!strcmp(answer.code, ALEPH_CONTRACT_PENDING)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "ALEPH00044: gave up waiting for the contracts request of "
                      "credential %s (client id %s) after %" APR_TIME_T_FMT " ms; check "
                      "how fast %s answers, or raise AlephTimeout", cred->fingerprint,
                      cred->req.client_id, cred->policy.wait_max / 1000, req.url);
    }
    return aleph_refuse(r, HTTP_SERVICE_UNAVAILABLE, answer.code, contract_refusal(answer.code),
                        answer.retry_at ? answer.retry_at - aleph_clock_now() : ALEPH_SEC);
}
