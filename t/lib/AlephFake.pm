package AlephFake;
# Helpers for tests that talk to t/fake_aleph.py's admin endpoints and read
# the test server's error log. ALEPH_FAKE_URL comes from t/run-tests.sh.
use strict;
use warnings;
use Exporter 'import';
use JSON::PP ();
use LWP::UserAgent;
use Apache::Test ();

our @EXPORT_OK = qw(fake_url fake_get token_calls api_calls set_mode
                    error_log_mark error_log_since json_of);

my $ua = LWP::UserAgent->new(timeout => 30, keep_alive => 1);
my $json = JSON::PP->new;

sub fake_url { $ENV{ALEPH_FAKE_URL} }

# The decoded JSON answer of an admin endpoint.
sub fake_get {
    my ($path) = @_;
    my $res = $ua->get(fake_url() . $path);
    die "fake_aleph $path: " . $res->status_line unless $res->is_success;
    return $json->decode($res->decoded_content);
}

sub token_calls { fake_get("/_calls?client_id=$_[0]")->{calls} }
sub api_calls   { fake_get("/_api_calls?prefix=$_[0]")->{calls} }

# Token URL parameters that override a client id's own, or none to clear.
sub set_mode {
    my ($client_id, $query) = @_;
    fake_get("/_mode?client_id=$client_id" . (defined $query ? "&$query" : ''));
}

sub json_of {
    my ($text) = @_;
    my $obj = eval { $json->decode($text) };
    return $obj;
}

sub error_log { Apache::Test::vars('t_logs') . '/error_log' }

# Where the error log ends now; error_log_since(mark) reads what follows.
sub error_log_mark { -s error_log() || 0 }

sub error_log_since {
    my ($mark) = @_;
    open my $fh, '<', error_log() or return '';
    seek $fh, $mark, 0;
    local $/;
    my $text = <$fh>;
    return defined $text ? $text : '';
}

1;
