#!/usr/bin/env perl
# A failing token endpoint: backoff per credential, exponential up to
# AlephBackoffMax, one attempt per backoff step whatever the request rate,
# Retry-After from the endpoint honoured, 503 at once with the remaining
# backoff as Retry-After, a cached token used while the endpoint fails, and
# recovery without intervention. Scopes: <Location /outage/...> in
# t/conf/extra.conf.in; t/fake_aleph.py's /_mode breaks a working endpoint.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use LWP::UserAgent;
use POSIX qw(ceil);
use Time::HiRes qw(time sleep);
use AlephTest qw(fake_url fake_get token_calls api_calls json_body server_url);

plan skip_all => 'needs the fake Aleph (run t/run-tests.sh)' unless fake_url();

# Resolved once: the first resolution loads Apache::Test's configuration.
my $base = server_url();
# Token URL parameters that override a client id's own, or none to clear.
sub set_mode {
    my ($client_id, $query) = @_;
    fake_get("/_mode?client_id=$client_id" . (defined $query ? "&$query" : ''));
}

# One user agent per process (the load below forks).
my $ua;
sub get {
    my ($path) = @_;
    $ua ||= LWP::UserAgent->new(timeout => 30, keep_alive => 1);
    my $t0 = time;
    my $res = $ua->get($base . $path);
    my $body = json_body($res);
    my $headers = ref $body->{headers} eq 'HASH' ? $body->{headers} : {};
    return {
        t       => $t0,
        latency => time - $t0,
        code    => $res->code,
        error   => $body->{error} // '',
        retry   => scalar $res->header('Retry-After'),
        token   => $headers->{authorizationtoken} // '',
    };
}

