# Failures of the token endpoint: the request is refused with a 503 JSON
# error and Retry-After, nothing is forwarded, the error log says why (and
# never shows the secret), and further attempts back off.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Apache::TestUtil;
use Time::HiRes qw(time sleep);
use lib 't/lib';
use AlephTest qw(token_calls api_calls json_body log_mark log_since);

# scope, client id, expected error code, what the log line must also say
my @cases = (
    [down      => 't-down',      'token_endpoint_unreachable',        qr/could not be reached/],
    [denied    => 't-denied',    'token_endpoint_oauth_error',        qr/OAuth error "invalid_client"/],
    [garbage   => 't-garbage',   'token_response_not_json',           qr/HTTP 200/],
    [crlf      => 't-crlf',      'token_response_invalid_token',      qr/RFC 6750/],
    [notbearer => 't-notbearer', 'token_response_not_bearer',         qr/token_type/],
    [http500   => 't-http500',   'token_endpoint_http_error',         qr/HTTP 500/],
    [redirect  => 't-redirect',  'token_endpoint_http_error',         qr/HTTP 302 and redirects are not followed/],
    [bigtoken  => 't-bigtoken',  'token_response_too_large',          qr/larger than \d+ bytes/],
    [notoken   => 't-notoken',   'token_response_no_access_token',    qr/access_token/],
    [oauth200  => 't-oauth200',  'token_endpoint_oauth_error',        qr/OAuth error "access_denied"/],
    [badexpiry => 't-badexpiry', 'token_response_invalid_expires_in', qr/expires_in/],
    [hang      => 't-hang',      'token_endpoint_timeout',            qr/did not answer in time/],
);
my $per_case = 23;
my $backoff_recovery = 7;

plan tests => @cases * $per_case + $backoff_recovery + 3, need_lwp;

my $log_offset = log_mark();

sub new_log { log_since($log_offset) }
# The ALEPH00010 lines about one client id.
sub fetch_failures {
    my $cid = shift;
    return grep { /ALEPH00010: .*\(client id \Q$cid\E\)/ } split /\n/, new_log();
}

# Checks one 503 refusal; 7 tests.
sub refused {
    my ($res, $code, $what) = @_;
    my $text = $res->as_string;
    is $res->code, 503, "$what: 503";
    my $ra = $res->header('Retry-After') // '';
    ok $ra =~ /^\d+$/ && $ra > 0, "$what: Retry-After is a positive integer ($ra)";
    is $res->content_type, 'application/json', "$what: Content-Type application/json";
    my $obj = json_body($res);
    is $obj->{error}, $code, "$what: error $code";
    ok defined $obj->{detail} && !ref $obj->{detail} && length $obj->{detail},
        "$what: a detail";
    unlike $text, qr/fake-secret/, "$what: the secret is not in the response";
    unlike $text, qr/X-Injected|tok-/, "$what: no token material in the response";
}

for my $case (@cases) {
    my ($scope, $cid, $code, $log_re) = @$case;
    my $calls0 = token_calls($cid);

    my $t0 = time;
    my $res = GET "/$scope/item?x=1";
    my $took = time - $t0;
    refused($res, $code, "/$scope/");
    is api_calls("/echo/$scope/"), 0, "/$scope/: nothing forwarded upstream";
    # Generous: AlephTimeout is 5 s (1 s for /hang/).
    cmp_ok $took, '<', 15, "/$scope/: refused without waiting forever";
    my $calls1 = token_calls($cid);
    if ($scope eq 'down') {
        is $calls1, 0, "/$scope/: the token endpoint is unreachable";
    }
    else {
        is $calls1, $calls0 + 1, "/$scope/: one token request";
    }
    my @lines = fetch_failures($cid);
    is scalar(@lines), 1, "/$scope/: one ALEPH00010 line in the error log";
    my $line = $lines[0] // '';
    # What follows "failed:" (the token URL before it has its own words).
    my ($why) = $line =~ / failed: (.*)$/;
    like $why // '', qr/^\Q$code\E: /, "/$scope/: the log line names the reason $code";
    like $why // '', $log_re, "/$scope/: the log line says what the endpoint did";

    # Right away again: the failure is remembered, no new attempt.
    $res = GET "/$scope/item?x=2";
    refused($res, 'token_endpoint_backoff', "/$scope/ again");
    is token_calls($cid), $calls1, "/$scope/ again: no new token request while backing off";
    is scalar(fetch_failures($cid)), 1, "/$scope/ again: no new fetch attempt logged";
    is api_calls("/echo/$scope/"), 0, "/$scope/ again: nothing forwarded upstream";
}

# The backoff is bounded: AlephBackoffMax 2 and a first step of at most 1 s.
{
    my $calls = token_calls('t-denied');
    sleep 2.2;
    my $res = GET '/denied/item?x=3';
    is $res->code, 503, '/denied/ after the backoff: 503';
    my $obj = json_body($res);
    is $obj->{error}, 'token_endpoint_oauth_error', '/denied/ after the backoff: a new attempt';
    is token_calls('t-denied'), $calls + 1, '/denied/ after the backoff: one new token request';
    is scalar(fetch_failures('t-denied')), 2, '/denied/ after the backoff: logged';
    $res = GET '/denied/item?x=4';
    $obj = json_body($res);
    is $obj->{error}, 'token_endpoint_backoff', '/denied/ again: backing off again';
    cmp_ok $res->header('Retry-After') // 0, '<=', 2, 'Retry-After respects AlephBackoffMax 2';
    is token_calls('t-denied'), $calls + 1, '/denied/ again: no new token request';
}

my $log = new_log();
like $log, qr/ALEPH00010: .*\(client id t-denied\).* failed: .*Description: Client authentication failed/,
    'the OAuth error_description is logged';
unlike $log, qr/fake-secret/, 'the secret is never in the error log';
unlike $log, qr/^X-Injected/m, 'no header line injected into the error log';
