#!/usr/bin/env perl
# make install DESTDIR=...: the module, the Debian aleph.load/aleph.conf and
# the aleph command land in apxs's layout under DESTDIR (and nowhere else),
# a2enmod enables the module there, and the installed files work.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use lib 't/lib';
use AlephTest qw(slurp apache2_t);

my $apxs = $ENV{APXS} || 'apxs';
my %dir = map { $_ => scalar(`$apxs -q $_ 2>/dev/null`) =~ s/\s+$//r } qw(LIBEXECDIR SYSCONFDIR BINDIR);
plan skip_all => 'apxs not found' unless $dir{LIBEXECDIR};
plan tests => 17;

my $root = tempdir(CLEANUP => 1);
my $so = "$dir{LIBEXECDIR}/mod_aleph.so";
my $system_had_module = -e $so;
my $out = `make install DESTDIR=$root 2>&1`;
is $?, 0, 'make install DESTDIR=... succeeds' or diag $out;

ok -f "$root$so", "the module: $so";
my $avail = "$root$dir{SYSCONFDIR}/mods-available";
ok -f "$avail/aleph.load", 'mods-available/aleph.load';
ok -f "$avail/aleph.conf", 'mods-available/aleph.conf';
ok -x "$root$dir{BINDIR}/aleph", "the aleph command: $dir{BINDIR}/aleph";
is -e $so, $system_had_module, 'nothing was installed outside DESTDIR';

my $load = slurp("$avail/aleph.load");
like $load, qr/^LoadModule aleph_module \Q$so\E$/m, 'aleph.load loads the module from where it was installed';
like $load, qr/^# Depends: proxy proxy_http$/m, 'aleph.load depends on proxy and proxy_http';

is system("$root$dir{BINDIR}/aleph --help >/dev/null"), 0, 'the installed aleph command runs';

# The installed module and aleph.conf pass a configuration test.
(my $rc, $out) = apache2_t($root, "$root$so", "Include $avail/aleph.conf");
is $rc, 0, 'the installed module and aleph.conf pass apache2 -t' or diag $out;

# a2enmod aleph, in the temporary root: the module and its dependencies.
SKIP: {
    my $a2enmod = -x '/usr/sbin/a2enmod' ? '/usr/sbin/a2enmod' : undef;
    skip 'a2enmod not found', 7 unless $a2enmod;
    my $etc = "$root$dir{SYSCONFDIR}";
    mkdir "$etc/mods-enabled";
    for my $f (qw(proxy.load proxy.conf proxy_http.load)) {
        system('cp', "$dir{SYSCONFDIR}/mods-available/$f", "$avail/") == 0
            or skip "no $f to depend on", 7;
    }
    local $ENV{APACHE_CONFDIR} = $etc;
    local $ENV{APACHE_STATE_DIRECTORY} = "$root/state";
    $out = `$a2enmod aleph 2>&1`;
    is $?, 0, 'a2enmod aleph succeeds' or diag $out;
    for my $f (qw(aleph.load aleph.conf proxy.load proxy_http.load)) {
        is readlink("$etc/mods-enabled/$f"), "../mods-available/$f", "a2enmod enabled $f";
    }
    $out = `$a2enmod aleph 2>&1`;
    like $out, qr/Module aleph already enabled/, 'a second a2enmod aleph: already enabled';
    ok !-e "$dir{SYSCONFDIR}/mods-enabled/aleph.load" || $system_had_module,
        'the system configuration was not touched';
}
