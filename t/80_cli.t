# The aleph command against the fake Aleph: aleph token and aleph contracts,
# their exit codes (0 success, 1 remote failure, 2 usage or configuration
# error), and that the secret (and, without --show-token, the token) never
# appears in what it prints.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Digest::SHA qw(sha1_hex);
use File::Temp qw(tempdir);
use lib 't/lib';
use AlephTest qw(fake_get json_body by_client_id write_file);

my $aleph = 'mod_aleph/aleph';
plan skip_all => 'the aleph command is not built (make all)' unless -x $aleph;
plan tests => 69;

my $fake = $ENV{ALEPH_FAKE_URL} or die "ALEPH_FAKE_URL is not set (run t/run-tests.sh)\n";
my $secret = $ENV{ALEPH_TEST_SECRET} or die "ALEPH_TEST_SECRET is not set\n";
my $dir = tempdir(CLEANUP => 1);

# Runs aleph with the arguments; returns (exit code, stdout, stderr).
sub aleph {
    my @args = @_;
    my $pid = open my $out, '-|' // die "fork: $!";
    if (!$pid) {
        open STDERR, '>', "$dir/stderr" or die;
        exec $aleph, @args or die "exec: $!";
    }
    local $/;
    my $stdout = <$out> // '';
    close $out;
    my $rc = $? >> 8;
    open my $e, '<', "$dir/stderr" or die;
    my $stderr = <$e> // '';
    return ($rc, $stdout, $stderr);
}

my @cred = ('--token-url', "$fake/oauth/token", '--client-secret', 'env:ALEPH_TEST_SECRET');

# --help
my ($rc, $out, $err) = aleph('--help');
is $rc, 0, 'aleph --help: exit 0';
like $out, qr/^  token .*^  contracts /ms, 'aleph --help lists the commands';
for my $cmd (qw(token contracts)) {
    ($rc, $out, $err) = aleph($cmd, '--help');
    is $rc, 0, "aleph $cmd --help: exit 0";
    like $out, qr/--token-url URL .*--client-id ID .*--client-secret file:PATH\|env:NAME .*--audience .*--scope .*--request json\|form .*--client-auth body\|basic .*--timeout SECONDS/s,
        "aleph $cmd --help: the credential options";
}
like +(aleph('token', '--help'))[1], qr/--show-token/, 'aleph token --help: --show-token';
like +(aleph('contracts', '--help'))[1], qr/--api URL .*\Qhttps:\/\/api.satellogic.com\E/s,
    'aleph contracts --help: --api and its default';

# Usage and configuration errors: exit 2, a message, never the secret.
my @usage = (
    [[], qr/Usage: aleph COMMAND/, 'no command'],
    [['frobnicate'], qr/unknown command 'frobnicate'/, 'an unknown command'],
    [['token', '--frobnicate'], qr/aleph token: invalid option: --frobnicate/, 'an unknown option'],
    [['token', '--client-id'], qr/missing argument/, 'an option without its value'],
    [['contracts', '--show-token', '--client-id', 'x', @cred], qr/invalid option: --show-token/,
     '--show-token is not an option of contracts'],
    [['token', @cred], qr/--client-id is required/, 'no client id'],
    [['token', '--client-id', 't-cli'], qr/--client-secret is required/, 'no secret'],
    [['token', '--client-id', 't-cli', '--client-secret', 'hunter2-literal'],
     qr/a literal secret is refused/, 'a literal secret'],
    [['token', '--client-id', 't-cli', '--client-secret', 'env:ALEPH_TEST_UNSET'],
     qr/environment variable ALEPH_TEST_UNSET is not set/, 'an unset variable'],
    [['token', '--client-id', 't-cli', '--client-secret', "file:$dir/missing"],
     qr/cannot open secret file/, 'a missing secret file'],
    [['token', '--client-id', 't-cli', @cred, '--token-url', 'ftp://x/'],
     qr/--token-url: 'ftp:\/\/x\/' is not an absolute http\(s\) URL/, 'a token URL that is not http(s)'],
    [['token', '--client-id', 't-cli', @cred, '--request', 'xml'], qr/--request: 'xml'/, 'a bad --request'],
    [['token', '--client-id', 't-cli', @cred, '--client-auth', 'digest'], qr/--client-auth: 'digest'/,
     'a bad --client-auth'],
    [['token', '--client-id', 't-cli', @cred, '--timeout', '0'], qr/--timeout: '0'/, 'a zero timeout'],
    [['token', '--client-id', 't-cli', @cred, 'extra'], qr/unexpected argument 'extra'/, 'a stray argument'],
);
for my $case (@usage) {
    my ($args, $re, $name) = @$case;
    ($rc, $out, $err) = aleph(@$args);
    is $rc, 2, "$name: exit 2";
    like "$out$err", $re, "$name: says why";
}
unlike +(aleph('token', '--client-id', 'x', '--client-secret', 'hunter2-literal'))[2],
    qr/hunter2/, 'a refused literal secret is not echoed';

# aleph token: fingerprints, lifetime; the token only with --show-token.
($rc, $out, $err) = aleph('token', '--client-id', 't-cli', @cred);
is $rc, 0, 'aleph token: exit 0';
like $out, qr/^token:\s+([0-9a-f]{12})$/m, 'aleph token: the token fingerprint';
like $out, qr/^expires_in:\s+86400$/m, 'aleph token: expires_in';
like $out, qr/^expires_at:\s+\w{3}, \d\d \w{3} \d{4} [\d:]{8} GMT$/m, 'aleph token: expires_at';
unlike "$out$err", qr/tok-|\Q$secret\E/, 'aleph token: neither the token nor the secret';

