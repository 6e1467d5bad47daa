# Token lifecycle: refresh ahead of expiry under load (nobody waits for the
# slow token endpoint, no expired token is forwarded), graceful restarts
# under load (no token request, no failure, no leaked IPC object), a child
# killed during a token request (the credential recovers), upstream 401s.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use LWP::UserAgent;
use POSIX ();
use Time::HiRes qw(time sleep);
use File::Temp qw(tempfile);
use lib 't/lib';
use AlephTest qw(token_calls api_calls json_body server_url httpd_pid log_mark log_since
                 write_file);

plan tests => 38, need_lwp;

my $base = server_url();
my $ua = LWP::UserAgent->new(keep_alive => 0, timeout => 30);

# Runs $workers processes that GET $path for $seconds on fresh connections;
# each request is one line "status latency token_valid token". Returns the lines.
sub load {
    my ($path, $workers, $seconds, $during) = @_;
    my ($fh, $file) = tempfile(UNLINK => 1);
    my @kids;
    for my $w (1 .. $workers) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $c = LWP::UserAgent->new(keep_alive => 0, timeout => 30);
            my $end = time + $seconds;
            open my $out, '>>', $file or POSIX::_exit(1);
            $out->autoflush(1);
            my $n = 0;
            while (time < $end && $n++ < 50000) {
                my $t0 = time;
                my $res = $c->get("$base$path$w/$n");
                my $dt = time - $t0;
                my $obj = json_body($res);
                my $tok = $obj->{headers}{authorizationtoken} // 'none';
                $tok =~ s/\s+/_/g;
                printf $out "%d %.4f %d %s\n", $res->code, $dt,
                    $obj->{token_valid} ? 1 : 0, $tok;
            }
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }
    $during->() if $during;
    waitpid $_, 0 for @kids;
    open my $in, '<', $file or die "$file: $!";
    return map { [split ' '] } <$in>;
}

sub ipc_objects {
    my $n = 0;
    for (`ipcs -s 2>/dev/null`, `ipcs -m 2>/dev/null`) { $n++ if /^0x/ }
    return $n;
}

# --- refresh ahead of expiry under load ---------------------------------
# Tokens live 6 s; the endpoint answers after 0.5 s; refresh is due at 3 s.
my $first = $ua->get("$base/life/warm");
is $first->code, 200, 'first /life/ request gets a token (cold fetch)';
my $calls0 = token_calls('t-life');
my @r = load('/life/w', 4, 18);
my @bad = grep { $_->[0] != 200 } @r;
my @slow = grep { $_->[1] >= 0.4 } @r;
my @stale = grep { $_->[0] == 200 && !$_->[2] } @r;
my ($max) = sort { $b <=> $a } map { $_->[1] } @r;
my $refreshes = token_calls('t-life') - $calls0;
ok @r > 100, scalar(@r) . ' requests over 18 s (3 token lifetimes)';
is scalar(@bad), 0, 'no request failed';
is scalar(@stale), 0, 'no expired token was forwarded';
is scalar(@slow), 0, sprintf('no request took 0.4 s or more (max %.3f s; endpoint delay 0.5 s)', $max);
ok $refreshes >= 5 && $refreshes <= 8,
    "about one token request per refresh interval: $refreshes in 18 s (refresh every ~3 s)";
my %tokens = map { $_->[3] => 1 } @r;
ok keys(%tokens) >= 5, keys(%tokens) . ' distinct tokens were forwarded';
diag sprintf 'refresh under load: %d requests, max latency %.3f s, %d token requests in 18 s',
    scalar(@r), $max, $refreshes;

