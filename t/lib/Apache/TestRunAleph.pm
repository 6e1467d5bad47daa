package Apache::TestRunAleph;
# Apache::TestRun as root: Apache::Test sets User nobody / Group nogroup
# itself, so the refusal to run as root only gets in the way.
use strict;
use warnings FATAL => 'all';
use parent 'Apache::TestRun';

sub check_runtime_user { 1 }

1;
