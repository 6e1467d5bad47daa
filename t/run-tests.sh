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
fake_pids=""
trap 'kill $fake_pids 2>/dev/null; t/TEST -stop-httpd >/dev/null 2>&1; rm -rf "$work" ${copy:+"$copy"}' EXIT

# A private CA, a certificate for the fake token endpoint valid for
# IP:127.0.0.1 only (so https://localhost/ is a name mismatch) and a client
# certificate, for the TLS tests. Made afresh for each run; git-ignored.
tls=t/conf/tls
rm -rf "$tls"
mkdir -p "$tls"
make_cert() {  # name subject extensions [CA options...]
    local name=$1 subject=$2 ext=$3
    shift 3
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$tls/$name.key" -out "$tls/$name.csr" -subj "$subject" 2>/dev/null &&
    printf '%b' "$ext" > "$tls/$name.ext" &&
    openssl x509 -req -in "$tls/$name.csr" -days 2 -sha256 -extfile "$tls/$name.ext" \
        -out "$tls/$name.pem" "$@" 2>/dev/null
}
if ! make_cert ca "/CN=mod_aleph test CA" \
        'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' \
        -signkey "$tls/ca.key" ||
   ! make_cert server "/CN=mod_aleph fake token endpoint" \
        'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' \
        -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -set_serial 2 ||
   ! make_cert client "/CN=mod_aleph test client" \
        'extendedKeyUsage=clientAuth\n' \
        -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -set_serial 3; then
    echo "cannot make the test certificates with openssl" >&2
    exit 1
fi
mkdir "$tls/hashed"
cp "$tls/ca.pem" "$tls/hashed/"
openssl rehash "$tls/hashed" 2>/dev/null || c_rehash "$tls/hashed" >/dev/null
# libcurl reads the client key in the children, which run as nobody.
chmod 644 "$tls"/*.*

# The fakes: plain HTTP (token endpoint and API), HTTPS, and HTTPS that
# requires a client certificate signed by the test CA.
export ALEPH_TEST_SECRET=fake-secret
start_fake() {  # name [options...]
    local name=$1
    shift
    python3 t/fake_aleph.py --port-file "$work/$name.port" --secret "$ALEPH_TEST_SECRET" "$@" &
    fake_pids="$fake_pids $!"
    for _ in $(seq 100); do [ -s "$work/$name.port" ] && return 0; sleep 0.1; done
    echo "fake Aleph ($name) did not start" >&2
    exit 1
}
start_fake plain
start_fake tls --tls-cert "$tls/server.pem" --tls-key "$tls/server.key"
start_fake mtls --tls-cert "$tls/server.pem" --tls-key "$tls/server.key" \
    --tls-client-ca "$tls/ca.pem"
export ALEPH_FAKE_PORT=$(cat "$work/plain.port")
export ALEPH_FAKE_URL="http://127.0.0.1:$ALEPH_FAKE_PORT"
export ALEPH_FAKE_TLS_PORT=$(cat "$work/tls.port")
export ALEPH_FAKE_MTLS_PORT=$(cat "$work/mtls.port")

# The secret file the test configuration names; only root may read it.
umask 077
printf 'fake-secret\n' > t/conf/secret.txt
# The secret t/80_security.t rotates (any secret is accepted for it).
printf 'rotating-secret-0\n' > t/conf/rotating-secret.txt
printf 'AlephCacheSize 256\n' > t/conf/cache-size.conf
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
    curl -s --cacert "$tls/ca.pem" "https://127.0.0.1:$ALEPH_FAKE_TLS_PORT/_reset" >/dev/null
    curl -s --cacert "$tls/ca.pem" --cert "$tls/client.pem" --key "$tls/client.key" \
        "https://127.0.0.1:$ALEPH_FAKE_MTLS_PORT/_reset" >/dev/null
    t/TEST -clean >/dev/null 2>&1
    # Proxy variables that lead nowhere: token requests must ignore them
    # (t/80_security.t). Only httpd gets them, not this script's curl.
    if ! env -u no_proxy -u NO_PROXY http_proxy=http://127.0.0.1:9 \
            HTTPS_PROXY=http://127.0.0.1:9 ALL_PROXY=http://127.0.0.1:9 \
            ${san_env[@]+"${san_env[@]}"} \
            t/TEST -start-httpd -httpd_conf "$PWD/t/conf/base-$mpm.conf" \
            -port "${ALEPH_TEST_PORT:-8529}" -minclients 8 -maxclients 64 -threadsperchild 16 >"$work/start.log" 2>&1; then
        cat "$work/start.log"
        failed="$failed $mpm"
        continue
    fi
    ALEPH_MPM=$mpm prove ${PROVE_FLAGS:-} ${ALEPH_TESTS:-t/*.t} || failed="$failed $mpm"
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
