# SetHandler aleph-status: the token cache state as JSON, with fingerprints
# only, never a token or a secret.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET POST);
use Apache::TestUtil;
use HTTP::Date ();
use lib 't/lib';
use AlephTest qw(token_calls json_body by_client_id);

plan tests => 71, need_lwp;

# Make sure t-json holds a token and t-status-fail has failed.
is GET('/aleph/for-status')->code, 200, '/aleph/ forwarded (t-json has a token)';
is GET('/status-fail/x')->code, 503, '/status-fail/ refused (t-status-fail has failed)';

my $res = GET '/aleph-status';
is $res->code, 200, 'GET /aleph-status';
is $res->content_type, 'application/json', 'the status is JSON';
my $body = $res->content;
my $doc = json_body($res);
is ref $doc->{credentials}, 'ARRAY', 'a "credentials" array';
my %by_id = %{ by_client_id($doc) };

my $j = $by_id{'t-json'} || {};
is $j->{state}, 'valid', 't-json: state valid';
like $j->{token} // '', qr/^[0-9a-f]{12}$/, 't-json: the token is shown as a 12-hex fingerprint';
cmp_ok $j->{token_requests} // 0, '>=', 1, 't-json: token_requests >= 1';
is $j->{token_requests}, token_calls('t-json'),
    't-json: token_requests matches the calls the token endpoint saw';
is $j->{failures}, 0, 't-json: no failures';
cmp_ok $j->{expires_in} // 0, '>', 3600, 't-json: expires_in from the 86400 s lifetime';
is $j->{audience}, 'https://api.satellogic.com/', 't-json: audience';
like $j->{credential} // '', qr/^[0-9a-f]{12}$/, 't-json: credential fingerprint';

like $j->{expires_at} // '', qr/^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/,
    't-json: expires_at is an HTTP date';
