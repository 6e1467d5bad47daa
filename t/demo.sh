#!/usr/bin/env bash
# `make run`: a private httpd with mod_aleph on a local port, in front of
# the bundled fake Aleph, or of the real Aleph API when ALEPH_CLIENT_ID and
# ALEPH_CLIENT_SECRET are set. Without ALEPH_CONTRACT_ID the contract is
# found with AlephContract auto. Stays in the foreground until Ctrl-C.
set -eu
cd "$(dirname "$0")/.."
top=$PWD
port=${ALEPH_DEMO_PORT:-8080}
run=$(mktemp -d /tmp/mod_aleph-run.XXXXXX)
chmod 755 "$run"
fake_pid=""
cleanup() {
    [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null
    rm -rf "$run"
}
trap cleanup EXIT

if [ -n "${ALEPH_CLIENT_ID:-}" ] && [ -n "${ALEPH_CLIENT_SECRET:-}" ]; then
    mode="the real Aleph API"
    upstream="https://api.satellogic.com"
    token_url="https://auth.platform.satellogic.com/oauth/token"
    client_id=$ALEPH_CLIENT_ID
    secret="env:ALEPH_CLIENT_SECRET"
    contracts_url="$upstream/contracts"
    ssl="LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so
SSLProxyEngine on"
else
    mode="the bundled fake Aleph (t/fake_aleph.py)"
    python3 t/fake_aleph.py --port-file "$run/fake.port" --secret demo-secret &
    fake_pid=$!
    for _ in $(seq 50); do [ -s "$run/fake.port" ] && break; sleep 0.1; done
    upstream="http://127.0.0.1:$(cat "$run/fake.port")"
    token_url="$upstream/oauth/token"
    client_id=demo-client
    (umask 077; printf 'demo-secret\n' > "$run/client-secret")
    secret="file:$run/client-secret"
    # The fake lists two contracts unless asked for one: auto needs one.
    contracts_url="$upstream/contracts?contracts=one"
    ssl=""
fi
contract=${ALEPH_CONTRACT_ID:-auto}

cat > "$run/httpd.conf" <<CONF
ServerRoot $run
ServerName localhost
Listen 127.0.0.1:$port
PidFile $run/httpd.pid
DefaultRuntimeDir $run
ErrorLog /dev/stderr
LogLevel warn aleph:info
User nobody
Group nogroup
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule authz_host_module /usr/lib/apache2/modules/mod_authz_host.so
LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http.so
LoadModule status_module /usr/lib/apache2/modules/mod_status.so
LoadModule aleph_module $top/mod_aleph/.libs/mod_aleph.so
$ssl

AlephTokenURL $token_url
AlephClientID $client_id
AlephClientSecret $secret
# Tokens go only to this origin (the default is the audience's, which the
# fake is not).
AlephUpstream $upstream
AlephContractsURL "$contracts_url"

<Location /aleph-status>
    SetHandler aleph-status
    Require local
</Location>
# Lists the credential's contracts: no contract header there.
<Location /contracts>
    ProxyPass $upstream/contracts
    AlephAuth On
    AlephContract none
</Location>
<Location />
    ProxyPass $upstream/
    AlephAuth On
    AlephContract $contract
</Location>
<Location /aleph-status>
    ProxyPass !
</Location>
<Location /server-status>
    SetHandler server-status
    Require local
    ProxyPass !
</Location>
CONF

cat <<MSG
mod_aleph is in front of $mode on http://127.0.0.1:$port/
(AlephContract $contract) — try:
  curl -s 'http://127.0.0.1:$port/tasking/tasks/?limit=2'
  curl -s -X POST 'http://127.0.0.1:$port/archive/stac/search' -H 'Content-Type: application/json' -d '{"limit":1}'
  curl -s 'http://127.0.0.1:$port/contracts'
  curl -s 'http://127.0.0.1:$port/aleph-status'
  curl -s 'http://127.0.0.1:$port/aleph-status?format=prometheus'
  curl -s 'http://127.0.0.1:$port/server-status?auto'
The same credential from the command line:
  mod_aleph/aleph token --token-url '$token_url' --client-id '$client_id' --client-secret $secret
  mod_aleph/aleph contracts --token-url '$token_url' --client-id '$client_id' --client-secret $secret --contracts-url '$contracts_url'
Ctrl-C stops it.
MSG
/usr/sbin/apache2 -d "$run" -f "$run/httpd.conf" -DFOREGROUND &
httpd_pid=$!
trap 'kill -TERM $httpd_pid 2>/dev/null; wait $httpd_pid 2>/dev/null; cleanup; exit 0' INT TERM
wait $httpd_pid
