/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * The aleph command: an administrator's view of what the module does with
 * a credential, without a server. `aleph token` obtains a token exactly as
 * mod_aleph would and shows its lifetime and fingerprint; `aleph contracts`
 * lists the credential's contracts, to pick one for AlephContract.
 * Options mirror the directives and have the same defaults. Portable core:
 * APR, libcurl and jansson only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_getopt.h>
#include <apr_strings.h>
#include <apr_uri.h>

#include <curl/curl.h>

#include "aleph_contracts.h"
#include "aleph_credential.h"
#include "aleph_http.h"
#include "aleph_policy.h"
#include "aleph_secret.h"
#include "aleph_token.h"

/* Exit codes, as for every command-line tool of the project. */
#define EXIT_OK     0
#define EXIT_REMOTE 1           /* the token or contracts endpoint failed */
#define EXIT_USAGE  2           /* usage or configuration error */

#define DEFAULT_API "https://api.satellogic.com"
#define TOKEN_HEADER "authorizationToken"
#define TOKEN_PREFIX "Bearer "

/* Long-only options: values above any option letter. */
enum {
    OPT_TOKEN_URL = 256, OPT_CLIENT_ID, OPT_CLIENT_SECRET, OPT_AUDIENCE, OPT_SCOPE,
    OPT_REQUEST, OPT_CLIENT_AUTH, OPT_TIMEOUT, OPT_SHOW_TOKEN, OPT_API,
    OPT_CONTRACTS_URL, OPT_HELP
};

/* An option: what --help shows, and what apr_getopt_long is given. */
typedef struct {
    const char *name;
    int id;
    const char *value;            /* what it takes; NULL: a flag */
    const char *help;
} cli_option_t;

static const cli_option_t credential_options[] = {
    { "token-url", OPT_TOKEN_URL, "URL",
      "token endpoint (" ALEPH_DEFAULT_TOKEN_URL ")" },
    { "client-id", OPT_CLIENT_ID, "ID", "OAuth 2.0 client id (required)" },
    { "client-secret", OPT_CLIENT_SECRET, "file:PATH|env:NAME",
      "where the client secret is read from (required)" },
    { "audience", OPT_AUDIENCE, "URI|none", "audience parameter (" ALEPH_DEFAULT_AUDIENCE ")" },
    { "scope", OPT_SCOPE, "S|none", "scope parameter (none)" },
    { "request", OPT_REQUEST, "json|form", "body of the token request (json)" },
    { "client-auth", OPT_CLIENT_AUTH, "body|basic",
      "client credentials in the body or as HTTP Basic (body)" },
    { "timeout", OPT_TIMEOUT, "SECONDS", "limit of each request, 0.1 to 300 (10)" },
    { NULL, 0, NULL, NULL }
};

static const cli_option_t token_options[] = {
    { "show-token", OPT_SHOW_TOKEN, NULL, "print the access token itself too" },
    { "help", OPT_HELP, NULL, "show this help" },
    { NULL, 0, NULL, NULL }
};

static const cli_option_t contracts_options[] = {
    { "api", OPT_API, "URL", "Aleph API (" DEFAULT_API ")" },
    { "contracts-url", OPT_CONTRACTS_URL, "URL",
      "contracts endpoint, as AlephContractsURL (the API's /contracts)" },
    { "help", OPT_HELP, NULL, "show this help" },
    { NULL, 0, NULL, NULL }
};

typedef struct {
    const char *command;          /* "aleph token", for messages */
    aleph_token_request_t req;
    const char *secret_spec;
    int show_token;
    const char *api;
    const char *contracts_url;
} cli_t;

typedef struct {
    const char *name;
    const char *summary;
    const char *description;
    const cli_option_t *options;  /* besides the credential's */
    int (*run)(apr_pool_t *p, cli_t *cli);
} command_t;

static int run_token(apr_pool_t *p, cli_t *cli);
static int run_contracts(apr_pool_t *p, cli_t *cli);

static const command_t commands[] = {
    { "token", "obtain an access token and show its lifetime and fingerprint",
      "Obtains an access token with the OAuth 2.0 client-credentials grant, as\n"
      "mod_aleph does, and prints its lifetime, its fingerprint (as on the\n"
      "aleph-status page) and, with --show-token only, the token itself.\n",
      token_options, run_token },
    { "contracts", "list the credential's contracts (GET /contracts)",
      "Obtains an access token, then lists the contracts of the credential from\n"
      "Aleph's GET /contracts: one line per contract, its id and its name. Pick\n"
      "one for AlephContract.\n",
      contracts_options, run_contracts },
};
#define NCOMMANDS ((int)(sizeof(commands) / sizeof(commands[0])))

