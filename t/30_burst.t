# Cold burst: many concurrent clients arrive while the first token request
# is in flight (the /burst/ token endpoint answers after 1 s). All of them
# must be forwarded with the same token, and the token endpoint must see
# exactly one request, across every process and thread of the server.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use Apache::TestUtil;
use LWP::UserAgent;
use lib 't/lib';
use AlephTest qw(token_calls api_calls json_body server_url httpd_pid log_mark log_since burst);

my $CLIENTS = 120;

plan tests => 10, need_lwp;

my $mpm = $ENV{ALEPH_MPM} // 'unknown';
my $base = server_url();

my $log_offset = log_mark('burst_log');

my $before = token_calls('t-burst');
is $before, 0, 'cold: no token requested for t-burst yet';
my $expected_token = 'tok-t-burst-' . ($before + 1);

# All clients send at once; each reports one line
# "<status> <token> <contract> <token valid> <client pid>".
my $client = LWP::UserAgent->new(keep_alive => 0, timeout => 60);
my ($elapsed, @lines) = burst($CLIENTS, sub {
    my ($i) = @_;
    my $res = $client->get("$base/burst/item/$i");
    my $obj = json_body($res);
    my $tok = $obj->{headers}{authorizationtoken} // 'none';
    my $ctr = $obj->{headers}{'x-satellogic-contract-id'} // 'none';
    my $valid = $obj->{token_valid} ? 1 : 0;
    $tok =~ s/\s+/_/g;
    return join ' ', $res->code, $tok, $ctr, $valid, $$;
});

is scalar(@lines), $CLIENTS, "all $CLIENTS clients reported";
my (%status, %token, %contract, $valid);
for (@lines) {
    my ($code, $tok, $ctr, $v) = split ' ';
    $status{$code}++;
    $token{$tok}++;
    $contract{$ctr}++;
    $valid += $v // 0;
}
is_deeply \%status, { 200 => $CLIENTS }, "all $CLIENTS concurrent requests got 200"
    or diag explain \%status;
is_deeply \%token, { "Bearer_$expected_token" => $CLIENTS },
    "all were forwarded with $expected_token"
    or diag explain \%token;
is_deeply \%contract, { 'cont.burst' => $CLIENTS }, 'all carried the contract header'
    or diag explain \%contract;
is $valid, $CLIENTS, 'the upstream accepted every token';
is token_calls('t-burst'), $before + 1,
    'exactly one token request for the whole burst';
is api_calls('/echo/burst/'), $CLIENTS,
    'every request reached the upstream once';
# A generous bound: the fetch takes 1 s; serialised waits would take minutes.
cmp_ok $elapsed, '<', 30, 'the burst completes in reasonable time';

# Which server processes (and threads) served the burst: the requests are
# logged after the response is sent, so give the log a moment.
my @served;
for (1 .. 100) {
    @served = burst_log_lines();
    last if @served >= $CLIENTS;
    select undef, undef, undef, 0.1;
}
my (%pids, %threads);
for (@served) {
    my ($pid, $tid) = split ' ';
    $pids{$pid}++;
    $threads{"$pid/$tid"}++;
}
if ($mpm eq 'prefork') {
    cmp_ok scalar(keys %pids), '>', 1,
        'prefork: the burst was served by several processes sharing one token';
}
else {
    cmp_ok scalar(keys %threads), '>', 1,
        "$mpm: the burst was served by several threads sharing one token";
}
diag sprintf '%s MPM: %d clients in %.2f s, served by %d processes / %d threads '
    . '(%d log lines); server processes now: %s',
    $mpm, $CLIENTS, $elapsed, scalar(keys %pids), scalar(keys %threads),
    scalar(@served), server_processes();

sub burst_log_lines {
    return grep { m{^\d+ \d+ \d+ /burst/} } split /^/, log_since($log_offset, 'burst_log');
}

# Informational: how many httpd processes exist (prefork serves each
# connection in its own process, so this shows the token was shared).
sub server_processes {
    my $parent = eval { httpd_pid() } // '';
    return 'unknown' unless $parent =~ /^\d+$/;
    my $n = 0;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $s, '<', $stat or next;
        my $line = <$s> // next;
        $n++ if $line =~ /^\d+ \(.*\) \S (\d+) / && $1 == $parent;
    }
    return "$n children of $parent";
}