# ---- load on a failing credential: one attempt per backoff step -------
{
    my ($procs, $each, $pause) = (4, 50, 0.06);    # ~200 requests in ~3 s
    my @pipes;
    for (1 .. $procs) {
        pipe(my $r, my $w) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            close $r;
            undef $ua;
            for (1 .. $each) {
                my $x = get('/outage/hammer/x');
                printf $w "%d %s %s %.4f %.4f\n", $x->{code}, $x->{error} || '-',
                    $x->{retry} // '-', $x->{latency}, $x->{t};
                sleep $pause;
            }
            close $w;
            POSIX::_exit(0);
        }
        close $w;
        push @pipes, $r;
    }
    my @answers;
    for my $r (@pipes) {
        push @answers, map { [split ' '] } <$r>;
        close $r;
    }
    1 while wait > 0;

    my $calls = token_calls('t-o-hammer');
    my %by_error;
    $by_error{ $_->[1] }++ for @answers;
    diag(sprintf "load: %d requests in ~%.0f s, %d token requests (%s)",
         scalar @answers, $each * $pause, $calls,
         join(', ', map { "$_ $by_error{$_}" } sort keys %by_error));
    is(scalar @answers, $procs * $each, 'every request was answered');
    is(scalar(grep { $_->[0] != 503 } @answers), 0, 'all refused with 503');
    is(scalar(grep { $_->[1] !~ /^token_endpoint_(http_error|backoff)$/ } @answers), 0,
       'codes: the failure itself, or the backoff');
    is(scalar(grep { ($_->[2] // '') ne '1' } @answers), 0,
       'Retry-After 1 with AlephBackoffMax 1');
    # A request that arrives while an attempt is in flight waits for it
    # (single flight); any other is refused at once.
    my @attempts = map { [$_->[4], $_->[4] + $_->[3]] }
                   grep { $_->[1] eq 'token_endpoint_http_error' } @answers;
    my @slow = grep {
        my ($s, $e) = ($_->[4], $_->[4] + $_->[3]);
        $_->[1] eq 'token_endpoint_backoff' && $_->[3] > 0.5
            && !grep { $_->[0] < $e && $s < $_->[1] } @attempts
    } @answers;
    is(scalar @slow, 0, 'refused at once during the backoff');
    ok($calls >= 3 && $calls <= 7,
       "the endpoint saw $calls requests: at most one per 0.5 s step, plus the first");
    is($by_error{token_endpoint_http_error} // 0, $calls,
       'each attempt answered one client with the cause; all others got the backoff');
    is(api_calls('/echo/outage/hammer/'), 0, 'nothing forwarded');

    # Backoff is per credential: another failing credential tries at once,
    # a working one is not affected.
    my $peer = get('/outage/peer/x');
    is($peer->{error}, 'token_endpoint_http_error', 'another credential makes its own attempt');
    is(token_calls('t-o-peer'), 1, '... one');
    is(get('/aleph/during-outage')->{code}, 200, 'a working credential is unaffected');
}

# ---- exponential steps up to AlephBackoffMax 4 -------------------------
{
    my @seen;
    my $end = time + 8;
    while (time < $end) {
        push @seen, get('/outage/expo/x');
        sleep 0.1;
    }
    my @fresh = grep { $_->{error} eq 'token_endpoint_oauth_error' } @seen;
    my @backoff = grep { $_->{error} eq 'token_endpoint_backoff' } @seen;
    is(scalar(@fresh) + scalar(@backoff), scalar @seen, 'every answer: the failure or the backoff');
    is(token_calls('t-o-expo'), scalar @fresh, 'one token request per attempt');
    ok(@fresh >= 4 && @fresh <= 6, scalar(@fresh) . ' attempts in 8 s (steps 0.5-1, 1-2, 2-4, 2-4 s)');
    my @gap = map { $fresh[$_]{t} - $fresh[$_ - 1]{t} } 1 .. $#fresh;
    my @want = ([0.5, 1], [1, 2], [2, 4], [2, 4], [2, 4]);
    for my $i (0 .. $#gap) {
        my ($lo, $hi) = @{ $want[$i] };
        ok($gap[$i] >= $lo - 0.05 && $gap[$i] <= $hi + 0.35,
           sprintf("step %d: %.2f s, within [%g, %g] s", $i + 1, $gap[$i], $lo, $hi));
    }
    # Retry-After is the remaining backoff: the next attempt came within it.
    my ($bad, $checked) = (0, 0);
    for my $b (@backoff) {
        my ($next) = grep { $_->{t} > $b->{t} } @fresh or next;
        my $wait = $next->{t} - $b->{t};
        $checked++;
        $bad++ unless $b->{retry} =~ /^\d+$/ && $b->{retry} >= 1 && $b->{retry} <= 4
                   && $wait > $b->{retry} - 1 - 0.05 && $wait <= $b->{retry} + 0.35;
    }
    ok($checked >= 20, "$checked backoff answers checked");
    is($bad, 0, 'their Retry-After is the time left until the next attempt');
    is(scalar(grep { $_->{latency} > 0.3 } @backoff), 0, 'backoff answers come at once');
}

# ---- Retry-After from the endpoint (429, and 503 with an OAuth error) --
{
    my %first = (ra429 => get('/outage/ra429/x'), ra503 => get('/outage/ra503/x'));
    my $t0 = $first{ra429}{t};
    is($first{ra429}{error}, 'token_endpoint_http_error', '429: the cause');
    is($first{ra503}{error}, 'token_endpoint_oauth_error', '503 with an OAuth error: the cause');
    for my $n (sort keys %first) {
        ok(($first{$n}{retry} // 0) >= 2 && $first{$n}{retry} <= 3,
           "$n: Retry-After $first{$n}{retry} follows the endpoint's 3 s, not AlephBackoffMax 2");
    }
    my %later = (ra429 => [], ra503 => []);
    while (time < $t0 + 2.6) {
        push @{ $later{$_} }, get("/outage/$_/x") for sort keys %later;
        sleep 0.2;
    }
    for my $n (sort keys %later) {
        my @l = @{ $later{$n} };
        is(scalar(grep { $_->{error} ne 'token_endpoint_backoff' } @l), 0,
           "$n: backing off for the endpoint's Retry-After (" . scalar(@l) . " requests)");
        is(scalar(grep { ($_->{retry} // 0) < 1 } @l), 0, "$n: with Retry-After");
        is(token_calls("t-o-$n"), 1, "$n: no new token request within 2.6 s");
    }
    sleep $t0 + 3.3 - time;
    get("/outage/$_/x") for sort keys %later;
    is(token_calls("t-o-$_"), 2, "$_: tried again once the endpoint's Retry-After ended")
        for sort keys %later;
}

# ---- a cached token outlives the endpoint; recovery is automatic ------
{
    set_mode('t-o-recover');
    my $first = get('/outage/recover/x');
    my $t0 = $first->{t};
    is($first->{code}, 200, 'recover: a token (expires_in 4)');
    is($first->{token}, 'Bearer tok-t-o-recover-1', '... forwarded');
    set_mode('t-o-recover', 'mode=http&status=500');

    my (@ok, $refused);
    while (time < $t0 + 6) {
        my $x = get('/outage/recover/x');
        if ($x->{code} != 200) {
            $refused = $x;
            last;
        }
        push @ok, $x;
        sleep 0.2;
    }
    is(scalar(grep { $_->{token} ne 'Bearer tok-t-o-recover-1' } @ok), 0,
       'the cached token is used while the endpoint fails (' . scalar(@ok) . ' requests)');
    ok(@ok && $ok[-1]{t} - $t0 >= 3.0,
       sprintf('until it expires (last success after %.1f s)', @ok ? $ok[-1]{t} - $t0 : 0));
    my $calls = token_calls('t-o-recover');
    ok($calls >= 2 && $calls <= 5, "refreshes were tried, with backoff ($calls token requests)");
    ok($refused, 'then requests are refused');
    if ($refused) {
        ok($refused->{t} - $t0 >= 3.2 && $refused->{t} - $t0 <= 4.6,
           sprintf('from the token\'s expiry on (%.1f s)', $refused->{t} - $t0));
        is($refused->{code}, 503, '... with 503');
        like($refused->{error}, qr/^token_endpoint_(http_error|backoff)$/, '... and the cause');
        like($refused->{retry} // '', qr/^[12]$/, '... and Retry-After within AlephBackoffMax 2');
    }

    set_mode('t-o-recover');
    my $t1 = time;
    my $back;
    while (time < $t1 + 5) {
        my $x = get('/outage/recover/x');
        if ($x->{code} == 200) {
            $back = $x;
            last;
        }
        sleep 0.1;
    }
    ok($back, 'recovers once the endpoint works again');
    if ($back) {
        ok($back->{t} - $t1 <= 3,
           sprintf('within the backoff (%.1f s)', $back->{t} - $t1));
        like($back->{token}, qr/^Bearer tok-t-o-recover-([2-9]|\d\d+)$/, 'with a new token');
        my $n = token_calls('t-o-recover');
        is(get('/outage/recover/x')->{token}, $back->{token}, 'which is cached');
        is(token_calls('t-o-recover'), $n, '... without another token request');
    }
}

done_testing();
