/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/* Prints the shared-memory store's size: per credential, and for N slots. */
#include <stdio.h>
#include <stdlib.h>

#include "aleph_store.h"

int main(int argc, char **argv)
{
    unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 64;

    printf("%lu %lu %lu\n", (unsigned long)(aleph_store_size(1) - aleph_store_size(0)),
           (unsigned long)aleph_store_size(n), (unsigned long)aleph_store_size(0));
    return 0;
}
