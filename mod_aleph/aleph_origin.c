/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include "aleph_origin.h"

static const char *default_port(const char *scheme, apr_size_t len)
{
    if ((len == 5 && !strncmp(scheme, "https", 5)) || (len == 3 && !strncmp(scheme, "wss", 3))) {
        return "443";
    }
    if ((len == 4 && !strncmp(scheme, "http", 4)) || (len == 2 && !strncmp(scheme, "ws", 2))) {
        return "80";
    }
    return NULL;
}

int aleph_origin_of(const char *url, int bare, char *buf)
{
    const char *sep = strstr(url, "://"), *host, *end, *port = NULL, *dflt;
    apr_size_t slen, hlen, plen, i, n = 0;

    if (!sep || sep == url) {
        return 0;
    }
    slen = (apr_size_t)(sep - url);
    host = sep + 3;
    end = host + strcspn(host, "/?#");
    if (bare && *end && strcmp(end, "/") != 0) {
        return 0;
    }
    if (memchr(host, '@', (apr_size_t)(end - host))) {
        return 0;
    }
    /* A port follows the last ':' outside an IPv6 literal's brackets. */
    for (i = (apr_size_t)(end - host); i > 0; i--) {
        if (host[i - 1] == ']') {
            break;
        }
        if (host[i - 1] == ':') {
            port = host + i;
            break;
        }
    }
    hlen = port ? (apr_size_t)(port - 1 - host) : (apr_size_t)(end - host);
    plen = port ? (apr_size_t)(end - port) : 0;
    /* The scheme is copied first: it alone may not overrun buf. */
    if (hlen == 0 || (port && plen == 0) || slen + 3 + hlen >= ALEPH_ORIGIN_MAX) {
        return 0;
    }
    for (i = 0; i < slen; i++) {
        buf[i] = (char)apr_tolower(url[i]);
    }
    dflt = port ? NULL : default_port(buf, slen);
    if (!port && !dflt) {
        dflt = "";          /* e.g. balancer://name: no port */
    }
    if (slen + 3 + hlen + 1 + (port ? plen : strlen(dflt)) >= ALEPH_ORIGIN_MAX) {
        return 0;
    }
    n = slen;
    memcpy(buf + n, "://", 3);
    n += 3;
    for (i = 0; i < hlen; i++) {
        buf[n++] = (char)apr_tolower(host[i]);
    }
    if (port) {
        for (i = 0; i < plen; i++) {
            if (!apr_isdigit(port[i])) {
                return 0;
            }
        }
        buf[n++] = ':';
        memcpy(buf + n, port, plen);
        n += plen;
    }
    else if (*dflt) {
        buf[n++] = ':';
        memcpy(buf + n, dflt, strlen(dflt));
        n += strlen(dflt);
    }
    buf[n] = '\0';
    return 1;
}

const char *aleph_origin_https(apr_pool_t *p, const char *url)
{
    char buf[ALEPH_ORIGIN_MAX];

    if (!url || strncasecmp(url, "https://", 8) || !aleph_origin_of(url, 0, buf)) {
        return NULL;
    }
    return apr_pstrdup(p, buf);
}

void aleph_origin_add(apr_array_header_t *list, const char *origin)
{
    const char *port = strrchr(origin, ':');
    const char *sep = strstr(origin, "://");

    APR_ARRAY_PUSH(list, const char *) = origin;
    if (port && sep && port > sep + 2
        && ((!strncmp(origin, "https://", 8) && !strcmp(port, ":443"))
            || (!strncmp(origin, "http://", 7) && !strcmp(port, ":80"))
            || (!strncmp(origin, "wss://", 6) && !strcmp(port, ":443"))
            || (!strncmp(origin, "ws://", 5) && !strcmp(port, ":80")))) {
        APR_ARRAY_PUSH(list, const char *) =
            apr_pstrmemdup(list->pool, origin, (apr_size_t)(port - origin));
    }
}

int aleph_origin_allowed(const apr_array_header_t *list, const char *url)
{
    char origin[ALEPH_ORIGIN_MAX];
    int i;

    for (i = 0; i < list->nelts; i++) {
        const char *o = APR_ARRAY_IDX(list, i, const char *);
        apr_size_t n = strlen(o);

        if (!strncasecmp(url, o, n) && (url[n] == '\0' || url[n] == '/'
                                        || url[n] == '?' || url[n] == '#')) {
            return 1;
        }
    }
    if (!aleph_origin_of(url, 0, origin)) {
        return 0;
    }
    for (i = 0; i < list->nelts; i++) {
        if (!strcmp(origin, APR_ARRAY_IDX(list, i, const char *))) {
            return 1;
        }
    }
    return 0;
}