static void usage(FILE *out)
{
    int i;

    fputs("Usage: aleph COMMAND [OPTIONS]\n\n"
          "Checks a mod_aleph credential against the token endpoint and the Aleph API.\n\n"
          "Commands:\n", out);
    for (i = 0; i < NCOMMANDS; i++) {
        fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
    }
    fputs("\nRun 'aleph COMMAND --help' for a command's options.\n"
          "Exit status: 0 success, 1 the remote side failed, 2 usage or configuration error.\n",
          out);
}

static void print_options(const cli_option_t *opts)
{
    for (; opts->name; opts++) {
        char usage[64];

        snprintf(usage, sizeof(usage), "--%s%s%s", opts->name, opts->value ? " " : "",
                 opts->value ? opts->value : "");
        printf("  %-34s %s\n", usage, opts->help);
    }
}

static void command_usage(const command_t *cmd)
{
    printf("Usage: aleph %s --client-id ID --client-secret file:PATH|env:NAME [OPTIONS]\n\n"
           "%s\nOptions (defaults as the module's directives):\n",
           cmd->name, cmd->description);
    print_options(credential_options);
    print_options(cmd->options);
    printf("\nThe secret is never printed. Exit status: 0 success, 1 the remote side "
           "failed,\n2 usage or configuration error.\n");
}

static int usage_error(const cli_t *cli, const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", cli->command);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry '%s --help'.\n", cli->command);
    return EXIT_USAGE;
}

static int is_http_url(apr_pool_t *p, const char *v)
{
    apr_uri_t uri;

    return apr_uri_parse(p, v, &uri) == APR_SUCCESS && uri.scheme && uri.hostname
        && *uri.hostname
        && (!strcasecmp(uri.scheme, "https") || !strcasecmp(uri.scheme, "http"));
}

/* Printable ASCII only, as the directives require: values go into requests. */
static int is_printable(const char *v)
{
    for (; *v; v++) {
        if ((unsigned char)*v < 0x20 || (unsigned char)*v > 0x7e) {
            return 0;
        }
    }
    return 1;
}

/* "none" turns an optional parameter off, as in the directives. */
static const char *optional_value(const char *v)
{
    return strcasecmp(v, "none") ? v : NULL;
}

static int parse_timeout(const char *v, apr_interval_time_t *out)
{
    char *end;
    double secs = strtod(v, &end);

    if (end == v || *end || !(secs * ALEPH_SEC >= ALEPH_MIN_TIMEOUT)
        || !(secs * ALEPH_SEC <= ALEPH_MAX_TIMEOUT)) {
        return 0;
    }
    *out = (apr_interval_time_t)(secs * ALEPH_SEC);
    return 1;
}

/* One option into cli; EXIT_OK or a usage error. */
static int take_option(apr_pool_t *p, cli_t *cli, int opt, const char *arg)
{
    aleph_token_request_t *req = &cli->req;

    switch (opt) {
    case OPT_TOKEN_URL:
        if (!is_http_url(p, arg)) {
            return usage_error(cli, "--token-url: '%s' is not an absolute http(s) URL", arg);
        }
        req->token_url = arg;
        break;
    case OPT_CLIENT_ID:
        if (!*arg || !is_printable(arg)) {
            return usage_error(cli, "--client-id: give a non-empty printable id%s", "");
        }
        req->client_id = arg;
        break;
    case OPT_CLIENT_SECRET:
        /* Never echo arg: it may be the secret itself. */
        if (!aleph_secret_spec_valid(arg)) {
            return usage_error(cli, "--client-secret: a literal secret is refused; give "
                               "file:PATH or env:NAME%s", "");
        }
        cli->secret_spec = arg;
        break;
    case OPT_AUDIENCE:
    case OPT_SCOPE:
        if (!is_printable(arg)) {
            return usage_error(cli, "--%s: use printable ASCII only",
                               opt == OPT_AUDIENCE ? "audience" : "scope");
        }
        if (opt == OPT_AUDIENCE) {
            req->audience = optional_value(arg);
        }
        else {
            req->scope = optional_value(arg);
        }
        break;
    case OPT_REQUEST:
        if (strcmp(arg, "json") && strcmp(arg, "form")) {
            return usage_error(cli, "--request: '%s' is neither json nor form", arg);
        }
        req->body = strcmp(arg, "json") ? ALEPH_BODY_FORM : ALEPH_BODY_JSON;
        break;
    case OPT_CLIENT_AUTH:
        if (strcmp(arg, "body") && strcmp(arg, "basic")) {
            return usage_error(cli, "--client-auth: '%s' is neither body nor basic", arg);
        }
        req->client_auth = strcmp(arg, "body") ? ALEPH_CLIENT_AUTH_BASIC
                                               : ALEPH_CLIENT_AUTH_BODY;
        break;
    case OPT_TIMEOUT:
        if (!parse_timeout(arg, &req->transport.timeout)) {
            return usage_error(cli, "--timeout: '%s' is not a number of seconds "
                               "between 0.1 and 300", arg);
        }
        req->transport.connect_timeout = req->transport.timeout;
        break;
    case OPT_SHOW_TOKEN:
        cli->show_token = 1;
        break;
    case OPT_API:
    case OPT_CONTRACTS_URL:
        if (!is_http_url(p, arg)) {
            return usage_error(cli, "'%s' is not an absolute http(s) URL", arg);
        }
        if (opt == OPT_API) {
            cli->api = arg;
        }
        else {
            cli->contracts_url = arg;
        }
        break;
    }
    return EXIT_OK;
}

