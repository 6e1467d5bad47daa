# Security claims of mod_aleph, one block per claim (README, "Threat model"):
# where tokens may go (AlephUpstream), how the token endpoint is reached (TLS
# verification, client certificates, outbound proxy, proxy variables
# ignored), what a client can send (its own credential headers are dropped),
# and what never leaks (secret and tokens in responses, logs, status page).
# Needs t/run-tests.sh: the fakes (plain, TLS, mutual TLS), the test CA in
# t/conf/tls and httpd started with dead proxy variables in its environment.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use JSON::PP;
use LWP::UserAgent;
use Time::HiRes qw(sleep);
use lib 't/lib';
use AlephTest qw(api_calls json_body log_mark log_since httpd_pid slurp write_file apache2_t);

plan tests => 129, need_lwp;

my $fake = $ENV{ALEPH_FAKE_URL} or die "ALEPH_FAKE_URL is not set (run t/run-tests.sh)\n";
my $vars = Apache::Test::vars();
my $tls = "$vars->{t_conf}/tls";
my $secret = 'fake-secret';
my $contract = 'cont.3f2a9c1e-6863-4375-a89e-c832b32a5350';

# Admin clients of the three fakes; the TLS ones trust the test CA only.
my %admin = (
    plain => [$fake, LWP::UserAgent->new(timeout => 30)],
    tls   => ["https://127.0.0.1:$ENV{ALEPH_FAKE_TLS_PORT}",
              LWP::UserAgent->new(timeout => 30, ssl_opts => {SSL_ca_file => "$tls/ca.pem"})],
    mtls  => ["https://127.0.0.1:$ENV{ALEPH_FAKE_MTLS_PORT}",
              LWP::UserAgent->new(timeout => 30, ssl_opts => {
                  SSL_ca_file => "$tls/ca.pem", SSL_cert_file => "$tls/client.pem",
                  SSL_key_file => "$tls/client.key"})],
);

