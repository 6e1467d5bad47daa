# mod_aleph — build, test, run and install (Debian 12, httpd 2.4).
# `make test` and `make run` install their own dependencies first.

APXS      ?= apxs
CC        ?= cc
APACHE2   ?= /usr/sbin/apache2
WARN       = -Wall -Wextra
EXTRA_CFLAGS ?=
EXTRA_LDFLAGS ?=
# SANITIZE=1: module and unit tests with AddressSanitizer and UBSan (gcc's
# runtimes; t/run-tests.sh preloads libasan into the httpd it starts).
SANITIZE  ?=
SAN_CFLAGS = $(if $(SANITIZE),-g -fsanitize=address$(comma)undefined -fno-omit-frame-pointer)
SAN_LIBS   = $(if $(SANITIZE),-lasan -lubsan)

CORE_SRC  = mod_aleph/aleph_http.c mod_aleph/aleph_token.c mod_aleph/aleph_contracts.c \
            mod_aleph/aleph_store.c mod_aleph/aleph_cache.c mod_aleph/aleph_policy.c \
            mod_aleph/aleph_credential.c mod_aleph/aleph_secret.c mod_aleph/aleph_origin.c
GLUE_SRC  = mod_aleph/mod_aleph.c mod_aleph/mod_aleph_config.c mod_aleph/mod_aleph_scopes.c \
            mod_aleph/mod_aleph_store.c mod_aleph/mod_aleph_proxy.c mod_aleph/mod_aleph_status.c \
            mod_aleph/mod_aleph_refresh.c mod_aleph/mod_aleph_retry.c mod_aleph/mod_aleph_contract.c
