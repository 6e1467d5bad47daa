#!/usr/bin/env perl
# Start-up checks: each bad configuration makes `apache2 -t` fail with a
# message naming the directive and the scope; good ones pass.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use Cwd qw(abs_path);
use lib 't/lib';
use AlephTest qw(write_file apache2_t);

my $module = abs_path('mod_aleph/.libs/mod_aleph.so');
plan skip_all => "module not built" unless $module && -f $module;

my $dir = tempdir(CLEANUP => 1);
my $secret = "$dir/secret";
write_file($secret, "s3cret-value\n", 0600);
my $open_secret = "$dir/open-secret";
write_file($open_secret, "s3cret-value\n", 0644);
my $empty_secret = "$dir/empty-secret";
write_file($empty_secret, "\n", 0600);

# Runs `apache2 -t` on a minimal server with the given extra lines.
sub config_test { apache2_t($dir, $module, @_) }

my @bad = (
    ["AlephAuth On without a client id",
     "<Location /x>\nAlephAuth On\nAlephClientSecret file:$secret\n</Location>",
     qr/ALEPH00001: <Location \/x> in server config: AlephAuth On needs AlephClientID/],
    ["AlephAuth On without a secret",
     "<Location /x>\nAlephAuth On\nAlephClientID c1\n</Location>",
     qr/ALEPH00001: <Location \/x> in server config: AlephAuth On needs AlephClientSecret/],
    ["server-wide AlephAuth On without credentials",
     "AlephAuth On",
     qr/ALEPH00001: server config: AlephAuth On needs AlephClientID/],
    ["a virtual host names itself",
     "<VirtualHost 127.0.0.1:18999>\nServerName v.example\nAlephAuth On\n</VirtualHost>",
     qr/ALEPH00001: <VirtualHost v\.example:18999>: AlephAuth On needs AlephClientID/],
    ["unreadable secret file",
     "<Location /x>\nAlephAuth On\nAlephClientID c1\nAlephClientSecret file:$dir/missing\n</Location>",
     qr/ALEPH00002: <Location \/x> in server config: AlephClientSecret: cannot open secret file \Q$dir\E\/missing/],
    ["empty secret file",
     "<Location /x>\nAlephAuth On\nAlephClientID c1\nAlephClientSecret file:$empty_secret\n</Location>",
     qr/ALEPH00002: .*AlephClientSecret: the secret in file:\S+ is empty/],
    ["unset environment variable",
     "<Location /x>\nAlephAuth On\nAlephClientID c1\nAlephClientSecret env:ALEPH_TEST_UNSET_VAR\n</Location>",
     qr/ALEPH00002: <Location \/x> in server config: AlephClientSecret: environment variable ALEPH_TEST_UNSET_VAR is not set/],
    ["literal secret",
     "AlephClientSecret hunter2-literal",
     qr/AlephClientSecret: a literal secret is refused; give file:PATH .* or env:NAME/],
    ["malformed token URL",
     "AlephTokenURL not-a-url",
     qr/AlephTokenURL: 'not-a-url' is not an absolute http\(s\) URL/],
    ["token URL with another scheme",
     "AlephTokenURL ftp://auth.example/oauth/token",
     qr/AlephTokenURL: 'ftp:\/\/auth\.example\/oauth\/token' is not an absolute http\(s\) URL/],
    ["malformed contracts URL",
     "AlephContractsURL not-a-url",
     qr/AlephContractsURL: 'not-a-url' is not an absolute http\(s\) URL/],
    ["unknown request style",
     "AlephTokenRequest xml",
     qr/AlephTokenRequest: unknown keyword 'xml' \(expected json or form\)/],
    ["unknown client auth",
     "AlephClientAuth digest",
     qr/AlephClientAuth: unknown keyword 'digest' \(expected body or basic\)/],
    ["AlephAuth with a bad flag",
     "AlephAuth maybe",
     qr/AlephAuth must be On or Off/],
    ["invalid header name",
     "AlephTokenHeader \"bad header\"",
     qr/AlephTokenHeader: 'bad header' is not a valid header name/],
    ["invalid contract header name",
     "AlephContractHeader X-Contract:",
     qr/AlephContractHeader: 'X-Contract:' is not a valid header name/],
    ["bad timeout",
     "AlephTimeout soon",
     qr/AlephTimeout: 'soon' is not a time between/],
    ["timeout out of range",
     "AlephTimeout 100000",
     qr/AlephTimeout: '100000' is not a time between/],
    ["bad refresh margin",
     "AlephRefreshMargin -5",
     qr/AlephRefreshMargin: '-5' is not a time between/],
    ["bad backoff",
     "AlephBackoffMax 0",
     qr/AlephBackoffMax: '0' is not a time between/],
    ["cache size outside the global scope",
     "<Location /x>\nAlephCacheSize 10\n</Location>",
     qr/AlephCacheSize .*not allowed/],
    ["cache size not a number",
     "AlephCacheSize lots",
     qr/AlephCacheSize: 'lots' is not a number of credentials/],
    ["control characters in the contract",
     "AlephContract \"cont.\xc3\xa9\"",
     qr/AlephContract: the contract id contains characters not allowed in a header value/],
    ["a <Proxy> section names itself",
     "<Proxy http://backend.example/>\nAlephAuth On\nAlephClientSecret file:$secret\n</Proxy>",
     qr/ALEPH00001: <Proxy http:\/\/backend\.example\/> in server config: AlephAuth On needs AlephClientID/],
);

