# AlephContract auto: the contract is looked up at first use with the
# scope's token (GET /contracts, no contract header), once per credential
# across the server, and kept; several contracts or none refuse requests
# with 503 and say in the error log what to do.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Apache::TestUtil;
use LWP::UserAgent;
use lib 't/lib';
use AlephTest qw(fake_get token_calls api_calls json_body by_client_id server_url log_mark log_since burst);

my $BURST = 30;
my $ONE = 'cont.3f2a9c1e-6863-4375-a89e-c832b32a5350';
my $TWO = 'cont.9b7d0e44-1c2f-4d5e-8a6b-0f1e2d3c4b5a';

plan tests => 40, need_lwp;

my $base = server_url();
my $log_offset = log_mark();

sub contracts_calls { api_calls('/contracts') }
sub new_log { log_since($log_offset) }

# One contract: used, from the first request on, and looked up once.
my $calls = contracts_calls();
my $res = GET '/auto-one/a', 'X-Satellogic-Contract-Id' => 'cont.chosen-by-client';
is $res->code, 200, 'one contract: forwarded';
my $seen = json_body($res);
is $seen->{headers}{'x-satellogic-contract-id'}, $ONE, 'one contract: its id is sent, not the client\'s';
like $seen->{headers}{authorizationtoken} // '', qr/^Bearer tok-t-auto-one-\d+$/, 'one contract: the token too';
is contracts_calls(), $calls + 1, 'one contract: looked up once';
my $lookup = fake_get('/_api_last?prefix=/contracts');
is $lookup->{query}, 'contracts=one', 'the lookup went to AlephContractsURL';
like $lookup->{headers}{authorizationtoken} // '', qr/^Bearer tok-t-auto-one-\d+$/,
    'the lookup carried the scope\'s token';
ok !exists $lookup->{headers}{'x-satellogic-contract-id'}, 'the lookup carried no contract header';
for my $i (1 .. 5) {
    GET "/auto-one/again/$i";
}
is contracts_calls(), $calls + 1, 'one contract: kept, no lookup for 5 more requests';
is json_body(GET '/auto-one/b')->{headers}{'x-satellogic-contract-id'}, $ONE, 'and still sent';
like new_log(), qr/ALEPH00040: AlephContract auto: credential \w+ \(client id t-auto-one\) uses \Q$ONE\E \(Enterprise Imagery Access\)/,
    'the log says which contract was chosen';

# Inner scopes still choose for themselves.
is json_body(GET '/auto-one/explicit/x')->{headers}{'x-satellogic-contract-id'}, 'cont.explicit',
    'an inner AlephContract ID overrides auto';
$seen = json_body(GET '/auto-one/none/x', 'X-Satellogic-Contract-Id' => 'cont.chosen-by-client');
ok !exists $seen->{headers}{'x-satellogic-contract-id'}, 'an inner AlephContract none sends none';
ok $seen->{token_valid}, '... and the token';

# The status page shows the contract found.
my %by_id = %{ by_client_id(json_body(GET('/aleph-status'))) };
is $by_id{'t-auto-one'}{contract}, $ONE, 'status: the contract found';
is $by_id{'t-json'}{contract}, undef, 'status: none for a credential without auto';

# Several contracts: refused, and the log lists them to pick from.
$calls = contracts_calls();
my $api = api_calls('/echo/auto-many/');
$res = GET '/auto-many/x';
is $res->code, 503, 'several contracts: 503';
is $res->content_type, 'application/json', 'several contracts: JSON';
my $body = json_body($res);
is $body->{error}, 'contract_ambiguous', 'several contracts: contract_ambiguous';
like $body->{detail} // '', qr/several contracts/, 'several contracts: the detail says so';
like $res->header('Retry-After') // '', qr/^\d+$/, 'several contracts: Retry-After';
my ($listed) = new_log() =~ /(ALEPH00041: .*)/;
like $listed // '', qr/\(client id t-auto-many\) has 2 contracts at \S+contracts; pick one and set it with AlephContract ID/,
    'several contracts: the log says to pick one';
like $listed // '', qr/\Q$ONE\E \(Enterprise Imagery Access\), \Q$TWO\E \(Tasking Pilot\)/,
    'several contracts: the log lists ids and names';
is GET('/auto-many/y')->code, 503, 'several contracts: refused again';
is json_body(GET '/auto-many/z')->{error}, 'contract_ambiguous', 'several contracts: same code while backing off';
is contracts_calls(), $calls + 1, 'several contracts: no new lookup while backing off';
is api_calls('/echo/auto-many/'), $api, 'several contracts: nothing forwarded';
unlike new_log(), qr/tok-|fake-secret/, 'no token or secret in the log';

# No contracts.
$res = GET '/auto-none/x';
is $res->code, 503, 'no contracts: 503';
is json_body($res)->{error}, 'contract_none', 'no contracts: contract_none';
like new_log(), qr/ALEPH00042: AlephContract auto: credential \w+ \(client id t-auto-none\) has no contracts at \S+; check the credential/,
    'no contracts: the log says so';

# The contracts endpoint is down.
$res = GET '/auto-down/x';
is $res->code, 503, 'contracts endpoint down: 503';
is json_body($res)->{error}, 'contracts_endpoint_unreachable', 'contracts endpoint down: the reason';
like new_log(), qr/ALEPH00043: AlephContract auto: the contracts request for credential \w+ \(client id t-auto-down\) to http:\/\/127\.0\.0\.1:1\/contracts failed: contracts_endpoint_unreachable/,
    'contracts endpoint down: the log says why';
is json_body(GET '/auto-down/y')->{error}, 'contracts_endpoint_backoff', 'contracts endpoint down: then backs off';

# A cold burst against a slow contracts endpoint: one lookup for all.
$calls = contracts_calls();
my $client = LWP::UserAgent->new(keep_alive => 0, timeout => 60);
my (undef, @lines) = burst($BURST, sub {
    my $r = $client->get("$base/auto-burst/item/$_[0]");
    my $h = json_body($r)->{headers} || {};
    return join ' ', $r->code, $h->{'x-satellogic-contract-id'} // 'none';
});
my %got;
$got{$_}++ for @lines;
is_deeply \%got, { "200 $ONE" => $BURST }, "burst: all $BURST requests forwarded with the contract"
    or diag explain \%got;
is contracts_calls(), $calls + 1, 'burst: exactly one contracts request';
is token_calls('t-auto-burst'), 1, 'burst: and one token request';

# The counters count forwarded requests only.
%by_id = %{ by_client_id(json_body(GET('/aleph-status'))) };
is $by_id{'t-auto-many'}{injections}, 0, 'refused requests are not injections';
is $by_id{'t-auto-burst'}{injections}, $BURST, "the burst: $BURST injections";
is $by_id{'t-auto-burst'}{contract}, $ONE, 'the burst credential: its contract';
