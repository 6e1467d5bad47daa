#!/usr/bin/env perl
# Hostile token endpoints: every way a token endpoint can answer badly is
# refused with 503, a stable code, Retry-After and a tagged log line, and
# the request is never forwarded; the lenient cases (odd but usable
# expires_in) are accepted. One scope per case (t/conf/extra.conf.in,
# <Location /hostile/NAME/>, client id t-h-NAME), one request per case:
# a second request within AlephBackoffMax would only see the backoff.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Time::HiRes qw(time);
use AlephTest qw(fake_url token_calls api_calls log_mark log_since json_body by_client_id);

plan skip_all => 'needs the fake Aleph (run t/run-tests.sh)' unless fake_url();

# name, expected client status, "error" code (503) or undef (accepted),
# text the ALEPH00010 line must contain.
my @cases = (
    [nonjson     => 503, 'token_response_not_json',        'is not valid JSON'],
    [html        => 503, 'token_response_not_json',        'is not valid JSON'],
    [empty       => 503, 'token_response_not_json',        'is not valid JSON'],
    [array       => 503, 'token_response_not_json',        'is not a JSON object'],
    [notoken     => 503, 'token_response_no_access_token', 'has no access_token string'],
    [emptytoken  => 503, 'token_response_no_access_token', 'has no access_token string'],
    [numtoken    => 503, 'token_response_no_access_token', 'has no access_token string'],
    [bigtoken    => 503, 'token_response_too_large',       'larger than 65536 bytes'],
    [crlf        => 503, 'token_response_invalid_token',   'not allowed in an RFC 6750 bearer token'],
    [space       => 503, 'token_response_invalid_token',   'not allowed in an RFC 6750 bearer token'],
    # jansson refuses \u0000 in strings, so the whole body is not JSON.
    [nul         => 503, 'token_response_not_json',        'is not valid JSON'],
    [expneg      => 503, 'token_response_invalid_expires_in', 'not a positive number of seconds'],
    [expzero     => 503, 'token_response_invalid_expires_in', 'not a positive number of seconds'],
    [expfrac     => 200],
    [expstr      => 200],
    [expabsent   => 200],
    [exphuge     => 200],
    [exphugereal => 200],
    [expword     => 503, 'token_response_invalid_expires_in', 'not a positive number of seconds'],
    [notbearer   => 503, 'token_response_not_bearer',      'token_type is not Bearer'],
    [huge        => 503, 'token_response_too_large',       'larger than 65536 bytes'],
    [s400        => 503, 'token_endpoint_oauth_error',     'HTTP 400 with OAuth error "invalid_request". Description: Missing audience'],
    [s401        => 503, 'token_endpoint_oauth_error',     'HTTP 401 with OAuth error "invalid_client". Description: Client authentication failed'],
    [s403        => 503, 'token_endpoint_oauth_error',     'HTTP 403 with OAuth error "access_denied". Description: Client is blocked'],
    [s500        => 503, 'token_endpoint_oauth_error',     'HTTP 500 with OAuth error "server_error". Description: Internal failure'],
    [s503        => 503, 'token_endpoint_oauth_error',     'HTTP 503 with OAuth error "temporarily_unavailable". Description: Try later'],
    [plain500    => 503, 'token_endpoint_http_error',      'answered HTTP 500.'],
    [oauth200    => 503, 'token_endpoint_oauth_error',     'HTTP 200 with OAuth error "access_denied"'],
    [reset       => 503, 'token_endpoint_unreachable',     'could not be reached'],
    [down        => 503, 'token_endpoint_unreachable',     'could not be reached'],
    [hang        => 503, 'token_endpoint_timeout',         'did not answer in time'],
    [drip        => 503, 'token_endpoint_timeout',         'did not answer in time'],
    [redirect    => 503, 'token_endpoint_http_error',      'HTTP 302 and redirects are not followed'],
);
# AlephTimeout 2 in these scopes: the answer comes after about 2 s.
my %slow = (hang => 1, drip => 1);

my $mark = log_mark();

for my $case (@cases) {
    my ($name, $status, $code, $text) = @$case;
    my $t0 = time;
    my $res = GET "/hostile/$name/x";
    my $elapsed = time - $t0;
    my $body = json_body($res);

    is($res->code, $status, "$name: status $status") or diag($res->as_string);
    is(token_calls("t-h-$name"), 1, "$name: one token request");
    if ($slow{$name}) {
        ok($elapsed >= 1.5 && $elapsed <= 4.5,
           sprintf("$name: answered after AlephTimeout (%.1f s)", $elapsed));
    }
    else {
        ok($elapsed < 1.5, sprintf("$name: answered at once (%.2f s)", $elapsed));
    }

    if (!defined $code) {
        is(ref $body && $body->{headers}{authorizationtoken}, "Bearer tok-t-h-$name-1",
           "$name: accepted, the token is forwarded");
        is(api_calls("/echo/hostile/$name/"), 1, "$name: forwarded once");
        next;
    }
    is(ref $body && $body->{error}, $code, "$name: error $code");
    like($res->header('Content-Type') // '', qr{^application/json}, "$name: JSON body");
    like($res->header('Retry-After') // '', qr/^[1-9][0-9]*$/, "$name: Retry-After");
    is(api_calls("/echo/hostile/$name/"), 0, "$name: nothing forwarded");
    like(log_since($mark),
         qr/ALEPH00010: token request for credential \w+ \(client id t-h-\Q$name\E\) to \S+ failed: \Q$code: \E[^\n]*\Q$text\E/,
         "$name: ALEPH00010 says what the endpoint answered");
}

# Odd expires_in values that are accepted get a sane lifetime.
my %cred = %{ by_client_id(json_body(GET('/aleph-status'))) };
my %lifetime = (expfrac => [290, 300], expstr => [290, 300],
                expabsent => [3500, 3600],
                exphuge => [30 * 86400 - 100, 30 * 86400],
                exphugereal => [30 * 86400 - 100, 30 * 86400]);
for my $name (sort keys %lifetime) {
    my ($lo, $hi) = @{ $lifetime{$name} };
    my $left = $cred{"t-h-$name"} && $cred{"t-h-$name"}{expires_in};
    ok(defined $left && $left >= $lo && $left <= $hi,
       "$name: lifetime clamped into [$lo, $hi] s (" . ($left // 'none') . ")");
}

my $log = log_since($mark);
unlike($log, qr/X-Injected|AAAAAAAAAAAAAAAA|fake-secret/,
       'no token, injected header or secret in the error log');

# Nothing above crashed the server.
is(GET('/aleph/after-hostile')->code, 200, 'the server still forwards with a good token');
$log = log_since($mark);
unlike($log, qr/Segmentation fault|exit signal/, 'no child crashed');

done_testing();
