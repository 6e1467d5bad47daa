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

failed=""
for mpm in ${ALEPH_TEST_MPMS:-prefork event}; do
    echo "# ===== $mpm MPM ====="
    curl -s "$ALEPH_FAKE_URL/_reset" >/dev/null
    t/TEST -clean >/dev/null 2>&1
    if ! t/TEST -start-httpd -httpd_conf "$PWD/t/conf/base-$mpm.conf" \
            -port "${ALEPH_TEST_PORT:-8529}" -minclients 8 -maxclients 64 -threadsperchild 16 >"$work/start.log" 2>&1; then
        cat "$work/start.log"
        failed="$failed $mpm"
        continue
    fi
    ALEPH_MPM=$mpm prove ${PROVE_FLAGS:-} t/*.t || failed="$failed $mpm"
    t/TEST -stop-httpd >/dev/null 2>&1
done

if [ -n "$failed" ]; then
    echo "FAILED under:$failed"
    exit 1
fi