/* Fills req->client_secret from the spec; EXIT_OK or a configuration error. */
static int load_secret(apr_pool_t *p, cli_t *cli)
{
    const char *error = NULL;
    int others_can_read = 0;

    if (!cli->req.client_id) {
        return usage_error(cli, "--client-id is required%s", "");
    }
    if (!cli->secret_spec) {
        return usage_error(cli, "--client-secret is required (file:PATH or env:NAME)%s", "");
    }
    if (aleph_secret_load(p, cli->secret_spec, &cli->req.client_secret, &error,
                          &others_can_read) != APR_SUCCESS) {
        fprintf(stderr, "%s: --client-secret: %s; fix it or give another file:PATH "
                "or env:NAME\n", cli->command, error);
        return EXIT_USAGE;
    }
    if (others_can_read) {
        fprintf(stderr, "%s: warning: the secret file %s can be read by other users; "
                "make it readable by its owner only (chmod 600)\n", cli->command,
                cli->secret_spec + 5);
    }
    return EXIT_OK;
}

/* A token for cli's credential into res; EXIT_OK or why not. */
static int obtain_token(apr_pool_t *p, cli_t *cli, aleph_token_result_t *res)
{
    if (aleph_token_fetch(p, &cli->req, res) == APR_SUCCESS) {
        return EXIT_OK;
    }
    fprintf(stderr, "%s: the token request to %s failed: %s: %s%s%s\n", cli->command,
            cli->req.token_url, res->reason, res->detail ? res->detail : "",
            res->oauth_error_description ? " Description: " : "",
            res->oauth_error_description ? res->oauth_error_description : "");
    /* A request that could not even be built is a local problem. */
    return strcmp(res->reason, ALEPH_R_INTERNAL) ? EXIT_REMOTE : EXIT_USAGE;
}

static int run_token(apr_pool_t *p, cli_t *cli)
{
    unsigned char key[ALEPH_KEY_LEN];
    char expires_at[APR_RFC822_DATE_LEN];
    aleph_token_result_t res;
    int rc = obtain_token(p, cli, &res);

    if (rc != EXIT_OK) {
        return rc;
    }
    aleph_credential_key(&cli->req, key);
    apr_rfc822_date(expires_at, apr_time_now() + apr_time_from_sec(res.expires_in));
    printf("token_url:    %s\n"
           "client_id:    %s\n"
           "credential:   %s\n"
           "token:        %s\n"
           "expires_in:   %" APR_INT64_T_FMT "\n"
           "expires_at:   %s\n",
           cli->req.token_url, cli->req.client_id,
           aleph_fingerprint(p, key, sizeof(key)),
           aleph_fingerprint(p, res.access_token, res.token_len),
           res.expires_in, expires_at);
    if (cli->show_token) {
        printf("access_token: %s\n", res.access_token);
    }
    return EXIT_OK;
}

static int run_contracts(apr_pool_t *p, cli_t *cli)
{
    aleph_contracts_request_t creq;
    aleph_contracts_result_t cres;
    aleph_token_result_t res;
    int rc = obtain_token(p, cli, &res), width = 0, i;

    if (rc != EXIT_OK) {
        return rc;
    }
    memset(&creq, 0, sizeof(creq));
    creq.url = cli->contracts_url;
    if (!creq.url) {
        apr_size_t n = strlen(cli->api);

        while (n > 0 && cli->api[n - 1] == '/') {
            n--;
        }
        creq.url = apr_pstrcat(p, apr_pstrmemdup(p, cli->api, n), "/contracts", NULL);
    }
    creq.token_header = TOKEN_HEADER;
    creq.token_value = apr_pstrcat(p, TOKEN_PREFIX, res.access_token, NULL);
    creq.transport = &cli->req.transport;
    if (aleph_contracts_fetch(p, &creq, &cres) != APR_SUCCESS) {
        fprintf(stderr, "%s: the contracts request to %s failed: %s: %s\n", cli->command,
                creq.url, cres.reason, cres.detail);
        return strcmp(cres.reason, ALEPH_C_INTERNAL) ? EXIT_REMOTE : EXIT_USAGE;
    }
    if (cres.contracts->nelts == 0) {
        fprintf(stderr, "%s: the credential has no contracts at %s\n", cli->command,
                creq.url);
    }
    for (i = 0; i < cres.contracts->nelts; i++) {
        int len = (int)strlen(APR_ARRAY_IDX(cres.contracts, i, aleph_contract_t).contract_id);

        width = len > width ? len : width;
    }
    for (i = 0; i < cres.contracts->nelts; i++) {
        const aleph_contract_t *c = &APR_ARRAY_IDX(cres.contracts, i, aleph_contract_t);

        printf("%-*s  %s\n", width, c->contract_id, c->name);
    }
    return EXIT_OK;
}

