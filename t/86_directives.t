#!/usr/bin/env perl
# Every directive in the code's command table is documented in README.md's
# directive table and in conf/example-site.conf, and the documentation
# names no Aleph... directive that the code lacks.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use AlephTest qw(slurp);

# Words of the form Aleph<Capital>... in the documentation that are not
# directives. None yet; a new one must be added here on purpose.
my %not_directives = map { $_ => 1 } ();

my $code = slurp('mod_aleph/mod_aleph_config.c');
my %directives = map { $_ => 1 } $code =~ /\bAP_INIT_\w+\(\s*"(Aleph\w+)"/g;
plan tests => 7;
cmp_ok scalar(keys %directives), '>=', 16, 'the command table lists the directives';

my $readme = slurp('README.md');
my $site = slurp('conf/example-site.conf');
my $modconf = slurp('conf/aleph.conf');

my %in_table = map { $_ => 1 } $readme =~ /^\| `(Aleph\w+)/mg;
is_deeply [grep { !$in_table{$_} } sort keys %directives], [],
    'every directive has a row in README.md\'s directive table';
# A directive line, in use or commented out: "    #AlephTimeout 10".
my %in_site = map { $_ => 1 } $site =~ /^[ \t]*#?[ \t]*(Aleph\w+)\b/mg;
is_deeply [grep { !$in_site{$_} } sort keys %directives], [],
    'every directive appears in conf/example-site.conf';

for my $doc (['README.md', $readme], ['conf/example-site.conf', $site],
             ['conf/aleph.conf', $modconf]) {
    my ($name, $text) = @$doc;
    my %words = map { $_ => 1 } $text =~ /\b(Aleph[A-Z]\w*)\b/g;
    is_deeply [grep { !$directives{$_} && !$not_directives{$_} } sort keys %words], [],
        "$name names no directive the code lacks";
}
my %all_words = map { $_ => 1 } "$readme$site$modconf" =~ /\b(Aleph[A-Z]\w*)\b/g;
is_deeply [grep { !$all_words{$_} } sort keys %not_directives], [],
    'the allowlist holds only words the documentation uses';