($rc, $out, $err) = aleph('token', '--client-id', 't-cli', @cred, '--show-token');
my ($token) = $out =~ /^access_token:\s+(\S+)$/m;
like $token // '', qr/^tok-t-cli-\d+$/, 'aleph token --show-token: the token';
my ($fp) = $out =~ /^token:\s+(\S+)$/m;
is $fp, substr(sha1_hex($token // ''), 0, 12), 'the fingerprint is the first 12 hex digits of its SHA-1';
unlike "$out$err", qr/\Q$secret\E/, 'aleph token --show-token: not the secret';

# The credential fingerprint is the one the status page shows (same token
# URL, client id, secret, audience, scope, style).
write_file("$dir/secret", "$secret\n", 0600);
($rc, $out, $err) = aleph('token', '--client-id', 't-"quoted\\id', '--token-url', "$fake/oauth/token",
                          '--client-secret', "file:$dir/secret");
my ($cred_fp) = $out =~ /^credential:\s+(\S+)$/m;
my $quoted = by_client_id(json_body(GET('/aleph-status')))->{'t-"quoted\\id'};
is $cred_fp, ($quoted || {})->{credential}, 'the credential fingerprint matches the status page';
is $err, '', 'a secret file readable by its owner only: no warning';
chmod 0644, "$dir/secret";
($rc, $out, $err) = aleph('token', '--client-id', 't-cli', '--token-url', "$fake/oauth/token",
                          '--client-secret', "file:$dir/secret");
like $err, qr/warning: the secret file .* can be read by other users/, 'a readable secret file: a warning';

# The other request style reaches the endpoint as the module's would.
($rc, $out, $err) = aleph('token', '--client-id', 't-cli-form', @cred, '--request', 'form',
                          '--client-auth', 'basic', '--audience', 'none', '--scope', 'api:tasking api:delivery');
is $rc, 0, 'aleph token, form and basic: exit 0';
my $last = fake_get('/_last?client_id=t-cli-form');
is $last->{body}, 'grant_type=client_credentials&scope=api%3Atasking%20api%3Adelivery',
    'form body with the scope and without the audience';
ok $last->{basic} && $last->{basic}{ok}, 'HTTP Basic client authentication';

# Remote failures: exit 1, the endpoint's answer on stderr.
($rc, $out, $err) = aleph('token', '--client-id', 't-cli', '--client-secret', 'env:ALEPH_TEST_SECRET',
    '--token-url', "$fake/oauth/token?mode=http&status=401&error=invalid_client&error_description=Client+authentication+failed");
is $rc, 1, 'a refused credential: exit 1';
like $err, qr/token_endpoint_oauth_error: .*"invalid_client". Description: Client authentication failed/,
    'a refused credential: the OAuth error';
($rc, $out, $err) = aleph('token', '--client-id', 't-cli', '--client-secret', 'env:ALEPH_TEST_SECRET',
    '--token-url', 'http://127.0.0.1:1/oauth/token');
is $rc, 1, 'an unreachable endpoint: exit 1';
like $err, qr/token_endpoint_unreachable/, 'an unreachable endpoint: says so';
($rc, $out, $err) = aleph('token', '--client-id', 't-cli', '--client-secret', 'env:ALEPH_TEST_SECRET',
    '--token-url', "$fake/oauth/token?mode=hang", '--timeout', '0.5');
is $rc, 1, 'a hanging endpoint: exit 1';
like $err, qr/token_endpoint_timeout/, 'a hanging endpoint: times out';

# aleph contracts: id and name per line, the token header, no contract header.
($rc, $out, $err) = aleph('contracts', '--client-id', 't-cli', @cred, '--api', "$fake/");
is $rc, 0, 'aleph contracts: exit 0';
is $out, "cont.3f2a9c1e-6863-4375-a89e-c832b32a5350  Enterprise Imagery Access\n"
       . "cont.9b7d0e44-1c2f-4d5e-8a6b-0f1e2d3c4b5a  Tasking Pilot\n", 'aleph contracts: the list';
my $seen = fake_get('/_api_last?prefix=/contracts');
like $seen->{headers}{authorizationtoken} // '', qr/^Bearer tok-t-cli-\d+$/, 'the token header was sent';
ok !exists $seen->{headers}{'x-satellogic-contract-id'}, 'no contract header was sent';
unlike "$out$err", qr/tok-|\Q$secret\E/, 'aleph contracts: neither the token nor the secret';

($rc, $out, $err) = aleph('contracts', '--client-id', 't-cli', @cred,
                          '--contracts-url', "$fake/contracts?contracts=none");
is $rc, 0, 'no contracts: exit 0';
like $err, qr/the credential has no contracts/, 'no contracts: says so';
($rc, $out, $err) = aleph('contracts', '--client-id', 't-cli', @cred,
                          '--contracts-url', "$fake/contracts?contracts=one");
is $out, "cont.3f2a9c1e-6863-4375-a89e-c832b32a5350  Enterprise Imagery Access\n", 'one contract';
($rc, $out, $err) = aleph('contracts', '--client-id', 't-cli', @cred, '--api', "$fake/status401");
is $rc, 1, 'contracts refused: exit 1';
like $err, qr/contracts_endpoint_http_error: .*HTTP 401/, 'contracts refused: says so';
