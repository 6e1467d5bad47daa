#!/usr/bin/env perl
# Log tags: every log call in mod_aleph/*.c carries one ALEPHnnnnn tag, each
# tag is used at exactly one call site and documented in README.md, and
# every error-level message (ERR, CRIT, ALERT, EMERG) says what to do next.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use AlephTest qw(slurp);

# What a message that says what to do next contains (a heuristic).
my $advice = qr/\b(?:add|set|check|raise|use|give|make|see|list|pick|fix|restart|lower)\b/i;
my $error_level = qr/^(?:EMERG|ALERT|CRIT|ERR)$/;

my @files = sort glob('mod_aleph/*.c');
plan skip_all => 'no sources' unless @files;

# C text with comments blanked (string and character literals kept).
sub without_comments {
    my ($text) = @_;
    $text =~ s{("(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')|/\*.*?\*/|//[^\n]*}
              {defined $1 ? $1 : (my $c = $&) =~ s/[^\n]/ /gr}gse;
    return $text;
}

# The arguments of the call whose "(" is at $pos: up to the matching ")".
sub call_args {
    my ($text, $pos) = @_;
    my $depth = 0;
    pos($text) = $pos;
    while ($text =~ /\G(?:("(?:\\.|[^"\\])*")|('(?:\\.|[^'\\])*')|([()])|[^"'()]+)/gc) {
        next unless defined $3;
        $depth += $3 eq '(' ? 1 : -1;
        return substr($text, $pos + 1, pos($text) - $pos - 2) if $depth == 0;
    }
    return undef;
}

my (%sites, @calls);
for my $file (@files) {
    my $text = without_comments(slurp($file));
    while ($text =~ /ALEPH(\d{5})/g) {
        my $line = 1 + (substr($text, 0, $-[0]) =~ tr/\n//);
        push @{ $sites{"ALEPH$1"} }, "$file:$line";
    }
    while ($text =~ /\b(ap_log_\w*error|ALEPH_LOG_\w+)\s*\(/g) {
        my ($fn, $open) = ($1, $+[0] - 1);
        my $line = 1 + (substr($text, 0, $-[0]) =~ tr/\n//);
        my $args = call_args($text, $open) // '';
        # A logging macro's definition, or the calls in its body.
        next if $args =~ /__VA_ARGS__/ || substr($text, 0, $-[0]) =~ /#\s*define\s+$/;
        my $message = join '', map { s/^"|"$//gr } $args =~ /("(?:\\.|[^"\\])*")/g;
        my @levels = $args =~ /\bAPLOG_(EMERG|ALERT|CRIT|ERR|WARNING|NOTICE|INFO|DEBUG|TRACE\d)\b/g;
        push @calls, { where => "$file:$line", message => $message, levels => \@levels };
    }
}

ok scalar(keys %sites) > 0, 'tags found in mod_aleph/*.c';
my @dup = grep { @{ $sites{$_} } > 1 } sort keys %sites;
is_deeply \@dup, [], 'each tag is used at exactly one call site'
    or diag join "\n", map { "$_: @{ $sites{$_} }" } @dup;

my (%in_calls, @untagged, @vague, @no_level);
for my $call (@calls) {
    my @tags = $call->{message} =~ /\b(ALEPH\d{5}):/g;
    push @untagged, $call->{where} if @tags != 1;
    $in_calls{$_} = 1 for @tags;
    push @no_level, $call->{where} unless @{ $call->{levels} };
    push @vague, "$call->{where}: $call->{message}"
        if grep({ $_ =~ $error_level } @{ $call->{levels} }) && $call->{message} !~ $advice;
}
ok scalar(@calls) > 0, 'log calls found';
is_deeply \@untagged, [], 'every log call carries exactly one "ALEPHnnnnn:" tag';
is_deeply \@no_level, [], 'every log call names its level';
is_deeply [grep { !$in_calls{$_} } sort keys %sites], [], 'every tag is at a log call';
is_deeply \@vague, [], 'every error-level message says what to do next'
    or diag join "\n", @vague;

# README.md's table of log messages documents each tag, and no other.
my %documented = map { $_ => 1 } slurp('README.md') =~ /^\| (ALEPH\d{5}) \|/mg;
is_deeply [grep { !$documented{$_} } sort keys %sites], [], 'every tag is documented in README.md';
is_deeply [grep { !$sites{$_} } sort keys %documented], [], 'README.md documents no tag the code lacks';

done_testing();
