# A backend scheme whose mod_proxy module never runs proxy_fixups (here
# ajp://) could not carry the token: such requests are refused with 502,
# before any token request, instead of being forwarded without credentials.
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use lib 't/lib';
use AlephTest qw(token_calls json_body log_mark log_since);

plan tests => 6, need_lwp;

my $mark = log_mark();
my $res = GET '/ajp/x';
is $res->code, 502, 'an ajp:// backend with AlephAuth On: 502';
is $res->header('Content-Type'), 'application/json', '... with a JSON body';
my $body = json_body($res) || {};
is $body->{error}, 'upstream_not_supported', '... error upstream_not_supported';
ok !defined $res->header('Retry-After'), '... and no Retry-After (retrying will not help)';
is token_calls('t-ajp'), 0, 'no token was requested for it';
like log_since($mark), qr/ALEPH00012: AlephAuth On, but the backend ajp:\/\/127\.0\.0\.1:9\/x is not an HTTP\(S\) or WebSocket URL/,
    'the error log names the backend';
