#!/usr/bin/env perl
# Runs the unit tests of the portable core (built by `make unit`); each
# prints TAP, which this script passes on as one subtest per binary.
use strict;
use warnings;
use Test::More;

my @bins = sort glob('t/unit/bin/test_*');
plan skip_all => 'unit tests not built (run make unit)' unless @bins;
for my $bin (@bins) {
    subtest $bin => sub {
        my $out = `$bin 2>&1`;
        my $rc = $? >> 8;
        my ($n_ok, $n_not) = (0, 0);
        for (split /\n/, $out) {
            if (/^not ok/) { $n_not++; diag($_) }
            elsif (/^ok/) { $n_ok++ }
            elsif (/^#/) { note($_) }
        }
        ok($n_ok > 0, "$bin ran tests ($n_ok passed)");
        is($n_not, 0, "$bin: no failed assertions");
        is($rc, 0, "$bin exit status");
    };
}
done_testing();