my $expires_at = eval { HTTP::Date::str2time($j->{expires_at}) } // 0;
cmp_ok abs($expires_at - (time + ($j->{expires_in} // 0))), '<=', 2,
    't-json: expires_at is expires_in seconds from now';
cmp_ok $j->{injections} // 0, '>=', 1, 't-json: the forwarded request was counted';

my $f = $by_id{'t-status-fail'} || {};
ok %$f, 'the failing credential is listed';
is $f->{injections}, 0, 't-status-fail: refused requests are not counted as injections';
is $f->{expires_at}, undef, 't-status-fail: no expires_at without a token';
is $f->{token}, undef, 't-status-fail: no token';
like $f->{state} // '', qr/^(?:backing_off|none)$/, 't-status-fail: backing off (or none)';
cmp_ok $f->{failures} // 0, '>=', 1, 't-status-fail: failures counted';
like $f->{last_error} // '', qr/token_endpoint_http_error/, 't-status-fail: last_error says why';

# Credentials that are only configured still appear, without a token.
my $l = $by_id{'t-local'} || {};
ok %$l, 'a credential never used (t-local) is listed';
is $l->{token}, undef, 't-local: no token';
is $l->{injections}, 0, 't-local: locally served requests are not counted';

# Secrets and tokens never appear.
unlike $body, qr/tok-/, 'no token in the status output';
unlike $body, qr/fake-secret/, 'no secret in the status output';
my %fps = map { ($_->{token} // '') => 1 } grep { $_->{token} } @{ $doc->{credentials} || [] };
ok !grep({ /tok/ } keys %fps), 'fingerprints are not tokens';
is $res->header('Cache-Control'), 'no-store', 'the status is not cached';

# Other methods are refused; the status page is read-only.
$res = POST '/aleph-status', content => 'x=1';
is $res->code, 405, 'POST /aleph-status: 405';
unlike $res->content, qr/tok-|fake-secret/, 'POST /aleph-status: nothing leaks';

# Two requests for the same credential agree on the fingerprint.
my $again = json_body(GET('/aleph-status'));
my ($j2) = grep { ($_->{client_id} // '') eq 't-json' } @{ $again->{credentials} || [] };
is +($j2 || {})->{token}, $j->{token}, 'the fingerprint is stable';

# Each forwarded request counts once, whatever mod_proxy does with it.
GET("/aleph/count/$_") for 1 .. 5;
my $after = json_body(GET('/aleph-status'));
my ($j3) = grep { ($_->{client_id} // '') eq 't-json' } @{ $after->{credentials} || [] };
is +($j3 || {})->{injections}, ($j2 || {})->{injections} + 5, 't-json: 5 more requests, 5 more injections';

# ?format=prometheus: the same state as Prometheus text exposition.
$res = GET '/aleph-status?format=prometheus';
is $res->code, 200, 'GET /aleph-status?format=prometheus';
like $res->header('Content-Type') // '', qr{^text/plain; version=0\.0\.4}, 'Prometheus content type';
is $res->header('Cache-Control'), 'no-store', 'the metrics are not cached';
my $prom = $res->content;
my $status_now = json_body(GET('/aleph-status'));
my %now_by_id = %{ by_client_id($status_now) };

# Every line is a comment or a sample: name{labels} value.
my $label = qr/[a-z_]+="(?:[^"\\\n]|\\["\\n])*"/;
my @bad = grep { !/^# (?:HELP|TYPE) aleph_\w+ \S/ && !/^aleph_[a-z_]+(?:\{$label(?:,$label)*\})? -?\d+$/ }
    split /\n/, $prom;
is_deeply \@bad, [], 'every line is a HELP/TYPE comment or an aleph_ sample' or diag explain \@bad;
for my $m (qw(aleph_token_requests_total aleph_token_failures_total aleph_injections_total)) {
    like $prom, qr/^# TYPE $m counter$/m, "$m is a counter";
    like $prom, qr/^# HELP $m \S/m, "$m has help";
}
for my $m (qw(aleph_token_expires_in_seconds aleph_token_state aleph_store_slots_used aleph_store_slots)) {
    like $prom, qr/^# TYPE $m gauge$/m, "$m is a gauge";
}
my $fp = $j->{credential} // 'none';
my $jl = qq{credential="$fp",client_id="t-json"};
like $prom, qr/^aleph_token_requests_total\{\Q$jl\E\} $now_by_id{'t-json'}{token_requests}$/m,
    't-json: token requests as in the JSON status';
like $prom, qr/^aleph_injections_total\{\Q$jl\E\} $now_by_id{'t-json'}{injections}$/m,
    't-json: injections as in the JSON status';
like $prom, qr/^aleph_token_state\{\Q$jl\E,state="valid"\} 1$/m, 't-json: state valid is 1';
like $prom, qr/^aleph_token_state\{\Q$jl\E,state="none"\} 0$/m, 't-json: state none is 0';
like $prom, qr/^aleph_token_expires_in_seconds\{\Q$jl\E\} \d+$/m, 't-json: expires in';
my $fl = qq{credential="$f->{credential}",client_id="t-status-fail"};
like $prom, qr/^aleph_token_failures_total\{\Q$fl\E\} [1-9]\d*$/m, 't-status-fail: failures';
unlike $prom, qr/^aleph_token_expires_in_seconds\{\Q$fl\E\}/m, 't-status-fail: no expiry without a token';
my %ones;
$ones{$1}++ while $prom =~ /^aleph_token_state\{(credential="\w+").*\} 1$/mg;
is_deeply [grep { $ones{$_} != 1 } keys %ones], [], 'each credential is in exactly one state';
like $prom, qr/^aleph_token_requests_total\{credential="\w+",client_id="t-\\"quoted\\\\id"\} 0$/m,
    'label values are escaped (" and \\)';
like $prom, qr/^aleph_store_slots $status_now->{store_slots}$/m, 'store slots';
like $prom, qr/^aleph_store_slots_used $status_now->{store_slots_used}$/m, 'store slots used';
unlike $prom, qr/tok-|fake-secret/, 'no token or secret in the metrics';

is GET('/aleph-status?format=xml')->code, 400, 'an unknown format is refused';

# mod_status's server-status page has a mod_aleph section.
$res = GET '/server-status';
is $res->code, 200, 'GET /server-status';
my $html = $res->content;
like $html, qr{<h2>mod_aleph</h2>}, 'server-status: a mod_aleph section';
like $html, qr{<td>\Q$fp\E</td><td>t-json</td><td>valid</td>}, 'server-status: t-json is valid';
like $html, qr{<td>t-&quot;quoted\\id</td>}, 'server-status: client ids are HTML-escaped';
unlike $html, qr/tok-|fake-secret/, 'server-status: no token or secret';

$res = GET '/server-status?auto';
is $res->code, 200, 'GET /server-status?auto';
my $auto = $res->content;
my %auto = $auto =~ /^(Aleph [A-Za-z ]+): (\d+)$/mg;
is $auto{'Aleph Credentials'}, scalar @{ $status_now->{credentials} }, '?auto: Aleph Credentials';
cmp_ok $auto{'Aleph Injections'} // 0, '>=', $now_by_id{'t-json'}{injections}, '?auto: Aleph Injections';
is $auto{'Aleph Store Slots'}, $status_now->{store_slots}, '?auto: Aleph Store Slots';
unlike $auto, qr/tok-|fake-secret/, '?auto: no token or secret';
