# Expiry: /short/ tokens live 2 s (expires_in=2). An expired token is never
# forwarded; a new one is requested when the old one is due, in the
# background while the gateway is idle.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Apache::TestUtil;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use AlephTest qw(token_calls json_body);

plan tests => 16, need_lwp;


sub calls { token_calls('t-short') }
sub forward {
    my $res = GET "/short/$_[0]";
    my $obj = json_body($res);
    my ($tok) = ($obj->{headers}{authorizationtoken} // '') =~ /^Bearer (tok-t-short-\d+)$/;
    return ($res->code, $tok // 'none', $obj->{token_valid} ? 1 : 0);
}

my $c0 = calls();
my ($code, $tok, $valid) = forward('first');
is $code, 200, 'first request forwarded';
is $tok, 'tok-t-short-' . ($c0 + 1), 'first request: a new token';
ok $valid, 'first request: the token is valid upstream';
is calls(), $c0 + 1, 'one token request';

($code, my $tok_again, $valid) = forward('again');
is $tok_again, $tok, 'right away: the cached token is reused';
ok $valid, 'right away: still valid upstream';

# Past expires_in (and idle meanwhile): the old token must not be forwarded.
# mod_watchdog renews tokens in the background (once due, i.e. after half
# of this short lifetime), so the idle gateway has already fetched newer
# ones; on time, not in a loop.
# Under prefork the singleton refresher can move to another child (when
# prefork retires the one running it), which may take a few seconds:
# wait for the renewal rather than assume a fixed time.
my $t_idle = time;
sleep 0.2 until calls() >= $c0 + 2 || time - $t_idle > 10;
sleep 3 - (time - $t_idle) if time - $t_idle < 3;
my $idle_s = time - $t_idle;
my $idle_calls = calls();
cmp_ok $idle_calls, '>=', $c0 + 2, 'idle: the token was renewed in the background';
cmp_ok $idle_calls, '<=', $c0 + 2 + int($idle_s), sprintf('idle: renewed about once a second over %.1f s, not hammered', $idle_s);
($code, my $tok2, $valid) = forward('after-expiry');
is $code, 200, 'after expiry: forwarded';
my ($n1) = $tok =~ /(\d+)$/;
my ($n2) = $tok2 =~ /(\d+)$/;
cmp_ok $n2 // 0, '>', $n1 // 0, "after expiry: a newer token ($tok2)";
ok $valid, 'after expiry: the token is valid upstream';
cmp_ok $n2 // 0, '>=', $idle_calls - 1, 'after expiry: one of the latest tokens issued';

# Requests spread over more than one lifetime: each one is forwarded with
# a token the upstream still accepts, and the tokens only move forward.
my (@codes, @tokens, $invalid);
for my $i (1 .. 14) {
    my ($c, $t, $v) = forward("steady/$i");
    push @codes, $c;
    push @tokens, $t;
    $invalid++ unless $v;
    sleep 0.2;
}
is scalar(grep { $_ != 200 } @codes), 0, 'over 3 s: every request forwarded';
is $invalid // 0, 0, 'over 3 s: never an expired (or unknown) token upstream'
    or diag "tokens: @tokens";
my @n = map { /(\d+)$/ ? $1 : -1 } @tokens;
is_deeply \@n, [sort { $a <=> $b } @n], 'over 3 s: tokens only ever get newer';
cmp_ok $n[-1], '>', $c0 + 2, 'over 3 s: the token was renewed';
