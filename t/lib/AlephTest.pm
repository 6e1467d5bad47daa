package AlephTest;
# Helpers shared by the t/*.t tests: the fake Aleph's admin endpoints
# (t/fake_aleph.py, started by t/run-tests.sh), JSON bodies, the test
# server's URL, pid and logs, files with a mode, `apache2 -t`, and a burst
# of concurrent clients. Each .t file imports what it uses:
#     use lib 't/lib';
#     use AlephTest qw(fake_get token_calls json_body);
use strict;
use warnings;
use Exporter 'import';
use JSON::PP qw(decode_json);
use LWP::UserAgent;
use POSIX ();
use Time::HiRes ();

our @EXPORT_OK = qw(fake_url fake_get token_calls api_calls json_body
                    by_client_id server_url httpd_pid log_mark log_since
                    slurp write_file apache2_t burst);

# --- the fake Aleph (plain HTTP) ------------------------------------------

my $ua;

# Its base URL, or undef outside t/run-tests.sh.
sub fake_url { $ENV{ALEPH_FAKE_URL} }

# The decoded JSON answer of an admin endpoint ("/_calls?client_id=X"),
# undef for a 404 (/_last of a client id never seen); dies on other errors.
sub fake_get {
    my ($path) = @_;
    my $url = fake_url() // die "ALEPH_FAKE_URL is not set (run t/run-tests.sh)\n";
    $ua ||= LWP::UserAgent->new(timeout => 30, keep_alive => 1);
    my $res = $ua->get("$url$path");
    return undef if $res->code == 404;
    die "fake $path: " . $res->status_line . "\n" unless $res->is_success;
    return decode_json($res->decoded_content);
}

# How many token requests the fake saw for a client id, and how many API
# requests whose path starts with a prefix.
sub token_calls { fake_get("/_calls?client_id=$_[0]")->{calls} }
sub api_calls   { fake_get("/_api_calls?prefix=$_[0]")->{calls} }

# --- responses ------------------------------------------------------------

# The JSON body of an HTTP::Response (the fake API's echo of what the
# upstream received, an error, the status page), or {} if it is not JSON.
sub json_body {
    my ($res) = @_;
    my $obj = eval { decode_json($res->content) };
    return $obj || {};
}

# The credentials of a decoded status page (SetHandler aleph-status), by
# client id.
sub by_client_id {
    my ($status) = @_;
    return { map { ($_->{client_id} // '') => $_ } @{ $status->{credentials} || [] } };
}

# --- the test server --------------------------------------------------------

# "http://host:port" of the server Apache::Test started.
sub server_url {
    require Apache::TestRequest;
    return 'http://' . Apache::TestRequest::hostport();
}

# The pid of its parent process; dies without a pid file.
sub httpd_pid {
    require Apache::Test;
    return slurp(Apache::Test::vars('t_pid_file')) =~ s/\s+//gr;
}

sub log_path {
    require Apache::Test;
    return Apache::Test::vars('t_logs') . '/' . ($_[0] // 'error_log');
}

# Where a log in t/logs (error_log unless named) ends now; log_since(mark)
# returns what was written after it ('' if the log does not exist).
sub log_mark { -s log_path($_[0]) || 0 }

sub log_since {
    my ($mark, $name) = @_;
    open my $fh, '<', log_path($name) or return '';
    seek $fh, $mark, 0;
    local $/;
    return scalar <$fh> // '';
}

# --- files and `apache2 -t` ---------------------------------------------------

sub slurp {
    open my $fh, '<', $_[0] or die "$_[0]: $!";
    local $/;
    return scalar <$fh>;
}

# Writes $text to $path with $mode (set before the text is written too, so
# that a secret is never readable by others).
sub write_file {
    my ($path, $text, $mode) = @_;
    open my $fh, '>', $path or die "$path: $!";
    chmod $mode, $path;
    print $fh $text;
    close $fh or die "$path: $!";
    chmod $mode, $path;
}

# Runs `apache2 -t` ($APACHE2, else /usr/sbin/apache2) on a minimal server
# in $dir that loads $module, followed by the lines $body. Returns (exit
# status, output); a crash counts as 128 + signal, like in a shell.
sub apache2_t {
    my ($dir, $module, $body) = @_;
    my $conf = "$dir/httpd.conf";
    write_file($conf, <<"CONF", 0644);
ServerRoot $dir
ServerName localhost
PidFile $dir/httpd.pid
DefaultRuntimeDir $dir
ErrorLog $dir/error_log
Listen 127.0.0.1:18999
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http.so
LoadModule aleph_module $module
$body
CONF
    my $httpd = $ENV{APACHE2} || '/usr/sbin/apache2';
    my $out = `$httpd -t -d $dir -f $conf 2>&1`;
    return (($? & 127) ? 128 + ($? & 127) : $? >> 8, $out);
}

# --- concurrency -----------------------------------------------------------------

# Forks $n clients that wait until all exist, then run $client->($i) at
# once. Returns the seconds from that moment until the last one finished,
# and the lines the clients returned ('ERR none' where one died), in the
# order they came (each line is written atomically).
sub burst {
    my ($n, $client) = @_;
    pipe(my $go_r, my $go_w) or die "pipe: $!";
    pipe(my $rep_r, my $rep_w) or die "pipe: $!";
    my @kids;
    for my $i (1 .. $n) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            close $go_w;
            close $rep_r;
            sysread $go_r, my $buf, 1;    # EOF when the parent closes $go_w
            my $line = eval { $client->($i) } // 'ERR none';
            syswrite $rep_w, "$line\n";
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }
    close $go_r;
    close $rep_w;
    my $t0 = Time::HiRes::time();
    close $go_w;    # go
    chomp(my @lines = <$rep_r>);
    waitpid $_, 0 for @kids;
    return (Time::HiRes::time() - $t0, @lines);
}

1;