for my $case (@bad) {
    my ($name, $body, $re) = @$case;
    my ($rc, $out) = config_test($body);
    isnt($rc, 0, "$name: apache2 -t fails");
    like($out, $re, "$name: the message names the directive and scope")
        or diag($out);
}

{
    my ($rc, $out) = config_test("AlephClientSecret hunter2-literal");
    unlike($out, qr/hunter2/, "a refused literal secret is not echoed");
}
{
    my ($rc, $out) = config_test(
        "<Location /x>\nAlephAuth On\nAlephClientID c1\nAlephClientSecret file:$secret\n</Location>");
    is($rc, 0, "a complete configuration passes apache2 -t") or diag($out);
    like($out, qr/Syntax OK/, "Syntax OK");
    unlike($out, qr/s3cret-value/, "the secret never appears in start-up output");
}
{
    my ($rc, $out) = config_test(
        "AlephClientID c1\nAlephClientSecret file:$secret\n<Location /x>\nAlephAuth On\n</Location>\n"
        . "<Location /y>\nAlephAuth On\nAlephContract cont.y\nAlephScope \"a b\"\n</Location>");
    is($rc, 0, "credentials inherited from the server scope") or diag($out);
}
{
    my ($rc, $out) = config_test(
        "<Location /x>\nAlephAuth On\nAlephClientID c1\nAlephClientSecret file:$open_secret\n</Location>");
    is($rc, 0, "a secret file readable by others is accepted") or diag($out);
    like($out, qr/ALEPH00003: .*can be read by other users/, "... with a warning");
}
{
    local $ENV{ALEPH_TEST_SET_VAR} = 'from-env';
    my ($rc, $out) = config_test(
        "<Location /x>\nAlephAuth On\nAlephClientID c1\nAlephClientSecret env:ALEPH_TEST_SET_VAR\n</Location>");
    is($rc, 0, "env: secret") or diag($out);
}
{
    my ($rc, $out) = config_test(
        "<Location /x>\nAlephAuth On\nAlephClientID c1\nAlephClientSecret file:$secret\n"
        . "AlephContract auto\nAlephContractsURL https://api.example/contracts?all=1\n</Location>");
    is($rc, 0, "AlephContract auto and AlephContractsURL") or diag($out);
}
{
    my ($rc, $out) = config_test(
        "<Location /x>\nAlephAuth Off\nAlephClientID c1\n</Location>");
    is($rc, 0, "incomplete credentials are fine where AlephAuth is Off") or diag($out);
}

done_testing();
