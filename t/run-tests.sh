#!/usr/bin/env bash
# Runs the whole suite: unit tests and the Apache::Test suite under the
# prefork and the event MPM, against t/fake_aleph.py. Called by `make test`.
set -u
cd "$(dirname "$0")/.."

# httpd's children run as nobody: every folder above the tree must be
# enterable by it. When it is not (CI clones where it likes), run a copy.
# ALEPH_TEST_COPY=1 forces a copy, so that two suites can run side by side
# (with different ALEPH_TEST_PORTs).
copy=""
if [ -n "${ALEPH_TEST_COPY:-}" ] || ! runuser -u nobody -- test -x "$PWD/t/htdocs" 2>/dev/null; then
    copy=$(mktemp -d /tmp/mod_aleph-test.XXXXXX)
    chmod 755 "$copy"
    tar --exclude=.git -cf - . | tar -xf - -C "$copy"
    echo "# running a copy in $copy"
    cd "$copy" || exit 1
fi

work=$(mktemp -d /tmp/mod_aleph-fake.XXXXXX)
export ALEPH_TEST_SECRET=fake-secret
python3 t/fake_aleph.py --port-file "$work/port" --secret "$ALEPH_TEST_SECRET" &
fake_pid=$!
trap 'kill $fake_pid 2>/dev/null; t/TEST -stop-httpd >/dev/null 2>&1; rm -rf "$work" ${copy:+"$copy"}' EXIT
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
if [ ! -s "$work/port" ]; then
    echo "fake Aleph did not start" >&2
    exit 1
fi
export ALEPH_FAKE_PORT=$(cat "$work/port")
export ALEPH_FAKE_URL="http://127.0.0.1:$ALEPH_FAKE_PORT"

# The secret file the test configuration names; only root may read it.
umask 077
printf 'fake-secret\n' > t/conf/secret.txt
umask 022

# SANITIZE=1 (make test SANITIZE=1): the module is built with ASan and
# UBSan, but httpd is not, so the ASan runtime must be preloaded into the
# httpd Apache::Test starts (and only there). Reports go to files, which
# fail the run.
san_env=()
if [ -n "${SANITIZE:-}" ]; then
    asan_lib=$(${CC:-gcc} -print-file-name=libasan.so)
    if [ ! -e "$asan_lib" ]; then
        echo "SANITIZE: libasan.so not found ($asan_lib)" >&2
        exit 1
    fi
    san_dir="$work/sanitizer"
    mkdir -p "$san_dir"
    chmod 711 "$work"                 # the children run as nobody
    chmod 1777 "$san_dir"
    san_env=(LD_PRELOAD="$asan_lib"
             ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:log_path=$san_dir/asan"
             UBSAN_OPTIONS="print_stacktrace=1:log_path=$san_dir/ubsan")
    # Tests that run apache2 themselves (apache2 -t) use $APACHE2.
    printf '#!/bin/sh\nexec env %s %s "$@"\n' "${san_env[*]}" "${APACHE2:-/usr/sbin/apache2}" \
        > "$work/apache2-sanitized"
    chmod 755 "$work/apache2-sanitized"
    export APACHE2="$work/apache2-sanitized"
    echo "# sanitizers on: $asan_lib preloaded into httpd, reports in $san_dir"
fi

failed=""
for mpm in ${ALEPH_TEST_MPMS:-prefork event}; do
    echo "# ===== $mpm MPM ====="
    curl -s "$ALEPH_FAKE_URL/_reset" >/dev/null
    t/TEST -clean >/dev/null 2>&1
    if ! env "${san_env[@]}" t/TEST -start-httpd -httpd_conf "$PWD/t/conf/base-$mpm.conf" \
            -port "${ALEPH_TEST_PORT:-8529}" -minclients 8 -maxclients 64 -threadsperchild 16 >"$work/start.log" 2>&1; then
        cat "$work/start.log"
        failed="$failed $mpm"
        continue
    fi
    ALEPH_MPM=$mpm prove ${PROVE_FLAGS:-} t/*.t || failed="$failed $mpm"
    t/TEST -stop-httpd >/dev/null 2>&1
done

if [ -n "${SANITIZE:-}" ] && compgen -G "$san_dir/*" >/dev/null; then
    for f in "$san_dir"/*; do
        echo "# ===== $f ====="
        cat "$f"
    done
    failed="$failed sanitizers"
fi

if [ -n "$failed" ]; then
    echo "FAILED under:$failed"
    exit 1
fi