/* What apr_getopt_long takes: the credential's options, then the command's. */
static apr_getopt_option_t *getopt_options(apr_pool_t *p, const command_t *cmd)
{
    const cli_option_t *const lists[] = { credential_options, cmd->options };
    apr_getopt_option_t *opts, *o;
    const cli_option_t *c;
    int i, n = 1;

    for (i = 0; i < 2; i++) {
        for (c = lists[i]; c->name; c++) {
            n++;
        }
    }
    /* Zeroed: the last entry ends the list. */
    o = opts = apr_pcalloc(p, n * sizeof(*opts));
    for (i = 0; i < 2; i++) {
        for (c = lists[i]; c->name; c++, o++) {
            o->name = c->name;
            o->optch = c->id;
            o->has_arg = c->value != NULL;
            o->description = c->help;
        }
    }
    return opts;
}

static int run_command(apr_pool_t *p, const command_t *cmd, int argc, const char *const *argv)
{
    const apr_getopt_option_t *opts = getopt_options(p, cmd);
    const char **args = apr_pmemdup(p, argv, (argc + 1) * sizeof(*argv));
    apr_getopt_t *os;
    const char *arg;
    apr_status_t rv;
    cli_t cli;
    int opt, rc;

    memset(&cli, 0, sizeof(cli));
    cli.command = apr_pstrcat(p, "aleph ", cmd->name, NULL);
    cli.req.token_url = ALEPH_DEFAULT_TOKEN_URL;
    cli.req.audience = ALEPH_DEFAULT_AUDIENCE;
    cli.req.body = ALEPH_BODY_JSON;
    cli.req.client_auth = ALEPH_CLIENT_AUTH_BODY;
    cli.req.transport.timeout = ALEPH_DEFAULT_TIMEOUT;
    cli.req.transport.connect_timeout = ALEPH_DEFAULT_TIMEOUT;
    cli.api = DEFAULT_API;

    /* APR's option errors start with argv[0]: make it the command's name. */
    args[0] = cli.command;
    apr_getopt_init(&os, p, argc, args);
    while ((rv = apr_getopt_long(os, opts, &opt, &arg)) == APR_SUCCESS) {
        if (opt == OPT_HELP) {
            command_usage(cmd);
            return EXIT_OK;
        }
        if ((rc = take_option(p, &cli, opt, arg)) != EXIT_OK) {
            return rc;
        }
    }
    if (rv != APR_EOF) {
        fprintf(stderr, "Try '%s --help'.\n", cli.command);
        return EXIT_USAGE;
    }
    if (os->ind < argc) {
        return usage_error(&cli, "unexpected argument '%s'", argv[os->ind]);
    }
    if ((rc = load_secret(p, &cli)) != EXIT_OK) {
        return rc;
    }
    rc = cmd->run(p, &cli);
    aleph_http_wipe(cli.req.client_secret, strlen(cli.req.client_secret));
    return rc;
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *p;
    int i, rc = EXIT_USAGE;

    if (apr_app_initialize(&argc, &argv, NULL) != APR_SUCCESS
        || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fputs("aleph: cannot initialise APR or libcurl\n", stderr);
        return EXIT_USAGE;
    }
    apr_pool_create(&p, NULL);
    if (argc < 2) {
        usage(stderr);
    }
    else if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        rc = EXIT_OK;
    }
    else {
        for (i = 0; i < NCOMMANDS && strcmp(argv[1], commands[i].name); i++) {
        }
        if (i < NCOMMANDS) {
            rc = run_command(p, &commands[i], argc - 1, argv + 1);
        }
        else {
            fprintf(stderr, "aleph: unknown command '%s'\nTry 'aleph --help'.\n", argv[1]);
        }
    }
    apr_pool_destroy(p);
    curl_global_cleanup();
    apr_terminate();
    return rc;
}