HEADERS   = $(wildcard mod_aleph/*.h)
MODULE    = mod_aleph/.libs/mod_aleph.so
# The aleph command: the same core, and a main of its own.
CLI       = mod_aleph/aleph
CLI_SRC   = mod_aleph/aleph_cli.c
# Where make install puts things: apxs's layout, under DESTDIR.
LIBEXECDIR ?= $(shell $(APXS) -q LIBEXECDIR)
SYSCONFDIR ?= $(shell $(APXS) -q SYSCONFDIR)
BINDIR     ?= $(shell $(APXS) -q BINDIR)

APR_CFLAGS = $(shell apr-1-config --cflags --cppflags --includes 2>/dev/null) \
             $(shell apu-1-config --includes 2>/dev/null)
APR_LIBS   = $(shell apr-1-config --link-ld --libs 2>/dev/null) \
             $(shell apu-1-config --link-ld 2>/dev/null)
UNIT_TESTS = $(patsubst t/unit/%.c,t/unit/bin/%,$(wildcard t/unit/test_*.c))

# Debian packages the build, the tests and the demo need.
DEPS = apache2 apache2-dev libcurl4-openssl-dev libjansson-dev libapache2-mod-perl2 \
       libwww-perl python3 curl openssl wrk valgrind clang libclang-rt-14-dev apache2-utils

.PHONY: all deps test unit fuzz fuzzers run bench install clean FORCE

all: $(MODULE) $(CLI)

$(MODULE): $(CORE_SRC) $(GLUE_SRC) $(HEADERS) mod_aleph/.build-flags
	cd mod_aleph && $(APXS) -c -n aleph -Wc,"$(WARN) $(EXTRA_CFLAGS) $(SAN_CFLAGS)" \
	    $(if $(EXTRA_LDFLAGS),-Wl$(comma)$(EXTRA_LDFLAGS)) \
	    -o mod_aleph.la $(notdir $(GLUE_SRC) $(CORE_SRC)) -lcurl -ljansson $(SAN_LIBS)

# Rewritten when the compiler flags change, so that switching SANITIZE
# (or EXTRA_CFLAGS) rebuilds everything.
BUILD_FLAGS = $(WARN) $(EXTRA_CFLAGS) $(SAN_CFLAGS) $(EXTRA_LDFLAGS)
mod_aleph/.build-flags: FORCE
	@echo '$(BUILD_FLAGS)' | cmp -s - $@ || echo '$(BUILD_FLAGS)' > $@

FORCE:

comma := ,

$(CLI): $(CLI_SRC) $(CORE_SRC) $(HEADERS)
	$(CC) $(WARN) -g -O2 $(EXTRA_CFLAGS) $(APR_CFLAGS) -Imod_aleph -o $@ $(CLI_SRC) $(CORE_SRC) \
	    $(APR_LIBS) -lcurl -ljansson $(EXTRA_LDFLAGS)

deps:
	@missing=$$(for p in $(DEPS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "Installing:" $$missing; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

t/unit/bin/%: t/unit/%.c $(CORE_SRC) $(HEADERS) $(wildcard t/unit/*.h) mod_aleph/.build-flags
	@mkdir -p t/unit/bin
	$(CC) $(WARN) -g $(EXTRA_CFLAGS) $(SAN_CFLAGS) $(if $(SANITIZE),-fno-sanitize-recover=undefined) \
	    $(APR_CFLAGS) -Imod_aleph -o $@ $< $(CORE_SRC) \
	    $(APR_LIBS) -lcurl -ljansson $(EXTRA_LDFLAGS)

unit: $(UNIT_TESTS)

# libFuzzer harnesses of the core (clang only), each run FUZZ_SECONDS.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS   = -g -O1 -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZERS       = $(patsubst t/fuzz/%.c,t/fuzz/bin/%,$(wildcard t/fuzz/fuzz_*.c))

t/fuzz/bin/%: t/fuzz/%.c $(CORE_SRC) $(HEADERS)
	@mkdir -p t/fuzz/bin
	$(FUZZ_CC) $(WARN) $(FUZZ_CFLAGS) $(APR_CFLAGS) -Imod_aleph -o $@ $< $(CORE_SRC) \
	    $(APR_LIBS) -lcurl -ljansson

fuzzers: $(FUZZERS)

fuzz: deps
	$(MAKE) fuzzers
	bash t/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZERS)

test: deps
	$(MAKE) all unit
	SANITIZE=$(SANITIZE) bash t/run-tests.sh

run: deps
	$(MAKE) all
	bash t/demo.sh

t/bench/bin/store_size: t/bench/store_size.c mod_aleph/aleph_store.c $(HEADERS)
	@mkdir -p t/bench/bin
	$(CC) $(WARN) -g $(EXTRA_CFLAGS) $(APR_CFLAGS) -Imod_aleph -o $@ t/bench/store_size.c \
	    mod_aleph/aleph_store.c $(APR_LIBS) $(EXTRA_LDFLAGS)

bench: deps
	$(MAKE) all t/bench/bin/store_size
	bash t/bench/bench.sh

# apxs -i installs into LIBEXECDIR as given, but does not create it. aleph.load
# names the module where this layout puts it.
install: all
	install -d $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(SYSCONFDIR)/mods-available
	$(APXS) -i -S LIBEXECDIR=$(DESTDIR)$(LIBEXECDIR) -n aleph mod_aleph/mod_aleph.la
	sed 's#/usr/lib/apache2/modules/#$(LIBEXECDIR)/#' conf/aleph.load \
	    > $(DESTDIR)$(SYSCONFDIR)/mods-available/aleph.load
	chmod 644 $(DESTDIR)$(SYSCONFDIR)/mods-available/aleph.load
	install -m 644 conf/aleph.conf $(DESTDIR)$(SYSCONFDIR)/mods-available/aleph.conf
	install -D -m 755 $(CLI) $(DESTDIR)$(BINDIR)/aleph

clean:
	rm -rf $(CLI) mod_aleph/.libs mod_aleph/.build-flags mod_aleph/*.la mod_aleph/*.lo mod_aleph/*.slo mod_aleph/*.o \
	       t/unit/bin t/bench/bin t/fuzz/bin t/fuzz/artifacts t/conf/apache_test_config.pm t/conf/httpd.conf t/conf/extra.conf \
	       t/logs t/htdocs/index.html t/conf/tls t/conf/rotating-secret.txt t/conf/cache-size.conf
