# mod_aleph — build, test, run and install (Debian 12, httpd 2.4).
# `make test` and `make run` install their own dependencies first.

APXS      ?= apxs
CC        ?= cc
APACHE2   ?= /usr/sbin/apache2
WARN       = -Wall -Wextra
EXTRA_CFLAGS ?=
EXTRA_LDFLAGS ?=

CORE_SRC  = mod_aleph/aleph_token.c mod_aleph/aleph_store.c mod_aleph/aleph_cache.c \
            mod_aleph/aleph_policy.c mod_aleph/aleph_credential.c mod_aleph/aleph_secret.c
GLUE_SRC  = mod_aleph/mod_aleph.c mod_aleph/mod_aleph_config.c mod_aleph/mod_aleph_scopes.c \
            mod_aleph/mod_aleph_store.c mod_aleph/mod_aleph_proxy.c mod_aleph/mod_aleph_status.c \
            mod_aleph/mod_aleph_refresh.c
HEADERS   = $(wildcard mod_aleph/*.h)
MODULE    = mod_aleph/.libs/mod_aleph.so

APR_CFLAGS = $(shell apr-1-config --cflags --cppflags --includes 2>/dev/null) \
             $(shell apu-1-config --includes 2>/dev/null)
APR_LIBS   = $(shell apr-1-config --link-ld --libs 2>/dev/null) \
             $(shell apu-1-config --link-ld 2>/dev/null)
UNIT_TESTS = $(patsubst t/unit/%.c,t/unit/bin/%,$(wildcard t/unit/test_*.c))

# Debian packages the build, the tests and the demo need.
DEPS = apache2 apache2-dev libcurl4-openssl-dev libjansson-dev libapache2-mod-perl2 \
       libwww-perl python3 curl wrk valgrind apache2-utils

.PHONY: all deps test unit run bench install clean

all: $(MODULE)

$(MODULE): $(CORE_SRC) $(GLUE_SRC) $(HEADERS)
	cd mod_aleph && $(APXS) -c -n aleph -Wc,"$(WARN) $(EXTRA_CFLAGS)" \
	    $(if $(EXTRA_LDFLAGS),-Wl$(comma)$(EXTRA_LDFLAGS)) \
	    -o mod_aleph.la $(notdir $(GLUE_SRC) $(CORE_SRC)) -lcurl -ljansson

comma := ,

deps:
	@missing=$$(for p in $(DEPS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "Installing:" $$missing; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

t/unit/bin/%: t/unit/%.c $(CORE_SRC) $(HEADERS) t/unit/tap.h
	@mkdir -p t/unit/bin
	$(CC) $(WARN) -g $(EXTRA_CFLAGS) $(APR_CFLAGS) -Imod_aleph -o $@ $< $(CORE_SRC) \
	    $(APR_LIBS) -lcurl -ljansson $(EXTRA_LDFLAGS)

unit: $(UNIT_TESTS)

test: deps
	$(MAKE) all unit
	bash t/run-tests.sh

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

install: all
	$(APXS) -i -S LIBEXECDIR=$(DESTDIR)$$($(APXS) -q LIBEXECDIR) -n aleph mod_aleph/mod_aleph.la
	install -D -m 644 conf/aleph.load $(DESTDIR)/etc/apache2/mods-available/aleph.load
	install -D -m 644 conf/aleph.conf $(DESTDIR)/etc/apache2/mods-available/aleph.conf

clean:
	rm -rf mod_aleph/.libs mod_aleph/*.la mod_aleph/*.lo mod_aleph/*.slo mod_aleph/*.o \
	       t/unit/bin t/bench/bin t/conf/apache_test_config.pm t/conf/httpd.conf t/conf/extra.conf \
	       t/logs t/htdocs/index.html