sub fake_at {
    my ($which, $path) = @_;
    my ($base, $ua) = @{ $admin{$which} };
    my $res = $ua->get("$base$path");
    return undef if $res->code == 404;    # /_last of a client id never seen
    die "fake $which $path: " . $res->status_line . "\n" unless $res->is_success;
    return decode_json($res->decoded_content);
}
sub calls    { fake_at($_[1] // 'plain', "/_calls?client_id=$_[0]")->{calls} }
sub last_req { fake_at($_[1] // 'plain', "/_last?client_id=$_[0]") }

# Every response the client sees, to look for tokens and secrets at the end.
my @seen;
sub get {
    my $res = GET(@_);
    push @seen, $res;
    return $res;
}

# A 502/503 of the module: the status, JSON with the stable code.
sub refused {
    my ($res, $status, $code, $name) = @_;
    is $res->code, $status, "$name: $status";
    is json_body($res)->{error}, $code, "$name: error $code";
    like $res->header('Content-Type') // '', qr{^application/json}, "$name: JSON body";
}

# --- 1. Tokens go only to allowed upstreams ---------------------------------
for my $case (['wrong-upstream', 'an explicit AlephUpstream without the fake'],
              ['default-upstream', 'the default upstream (the audience origin)'],
              ['rewrite-elsewhere', 'a RewriteRule [P] to another origin']) {
    my ($scope, $why) = @$case;
    my $from = log_mark();
    my $res = get("/$scope/x");
    refused($res, 502, 'upstream_not_allowed', "/$scope/ ($why)");
    ok !defined $res->header('Retry-After'), "/$scope/: no Retry-After on a 502";
    is api_calls("/echo/$scope/"), 0, "/$scope/: nothing forwarded";
    is calls("t-$scope"), 0, "/$scope/: no token requested";
    like log_since($from), qr{ALEPH00023: the request for /\Q$scope\E/x would be forwarded to http://},
        "/$scope/: ALEPH00023 in the error log";
}
{
    my $res = get('/two-upstreams/x');
    is $res->code, 200, 'two AlephUpstream lines add up: the second one (the fake) is allowed';
    is json_body($res)->{headers}{authorizationtoken}, 'Bearer tok-t-two-upstreams-1',
        '... and the token is sent there';
}

# --- 2. TLS to the token endpoint --------------------------------------------
{
    my $res = get('/tls-noca/x');
    refused($res, 503, 'token_endpoint_tls_error', 'https token endpoint, CA not trusted');
    ok defined $res->header('Retry-After'), '... with Retry-After';
    is calls('t-tls-noca', 'tls'), 0, '... and no token request was sent';
    is api_calls('/echo/tls-noca/'), 0, '... and nothing forwarded';

    for my $case (['tls-ca', 'AlephCACertificateFile'], ['tls-capath', 'AlephCACertificatePath']) {
        my ($scope, $directive) = @$case;
        $res = get("/$scope/x");
        is $res->code, 200, "/$scope/: the CA given by $directive verifies the endpoint";
        is json_body($res)->{headers}{authorizationtoken}, "Bearer tok-t-$scope-1",
            "/$scope/: the token from the TLS endpoint is injected";
    }

    my $from = log_mark();
    $res = get('/tls-name/x');
    refused($res, 503, 'token_endpoint_tls_error',
            'https://localhost/ with a certificate for 127.0.0.1 only (name mismatch)');
    is calls('t-tls-name', 'tls'), 0, '... no token request was sent';
    like log_since($from), qr/ALEPH00010: .*\(client id t-tls-name\).*token_endpoint_tls_error: .*localhost/,
        '... ALEPH00010 says why';

    # TLS 1.3: the refusal is an alert after the client's handshake.
    $from = log_mark();
    $res = get('/mtls-nocert/x');
    refused($res, 503, 'token_endpoint_tls_error', 'endpoint requiring a client certificate, none given');
    like log_since($from), qr/ALEPH00010: .*\(client id t-mtls-nocert\).*token_endpoint_tls_error: .*alert/,
        '... ALEPH00010 says why';
    is calls('t-mtls-nocert', 'mtls'), 0, '... no token request was accepted';

    $res = get('/mtls/x');
    is $res->code, 200, 'AlephClientCertificateFile/AlephClientKeyFile: mutual TLS works';
    is json_body($res)->{headers}{authorizationtoken}, 'Bearer tok-t-mtls-1', '... token injected';
    is calls('t-mtls', 'mtls'), 1, '... one token request at the mutual TLS endpoint';
}

# --- 3. Outbound proxy: explicit only ----------------------------------------
{
    my $res = get('/token-proxy/x');
    is $res->code, 200, 'AlephTokenProxy: a token URL unreachable directly works through the proxy';
    my $last = last_req('t-token-proxy') // {};
    ok $last->{via_proxy}, '... the token request came through the proxy (absolute form)';
    is $last->{headers}{host}, '127.0.0.1:1', '... addressed to the token URL';

    $res = get('/env-proxy/x');
    my $e = json_body($res);
    is $e->{headers}{'x-httpd-http-proxy'}, 'http://127.0.0.1:9',
        'httpd runs with http_proxy pointing at a dead port';
    is $res->code, 200, 'token requests ignore http_proxy/HTTPS_PROXY/ALL_PROXY';
    $last = last_req('t-env-proxy') // {};
    is $last->{via_proxy}, JSON::PP::false, '... the token request went direct';
}

# --- 4. Client headers never reach the upstream -------------------------------
my %spoof = ('Authorization' => 'Basic c3Bvb2Y6c3Bvb2Y=',
             'authorizationToken' => 'Bearer spoofed-token',
             'X-Satellogic-Contract-Id' => 'cont.spoofed');
{
    my $res = get('/aleph/hdr', %spoof);
    my $e = json_body($res);
    is $res->code, 200, '/aleph/ with client credential headers: forwarded';
    like $e->{headers}{authorizationtoken}, qr/^Bearer tok-t-json-\d+$/,
        '... the upstream sees the module\'s token';
    is $e->{headers}{'x-satellogic-contract-id'}, $contract, '... and the configured contract';
    ok !exists $e->{headers}{authorization}, '... and no Authorization at all';
    unlike $res->content, qr/spoof|c3Bvb2Y/, '... no client value reaches the upstream';

    # Other header names configured: the usual ones are dropped all the same.
    $res = get('/formbody/hdr', %spoof);
    $e = json_body($res);
    like $e->{headers}{'x-api-token'}, qr/tok-t-formbody-\d+$/,
        '/formbody/ (X-Api-Token, no contract): token injected';
    ok !exists $e->{headers}{$_}, "/formbody/: the client's $_ is dropped"
        for qw(authorization authorizationtoken x-satellogic-contract-id);

    $res = get('/form/hdr', %spoof);
    $e = json_body($res);
    like $e->{headers}{authorization}, qr/^Bearer tok-t-form-basic-\d+$/,
        '/form/ (Authorization Bearer): the client\'s Authorization is replaced';
    ok !exists $e->{headers}{$_}, "/form/: the client's $_ is dropped"
        for qw(authorizationtoken x-satellogic-contract-id);
}

# --- 5. Tokens never reach the client ------------------------------------------
{
    my $res = get('/sec-contracts', %spoof);
    is $res->code, 200, 'a real API path (/contracts) with the injected token';
    like $res->content, qr/"contract_id"/, '... the upstream accepted the token';
    is calls('t-sec-contracts'), 1, '... a token was issued (tok-t-sec-contracts-1)';

    # Token endpoints that send a token the module refuses.
    for my $case (['sec-notbearer', 'token_response_not_bearer'],
                  ['sec-badexpiry', 'token_response_invalid_expires_in']) {
        my ($scope, $code) = @$case;
        $res = get("/$scope/x");
        refused($res, 503, $code, "/$scope/: a refused token");
        is calls("t-$scope"), 1, "/$scope/: the endpoint did issue tok-t-$scope-1";
    }
    my @leaks = grep {
        my $r = $_;
        my $body = $r->code == 200 && ($r->header('Content-Type') // '') =~ /json/
                   && $r->content =~ /^\{"method"/ ? '' : $r->content;  # echoes show what upstream got
        ($r->headers->as_string . $body) =~ /tok-|\Q$secret\E/;
    } @seen;
    is scalar(@leaks), 0, 'no token or secret in any response header, error page or API body '
        . 'the client saw (' . scalar(@seen) . ' responses)';
}

# --- 6. Secrets and tokens never in logs or status ------------------------------
{
    # The log says what the endpoint answered, but not the secret it repeated.
    my $from = log_mark();
    my $res = get('/sec-echo-secret/x');
    refused($res, 503, 'token_endpoint_oauth_error', 'a token endpoint that repeats the secret');
    like log_since($from), qr/ALEPH00010: .*\(client id t-sec-echo-secret\).*wrong client_secret '\[secret\]'/,
        '... ALEPH00010 shows its description with the secret redacted';
    like +(last_req('t-sec-echo-secret') // {})->{fields}{client_secret} // '', qr/^\Q$secret\E$/,
        '... although it did receive the secret';
}
{
    my $from = log_mark();
    my $res = get('/sec-trace/x');
    is $res->code, 200, 'LogLevel aleph:trace8 scope: forwarded';
    $res = get('/sec-trace-all/x');
    is $res->code, 200, 'LogLevel trace8 scope (every module): forwarded';
    my $log = log_since($from);
    like $log, qr{\[proxy:trace\d\].*/sec-trace-all/}, '... trace8 was in effect';

    $from = log_mark();
    {
        local $Apache::TestRequest::Module = 'aleph_trace';
        $res = get('/vhost-trace/x', %spoof);
    }
    is $res->code, 200, 'virtual host at LogLevel trace8: forwarded';
    like log_since($from), qr{\[proxy_http:trace\d\].*vhost-trace}, '... trace8 was in effect';
}
my @rotated;
{
    # Secret rotation: rewrite the file, graceful restart, the new secret is used.
    my $file = "$vars->{t_conf}/rotating-secret.txt";
    my $res = get('/rotate/x');
    is $res->code, 200, 'rotating secret: forwarded';
    my $old = slurp($file) =~ s/\s+\z//r;
    push @rotated, $old;
    is +(last_req('t-rotate') // {})->{fields}{client_secret}, $old,
        '... the token request carried the secret of the file';
    my $new = "rotated-secret-$$-" . time;
    push @rotated, $new;
    write_file($file, "$new\n", 0600);
    my $before = calls('t-rotate');
    graceful_restart();
    # A child of the old generation may still take the first connection.
    for (1 .. 30) {
        $res = get('/rotate/y');
        last if calls('t-rotate') > $before;
        sleep 0.1;
    }
    is $res->code, 200, 'after rewriting the secret file and a graceful restart: forwarded';
    is calls('t-rotate'), $before + 1, '... with a new token request';
    is +(last_req('t-rotate') // {})->{fields}{client_secret}, $new,
        '... that carries the new secret';
    like json_body($res)->{headers}{authorizationtoken} // '',
        qr/^Bearer tok-t-rotate-\Q@{[$before + 1]}\E$/, '... and its token is injected';
    $res = get('/aleph/after-restart');
    is $res->code, 200, 'other scopes still work after the restart';
}
{
    my $res = get('/aleph-status');
    is $res->code, 200, 'status page';
    my $status = $res->content;
    like $status, qr/"client_id"\s*:\s*"t-rotate"/, '... lists the credentials';
    unlike $status, qr/tok-/, '... shows no token';
    unlike $status, qr/\Q$_\E/, "... nor the secret $_" for $secret, @rotated;

    my $log = log_since(0);
    like $log, qr/ALEPH00011: new token/, 'the error log has the module\'s debug messages';
    unlike $log, qr/tok-/, 'no issued token anywhere in the error log (all levels, all modules)';
    unlike $log, qr/\Q$_\E/, "no secret ($_) anywhere in the error log" for $secret, @rotated;
}

# --- 7. Start-up checks of the security directives -------------------------------
my $dir = tempdir(CLEANUP => 1);
my $module = abs_path('mod_aleph/.libs/mod_aleph.so');
write_file("$dir/secret", "s3cret-value\n", 0600);
{
    my ($rc, $out) = config_test("AlephCACertificateFile $dir/missing-ca.pem");
    isnt $rc, 0, 'AlephCACertificateFile naming a missing file fails apache2 -t';
    like $out, qr{AlephCACertificateFile: \Q$dir\E/missing-ca\.pem is not a readable file},
        '... and the message names the directive and the file';
    ($rc, $out) = config_test("AlephCACertificatePath $dir/secret");
    isnt $rc, 0, 'AlephCACertificatePath naming a file, not a folder, fails';
    like $out, qr/AlephCACertificatePath: .* is not a readable folder/, '... naming the directive';
    ($rc, $out) = config_test("AlephClientKeyFile $dir/missing.key");
    isnt $rc, 0, 'AlephClientKeyFile naming a missing file fails';
    like $out, qr/AlephClientKeyFile: .* is not a readable file/, '... naming the directive';
    ($rc, $out) = config_test("AlephTokenProxy socks5://proxy.example:1080");
    isnt $rc, 0, 'AlephTokenProxy must be an http(s) URL';
    like $out, qr/AlephTokenProxy: /, '... naming the directive';
    for my $bad ('https://api.satellogic.com/v1', 'http://api.satellogic.com@evil.example',
                 'api.satellogic.com') {
        ($rc, $out) = config_test("AlephUpstream $bad");
        isnt $rc, 0, "AlephUpstream $bad is refused";
        like $out, qr/AlephUpstream: '\Q$bad\E' is not an origin/, '... naming the directive';
    }
    my $scope = "<Location /x>\nAlephAuth On\nAlephClientID c1\nAlephClientSecret file:$dir/secret\n";
    ($rc, $out) = config_test("$scope AlephAudience none\n</Location>");
    is $rc, 0, 'AlephAuth On without AlephUpstream and without an https audience starts';
    like $out, qr{ALEPH00022: <Location /x> in server config: AlephAuth On without AlephUpstream},
        '... with warning ALEPH00022';
    ($rc, $out) = config_test("$scope AlephAudience none\nAlephUpstream https://api.example\n</Location>");
    unlike $out, qr/ALEPH00022/, 'no ALEPH00022 with an AlephUpstream';
    ($rc, $out) = config_test("$scope</Location>");
    unlike $out, qr/ALEPH00022/, 'no ALEPH00022 with the default (https) audience';

    for my $mode (0640, 0604) {
        write_file("$dir/open-secret", "s3cret-value\n", $mode);
        ($rc, $out) = config_test(
            "<Location /x>\nAlephAuth On\nAlephClientID c1\nAlephClientSecret file:$dir/open-secret\n</Location>");
        is $rc, 0, sprintf('a secret file of mode %04o starts', $mode);
        like $out, qr/ALEPH00003: .*the file \Q$dir\E\/open-secret can be read by other users/,
            '... with warning ALEPH00003';
        unlike $out, qr/s3cret-value/, '... which does not show the secret';
    }
    ($rc, $out) = config_test("$scope</Location>");
    unlike $out, qr/ALEPH00003/, 'no ALEPH00003 for a mode 600 secret file';
}

# SIGUSR1 to the parent; returns once the new generation answers.
sub graceful_restart {
    my $pid = httpd_pid();
    my $count = () = log_since(0) =~ /resuming normal operations/g;
    kill 'USR1', $pid or die "cannot signal httpd $pid: $!";
    for (1 .. 300) {
        my $now = () = log_since(0) =~ /resuming normal operations/g;
        last if $now > $count;
        sleep 0.1;
    }
    for (1 .. 300) {
        my $res = GET('/aleph/ping');
        return if $res->code == 200;
        sleep 0.1;
    }
    die "httpd did not come back after a graceful restart\n";
}

# `apache2 -t` of a minimal server with the given lines; (exit status, output).
sub config_test { apache2_t($dir, $module, @_) }
