/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * Unit tests of aleph_origin.c: the origins (scheme://host:port) that
 * AlephUpstream lists and that a forwarded request is compared with.
 */
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "aleph_origin.h"
#include "tap.h"

/* The origin of url, or NULL when refused. */
static const char *origin(apr_pool_t *p, const char *url, int bare)
{
    char buf[ALEPH_ORIGIN_MAX];

    return aleph_origin_of(url, bare, buf) ? apr_pstrdup(p, buf) : NULL;
}

static void test_normalised(apr_pool_t *p)
{
    is(origin(p, "https://api.satellogic.com", 1), "https://api.satellogic.com:443",
       "https: default port 443");
    is(origin(p, "http://api.satellogic.com/", 1), "http://api.satellogic.com:80",
       "http: default port 80, a lone / is allowed");
    is(origin(p, "wss://api.example", 0), "wss://api.example:443", "wss: port 443");
    is(origin(p, "ws://api.example", 0), "ws://api.example:80", "ws: port 80");
    is(origin(p, "https://api.satellogic.com:443/", 1), "https://api.satellogic.com:443",
       "an explicit default port is the same origin");
    is(origin(p, "http://127.0.0.1:8080", 1), "http://127.0.0.1:8080", "explicit port kept");
    is(origin(p, "HTTPS://API.Satellogic.COM", 1), "https://api.satellogic.com:443",
       "scheme and host are case-folded");
    is(origin(p, "balancer://aleph", 1), "balancer://aleph", "balancer: no port");
}

static void test_ipv6(apr_pool_t *p)
{
    is(origin(p, "http://[::1]:8080/x", 0), "http://[::1]:8080", "IPv6 literal with a port");
    is(origin(p, "https://[2001:DB8::1]/", 1), "https://[2001:db8::1]:443",
       "IPv6 literal: default port, folded; its colons are not a port");
    is(origin(p, "http://[::1]:/", 1), NULL, "IPv6 literal with an empty port");
}

static void test_request_urls(apr_pool_t *p)
{
    is(origin(p, "http://127.0.0.1:9/echo/aleph/x?y=1", 0), "http://127.0.0.1:9",
       "a backend URL: path and query are not part of the origin");
    is(origin(p, "https://api.satellogic.com?x=1", 0), "https://api.satellogic.com:443",
       "query right after the host");
    is(origin(p, "https://api.satellogic.com#frag", 0), "https://api.satellogic.com:443",
       "fragment right after the host");
    is(origin(p, "http://host/path@evil.example/", 0), "http://host:80",
       "an @ in the path is not user information");
}

static void test_refused(apr_pool_t *p)
{
    is(origin(p, "http://api.satellogic.com@evil.example/", 0), NULL,
       "user information refused: the host is evil.example");
    is(origin(p, "https://user:pass@api.satellogic.com", 1), NULL,
       "user:password refused");
    is(origin(p, "https://api.satellogic.com/v1", 1), NULL, "bare: a path is refused");
    is(origin(p, "https://api.satellogic.com/?x", 1), NULL, "bare: a query is refused");
    is(origin(p, "https://api.satellogic.com?x", 1), NULL, "bare: a query without / is refused");
    ok(origin(p, "https://api.satellogic.com/v1", 0) != NULL,
       "not bare: the same URL has an origin");
    is(origin(p, "api.satellogic.com", 0), NULL, "no scheme");
    is(origin(p, "://api.satellogic.com", 0), NULL, "empty scheme");
    is(origin(p, "http:///path", 0), NULL, "no host");
    is(origin(p, "http://:8080/", 0), NULL, "a port without a host");
    is(origin(p, "http://host:/", 0), NULL, "an empty port");
    is(origin(p, "http://host:8o/", 0), NULL, "a port that is not a number");
}

static void test_overlong(apr_pool_t *p)
{
    /* The buffer is followed by a guard that must stay untouched. */
    struct {
        char buf[ALEPH_ORIGIN_MAX];
        char guard[2 * ALEPH_ORIGIN_MAX];
    } out;
    char fits[ALEPH_ORIGIN_MAX];
    char *host = apr_palloc(p, ALEPH_ORIGIN_MAX + 1);
    char *scheme = apr_palloc(p, 2 * ALEPH_ORIGIN_MAX);
    const char *url;
    apr_size_t i, hlen;
    int untouched = 1;

    memset(host, 'a', ALEPH_ORIGIN_MAX);
    host[ALEPH_ORIGIN_MAX] = '\0';
    is(origin(p, apr_pstrcat(p, "https://", host, NULL), 0), NULL,
       "a host longer than ALEPH_ORIGIN_MAX is refused");

    /* The longest that fits: "https://" + host + ":443" + NUL. */
    hlen = ALEPH_ORIGIN_MAX - strlen("https://") - strlen(":443") - 1;
    host[hlen] = '\0';
    ok(aleph_origin_of(apr_pstrcat(p, "https://", host, NULL), 0, fits)
       && strlen(fits) == ALEPH_ORIGIN_MAX - 1, "the longest origin that fits is accepted");
    host[hlen] = 'a';
    host[hlen + 1] = '\0';
    is(origin(p, apr_pstrcat(p, "https://", host, NULL), 0), NULL,
       "one character more is refused");

    memset(scheme, 'x', 2 * ALEPH_ORIGIN_MAX - 1);
    scheme[2 * ALEPH_ORIGIN_MAX - 1] = '\0';
    url = apr_pstrcat(p, scheme, "://h", NULL);
    memset(out.guard, 'G', sizeof(out.guard));
    ok(!aleph_origin_of(url, 1, out.buf), "an overlong scheme is refused");
    for (i = 0; i < sizeof(out.guard); i++) {
        untouched &= out.guard[i] == 'G';
    }
    ok(untouched, "... without writing past the buffer");
}

int main(void)
{
    apr_pool_t *p;

    apr_initialize();
    apr_pool_create(&p, NULL);
    test_normalised(p);
    test_ipv6(p);
    test_request_urls(p);
    test_refused(p);
    test_overlong(p);
    apr_pool_destroy(p);
    apr_terminate();
    return done_testing();
}
