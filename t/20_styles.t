# Token request styles: what the fake token endpoint received from each
# scope (Aleph JSON; RFC 6749 form + HTTP Basic; form with body credentials).
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Apache::TestUtil;
use lib 't/lib';
use AlephTest qw(fake_get token_calls json_body);

plan tests => 47, need_lwp;


# Each scope forwards once, so that its token request has happened.
my %res;
for my $scope (qw(aleph form formbody)) {
    $res{$scope} = GET("/$scope/style");
}

# --- /aleph/: Aleph's documented JSON request -----------------------------
is $res{aleph}->code, 200, '/aleph/ forwarded';
my $last = fake_get('/_last?client_id=t-json') || {};
is $last->{method}, 'POST', 'JSON style: POST';
like $last->{path}, qr{/oauth/token$}, 'JSON style: to the token URL';
like $last->{content_type} // '', qr{^application/json\b}, 'JSON style: Content-Type application/json';
is $last->{body_kind}, 'json', 'JSON style: the body is a JSON object';
is $last->{parse_error}, undef, 'JSON style: the body parses';
my $f = $last->{fields} || {};
is $f->{client_id}, 't-json', 'JSON style: client_id';
is $f->{client_secret}, 'fake-secret', 'JSON style: client_secret from file:';
is $f->{audience}, 'https://api.satellogic.com/', 'JSON style: audience with the trailing slash';
is $f->{grant_type}, 'client_credentials', 'JSON style: grant_type';
ok !exists $f->{scope}, 'JSON style: no scope';
is_deeply [sort keys %$f], [qw(audience client_id client_secret grant_type)],
    'JSON style: exactly the four documented fields';
is $last->{basic}, undef, 'JSON style: no HTTP Basic';
ok !exists $last->{headers}{authorization}, 'JSON style: no Authorization header';

# --- /form/: RFC 6749 form body, client_secret_basic ----------------------
is $res{form}->code, 200, '/form/ forwarded';
$last = fake_get('/_last?client_id=' . uri_escape('t-form:basic')) || {};
is $last->{method}, 'POST', 'form style: POST';
like $last->{content_type} // '', qr{^application/x-www-form-urlencoded\b},
    'form style: Content-Type application/x-www-form-urlencoded';
is $last->{body_kind}, 'form', 'form style: the body is form-encoded';
is $last->{parse_error}, undef, 'form style: the body parses';
my $b = $last->{basic} || {};
ok $b->{ok}, 'form style: HTTP Basic credentials sent and decodable';
like $b->{header} // '', qr/^Basic [A-Za-z0-9+\/]+=*$/, 'form style: Authorization: Basic <base64>';
is $b->{raw_id}, 't-form%3Abasic', 'form style: the client id is form-encoded before Basic (RFC 6749 2.3.1)';
is $b->{client_id}, 't-form:basic', 'form style: the fake decodes it back to t-form:basic';
is $b->{raw_secret}, 'fake-secret', 'form style: the secret (env:) is in the Basic credentials';
$f = $last->{fields} || {};
is $f->{grant_type}, 'client_credentials', 'form style: grant_type';
is $f->{scope}, 'api:tasking api:delivery', 'form style: scope';
ok !exists $f->{audience}, 'form style: AlephAudience none sends no audience';
ok !exists $f->{client_secret}, 'form style: no client_secret in the body';
ok !exists $f->{client_id}, 'form style: no client_id in the body';
like $last->{body} // '', qr/(?:^|&)scope=api(?:%3A|:)tasking(?:\+|%20)api(?:%3A|:)delivery(?:&|$)/,
    'form style: the scope is form-encoded on the wire';
is token_calls(uri_escape('t-form:basic')), 1,
    'form style: one token request, counted under t-form:basic';
my $e = json_body($res{form});
is $e->{headers}{authorization}, 'Bearer tok-t-form-basic-1',
    'form style: the token arrives upstream as Authorization: Bearer';
ok !exists $e->{headers}{authorizationtoken}, 'form style: no authorizationToken header';

# A client's own Authorization is replaced where Authorization carries the token.
my $r = GET '/form/spoof', Authorization => 'Bearer spoofed';
$e = json_body($r);
is $e->{headers}{authorization}, 'Bearer tok-t-form-basic-1',
    "form style: the client's Authorization is replaced";
unlike $r->content, qr/spoofed/, 'form style: the spoofed value never arrives';

# --- /formbody/: form body, client_secret_post ---------------------------
is $res{formbody}->code, 200, '/formbody/ forwarded';
$last = fake_get('/_last?client_id=t-formbody') || {};
like $last->{content_type} // '', qr{^application/x-www-form-urlencoded\b},
    'formbody style: Content-Type application/x-www-form-urlencoded';
is $last->{body_kind}, 'form', 'formbody style: the body is form-encoded';
is $last->{parse_error}, undef, 'formbody style: the body parses';
is $last->{basic}, undef, 'formbody style: no HTTP Basic';
$f = $last->{fields} || {};
is $f->{client_id}, 't-formbody', 'formbody style: client_id in the body';
is $f->{client_secret}, 'fake-secret', 'formbody style: client_secret in the body';
is $f->{grant_type}, 'client_credentials', 'formbody style: grant_type';
is $f->{audience}, 'https://api.satellogic.com/', 'formbody style: default audience';
ok !exists $f->{scope}, 'formbody style: no scope';
like $last->{body} // '', qr{(?:^|&)audience=https%3A%2F%2Fapi\.satellogic\.com%2F(?:&|$)},
    'formbody style: the audience is form-encoded on the wire';
$e = json_body($res{formbody});
like $e->{headers}{'x-api-token'} // '', qr/tok-t-formbody-\d+$/,
    'formbody style: the token arrives upstream in X-Api-Token';

sub uri_escape {
    my $s = shift;
    $s =~ s/([^A-Za-z0-9._~-])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}
