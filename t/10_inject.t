# Injection: which requests get the token and contract headers, and that a
# client's own copies of them never reach the upstream.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET POST);
use Apache::TestUtil;
use LWP::UserAgent;
use lib 't/lib';
use AlephTest qw(token_calls api_calls json_body server_url);

plan tests => 54, need_lwp;

my $contract = 'cont.3f2a9c1e-6863-4375-a89e-c832b32a5350';

# --- /aleph/: the Aleph defaults --------------------------------------
my $res = GET '/aleph/archive/stac/search?limit=2&q=a%20b';
is $res->code, 200, '/aleph/ is forwarded';
my $e = json_body($res);
is $e->{path}, '/echo/aleph/archive/stac/search', 'the path reaches the upstream';
is $e->{query}, 'limit=2&q=a%20b', 'the query string passes through unchanged';
like $e->{headers}{authorizationtoken}, qr/^Bearer tok-t-json-\d+$/,
    'authorizationToken: Bearer <token> is injected';
my ($n) = ($e->{headers}{authorizationtoken} // '') =~ /tok-t-json-(\d+)$/;
$n //= -1;
is $e->{headers}{'x-satellogic-contract-id'}, $contract, 'the contract header is injected';
ok $e->{token_valid}, 'the upstream accepts the token';
is $e->{token_client_id}, 't-json', 'the token was issued to t-json';
ok !exists $e->{headers}{authorization}, 'no Authorization header is added';
my $calls = token_calls('t-json');
is $calls, $n, 'the forwarded token is the latest one issued for t-json';
ok $calls >= 1, 'a token was requested for t-json';

# A second request reuses the cached token: no new token request.
$res = GET '/aleph/contracts-like/2';
$e = json_body($res);
is $res->code, 200, 'second request forwarded';
is $e->{headers}{authorizationtoken}, "Bearer tok-t-json-$n", 'second request: same token';
is token_calls('t-json'), $calls, 'second request: no new token request';

# --- spoofed headers are replaced ---------------------------------------
$res = GET '/aleph/spoof',
    'authorizationToken'       => ['Bearer spoofed-one', 'Bearer spoofed-two'],
    'X-Satellogic-Contract-Id' => ['cont.spoofed-a', 'cont.spoofed-b'];
$e = json_body($res);
is $res->code, 200, 'request with spoofed headers forwarded';
is $e->{headers}{authorizationtoken}, "Bearer tok-t-json-$n",
    'spoofed authorizationToken replaced by exactly one copy of the real one';
is $e->{headers}{'x-satellogic-contract-id'}, $contract,
    'spoofed contract replaced by exactly one copy of the configured one';
unlike $res->content, qr/spoofed/, 'no spoofed value reaches the upstream';

# Header names are case-insensitive: a differently cased copy is removed too.
$res = GET '/aleph/spoof-case',
    'AUTHORIZATIONTOKEN'       => 'Bearer spoofed-upper',
    'x-satellogic-contract-id' => 'cont.spoofed-lower';
$e = json_body($res);
is $e->{headers}{authorizationtoken}, "Bearer tok-t-json-$n",
    'upper-case spoofed token header replaced';
is $e->{headers}{'x-satellogic-contract-id'}, $contract,
    'lower-case spoofed contract header replaced';
unlike $res->content, qr/spoofed/, 'no differently cased spoofed value reaches the upstream';

# --- POST bodies pass through --------------------------------------------
my $body = '{"aoi":{"type":"Point","coordinates":[-58.38,-34.6]},"note":"x&y=z"}';
$res = POST '/aleph/tasking/tasks/?dry=1', content => $body,
    'Content-Type' => 'application/json';
$e = json_body($res);
is $res->code, 200, 'POST forwarded';
is $e->{method}, 'POST', 'the method passes through';
is $e->{body}, $body, 'the POST body passes through unchanged';
is $e->{query}, 'dry=1', 'the POST query string passes through';
is $e->{headers}{'content-type'}, 'application/json', 'the content type passes through';
is $e->{headers}{authorizationtoken}, "Bearer tok-t-json-$n", 'POST: token injected';
is $e->{headers}{'x-satellogic-contract-id'}, $contract, 'POST: contract injected';

# --- /local/: AlephAuth On, but served by the server itself -------------
my $api_before = api_calls('/');
$res = GET '/local/file.json', 'authorizationToken' => 'Bearer client-own';
is $res->code, 200, '/local/file.json is served locally';
is $res->content, qq({"local":true}\n), 'the local file is what comes back';
unlike $res->as_string, qr/tok-/, 'no token appears in a local response';
is token_calls('t-local'), 0, 'a local request causes no token request';
is api_calls('/'), $api_before, 'a local request reaches no upstream';

# --- /plain/: forwarded, AlephAuth Off ------------------------------------
$res = GET '/plain/x?y=1';
$e = json_body($res);
is $res->code, 200, '/plain/ is forwarded';
is $e->{path}, '/echo/plain/x', '/plain/ path';
ok !exists $e->{headers}{authorizationtoken}, 'AlephAuth Off: no token header';
ok !exists $e->{headers}{'x-satellogic-contract-id'}, 'AlephAuth Off: no contract header';
$res = GET '/plain/own', 'authorizationToken' => 'Bearer client-own',
    'X-Satellogic-Contract-Id' => 'cont.client-own';
$e = json_body($res);
is $e->{headers}{authorizationtoken}, 'Bearer client-own',
    "AlephAuth Off: the client's own token header passes unchanged";
is $e->{headers}{'x-satellogic-contract-id'}, 'cont.client-own',
    "AlephAuth Off: the client's own contract header passes unchanged";
is token_calls('t-plain'), 0, 'AlephAuth Off: no token request';

# --- /formbody/: bare token in X-Api-Token, no contract header ------------
my $fb_before = token_calls('t-formbody');
$res = GET '/formbody/items', 'X-Api-Token' => 'spoofed-api-token',
    'X-Satellogic-Contract-Id' => 'cont.spoofed-formbody';
$e = json_body($res);
is $res->code, 200, '/formbody/ is forwarded';
my $fb_calls = token_calls('t-formbody');
ok $fb_calls >= 1, 'a token was requested for t-formbody';
my $api_token = $e->{headers}{'x-api-token'};
like $api_token, qr/(?:^|\s)tok-t-formbody-$fb_calls$/,
    'X-Api-Token carries the token, exactly one copy';
is $api_token, "tok-t-formbody-$fb_calls",
    'X-Api-Token carries the bare token (AlephTokenHeader X-Api-Token "")';
ok !exists $e->{headers}{authorizationtoken}, '/formbody/: no authorizationToken header';
ok !exists $e->{headers}{'x-satellogic-contract-id'},
    '/formbody/: AlephContract none sends no contract header and drops the client\'s';
unlike $res->content, qr/spoofed/, '/formbody/: no spoofed value reaches the upstream';
$res = GET '/formbody/again';
$e = json_body($res);
is $e->{headers}{'x-api-token'}, $api_token, '/formbody/: cached token reused';
is token_calls('t-formbody'), $fb_calls, '/formbody/: no new token request';

# --- one credential, one token --------------------------------------------
is token_calls('t-json'), $calls, 'all /aleph/ requests above cost no further token request';

# Many sequential requests on fresh connections: still the same token.
my $ua = LWP::UserAgent->new(keep_alive => 0, timeout => 30);
my $base = server_url();
my %seen;
my $ok = 0;
for my $i (1 .. 20) {
    my $r = $ua->get("$base/aleph/loop/$i");
    $ok++ if $r->code == 200;
    $seen{ json_body($r)->{headers}{authorizationtoken} // 'none' }++;
}
is $ok, 20, '20 requests on fresh connections all forwarded';
is_deeply [keys %seen], ["Bearer tok-t-json-$n"], '... all with the same token';
is token_calls('t-json'), $calls, '... without any further token request';

# The response to the client never carries the token.
$res = GET '/aleph/response-headers';
my $head = $res->headers->as_string;
unlike $head, qr/tok-t-json/, 'the token is not in the response headers';
ok !defined $res->header('authorizationToken'), 'no authorizationToken response header';
