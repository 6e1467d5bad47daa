# Cold burst: many concurrent clients arrive while the first token request
# is in flight (the /burst/ token endpoint answers after 1 s). All of them
# must be forwarded with the same token, and the token endpoint must see
# exactly one request, across every process and thread of the server.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use Apache::TestUtil;
use IO::Handle;
use JSON::PP;
use LWP::UserAgent;
use POSIX ();
use Time::HiRes qw(time);

my $CLIENTS = 120;

plan tests => 10, need_lwp;

my $fake = $ENV{ALEPH_FAKE_URL} or die "ALEPH_FAKE_URL is not set (run t/run-tests.sh)\n";
my $mpm = $ENV{ALEPH_MPM} // 'unknown';
my $admin = LWP::UserAgent->new(timeout => 30);
my $base = 'http://' . Apache::TestRequest::hostport();

sub fake {
    my $res = $admin->get("$fake$_[0]");
    die "fake $_[0]: " . $res->status_line . "\n" unless $res->is_success;
    return decode_json($res->decoded_content);
}

my $burst_log = Apache::Test::vars('t_logs') . '/burst_log';
my $log_offset = -s $burst_log || 0;

my $before = fake('/_calls?client_id=t-burst')->{calls};
is $before, 0, 'cold: no token requested for t-burst yet';
my $expected_token = 'tok-t-burst-' . ($before + 1);

# Children wait on $go until the parent closes it, then all send at once.
# Each reports one line "<status> <token> <client pid>" through $report
# (lines shorter than PIPE_BUF are written atomically).
pipe(my $go_r, my $go_w) or die "pipe: $!";
pipe(my $rep_r, my $rep_w) or die "pipe: $!";
my @kids;
for my $i (1 .. $CLIENTS) {
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        close $go_w;
        close $rep_r;
        my $line = 'ERR none';
        eval {
            my $ua = LWP::UserAgent->new(keep_alive => 0, timeout => 60);
            sysread $go_r, my $buf, 1;    # EOF when the parent closes $go_w
            my $res = $ua->get("$base/burst/item/$i");
            my $obj = eval { decode_json($res->content) } || {};
            my $tok = $obj->{headers}{authorizationtoken} // 'none';
            my $ctr = $obj->{headers}{'x-satellogic-contract-id'} // 'none';
            my $valid = $obj->{token_valid} ? 1 : 0;
            $tok =~ s/\s+/_/g;
            $line = join ' ', $res->code, $tok, $ctr, $valid;
        };
        syswrite $rep_w, "$line $$\n";
        POSIX::_exit(0);
    }
    push @kids, $pid;
}
close $go_r;
close $rep_w;
my $t0 = time;
close $go_w;    # go

my @lines;
while (my $l = <$rep_r>) {
    chomp $l;
    push @lines, $l;
}
waitpid $_, 0 for @kids;
my $elapsed = time - $t0;

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
is fake('/_calls?client_id=t-burst')->{calls}, $before + 1,
    'exactly one token request for the whole burst';
is fake('/_api_calls?prefix=/echo/burst/')->{calls}, $CLIENTS,
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
    open my $fh, '<', $burst_log or return ();
    seek $fh, $log_offset, 0;
    return grep { m{^\d+ \d+ \d+ /burst/} } <$fh>;
}

# Informational: how many httpd processes exist (prefork serves each
# connection in its own process, so this shows the token was shared).
sub server_processes {
    my $pidfile = Apache::Test::vars('t_pid_file') or return 'unknown';
    open my $fh, '<', $pidfile or return 'unknown';
    chomp(my $parent = <$fh> // '');
    return 'unknown' unless $parent =~ /^\d+$/;
    my $n = 0;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $s, '<', $stat or next;
        my $line = <$s> // next;
        $n++ if $line =~ /^\d+ \(.*\) \S (\d+) / && $1 == $parent;
    }
    return "$n children of $parent";
}