# --- graceful restarts under load ---------------------------------------
is $ua->get("$base/grace/warm")->code, 200, '/grace/ has a token';
my $grace_calls = token_calls('t-grace');
my $ipc_before = ipc_objects();
my $restarts = 0;
@r = load('/grace/w', 4, 8, sub {
    for (1 .. 3) {
        sleep 1.5;
        kill 'USR1', httpd_pid() and $restarts++;
    }
});
@bad = grep { $_->[0] != 200 } @r;
is $restarts, 3, 'three graceful restarts (SIGUSR1) under load';
ok @r > 50, scalar(@r) . ' requests during the restarts';
is scalar(@bad), 0, 'no request failed across the restarts'
    or diag join ', ', map { $_->[0] } @bad[0 .. ($#bad < 5 ? $#bad : 5)];
is token_calls('t-grace'), $grace_calls, 'no token request caused by the restarts';
sleep 1;
is ipc_objects(), $ipc_before, 'no semaphore or shared memory segment leaked';
diag sprintf 'graceful restarts: %d requests, %d failed, %d token requests',
    scalar(@r), scalar(@bad), token_calls('t-grace') - $grace_calls;

# --- a changed AlephCacheSize on restart ----------------------------------
# The store is rebuilt with the new size and this generation's tokens are
# carried over: the change costs no token request.
sub restart_with_cache_size {
    my ($n) = @_;
    my $mark = log_mark();
    write_file(Apache::Test::vars('t_conf') . '/cache-size.conf', "AlephCacheSize $n\n", 0644);
    kill 'USR1', httpd_pid();
    my $t = time;
    sleep 0.2 until ($ua->get("$base/grace/after-resize")->code == 200
                     && log_since($mark) =~ /ALEPH00007: token store rebuilt for $n credentials/)
                    || time - $t > 10;
    return log_since($mark);
}
$grace_calls = token_calls('t-grace');
like restart_with_cache_size(300),
    qr/ALEPH00007: token store rebuilt for 300 credentials \(AlephCacheSize changed, or full\): [1-9]\d* carried over/,
    'AlephCacheSize changed on a graceful restart: the store is rebuilt, tokens carried over';
is $ua->get("$base/grace/resized")->code, 200, '... requests still work';
is token_calls('t-grace'), $grace_calls, '... without a token request';
restart_with_cache_size(256);
is token_calls('t-grace'), $grace_calls, 'and back: still no token request';

# --- a child killed in the middle of a token request --------------------
# The endpoint takes 2 s; the claim of the killed fetch lapses after
# AlephTimeout (3 s) + 2 s, after which the next request gets a token.
my $victim = fork // die "fork: $!";
if (!$victim) {
    LWP::UserAgent->new(timeout => 10)->get("$base/kill/first");
    POSIX::_exit(0);
}
my $t0 = time;
sleep 0.1 until token_calls('t-kill') >= 1 || time - $t0 > 5;
is token_calls('t-kill'), 1, 'a token request is in flight';
my $parent = httpd_pid();
my @children = grep { $_ != $parent } map { /(\d+)/ ? $1 : () } `pgrep -P $parent`;
ok @children > 0, 'server children found';
kill 'KILL', @children;
waitpid $victim, 0;
sleep 6;
my $res = $ua->get("$base/kill/after");
is $res->code, 200, 'after the token request timeout, the next request gets a token';
my $obj = json_body($res);
like $obj->{headers}{authorizationtoken} // '', qr/^Bearer tok-t-kill-\d+$/, '... and forwards it';
is token_calls('t-kill'), 2, 'one new token request replaced the killed one';

# --- upstream 401 ---------------------------------------------------------
# A token younger than 5 s is never discarded (a 401 then means something
# else); older ones are, once; safe requests are retried once.
$res = $ua->get("$base/reject-once/warm/x");
is $res->code, 200, 'a fresh token rejected once: retried with the same token, 200';
is token_calls('t-reject-once'), 1, '... and kept (it is younger than 5 s)';
is $ua->get("$base/reject/a")->code, 401, 'an upstream that always says 401: the client gets 401';
is api_calls('/status401/'), 2, '... after exactly one retry';
sleep 5.5;
$res = $ua->get("$base/reject-once/k1/x");
is $res->code, 200, 'GET rejected once: retried transparently, 200';
$obj = json_body($res);
is $obj->{headers}{authorizationtoken}, 'Bearer tok-t-reject-once-2', '... with a new token';
is $obj->{headers}{'x-forwarded-for'}, '127.0.0.1', '... and the request as the client sent it (no header added twice)';
is token_calls('t-reject-once'), 2, '... that cost one token request';
is api_calls('/status401-once/k1/'), 2, '... and two upstream requests';
sleep 5.5;
$res = $ua->post("$base/reject-once/k2/x", Content => 'a=1');
is $res->code, 401, 'POST rejected: the 401 reaches the client (not retried)';
is api_calls('/status401-once/k2/'), 1, '... one upstream request';
$res = $ua->get("$base/reject-once/k3/x");
is $res->code, 200, 'the next request works';
$obj = json_body($res);
is $obj->{headers}{authorizationtoken}, 'Bearer tok-t-reject-once-3', '... with the token fetched after the rejected POST';
is token_calls('t-reject-once'), 3, 'one token request per rejected token';
is $ua->get("$base/reject/b")->code, 401, 'a second 401 is passed on unchanged';
ok token_calls('t-reject') <= 2, 'repeated 401s with fresh tokens do not hammer the token endpoint';
