#!/usr/bin/env bash
# `make bench`: what mod_aleph costs on the request path, on loopback.
#
# Starts private servers (nothing in /etc/apache2 is used): a static backend
# httpd, the fake token endpoint (t/fake_aleph.py) and a front httpd whose
# <Location /a/> is a plain ProxyPass, /h/ the same ProxyPass with two static
# `RequestHeader set` lines, and /b/ the same ProxyPass with `AlephAuth On`.
# Then measures, one result per line:
#   throughput  wrk A/B rounds (A = /a/, B = /b/ with a warm token)
#   cold start  256 concurrent first requests: token requests made (prefork, event)
#   refresh     4 s tokens from a 0.5 s endpoint under load: slow requests
#   hot path    callgrind instructions per request, /a/ vs /h/ vs /b/
#   memory      shared-memory store size
# Environment: ALEPH_BENCH_PORT (first of 6 loopback ports, default 18400),
# ALEPH_BENCH_ROUNDS (10), ALEPH_BENCH_SECONDS (5), ALEPH_BENCH_THREADS (2),
# ALEPH_BENCH_CONNECTIONS (32), ALEPH_BENCH_ONLY (some of: throughput cold
# refresh hotpath memory), ALEPH_BENCH_KEEP=1 keeps the run folder (configs,
# logs, callgrind files).
set -u
cd "$(dirname "$0")/../.."
top=$PWD
APACHE2=${APACHE2:-/usr/sbin/apache2}
MODULES=/usr/lib/apache2/modules
base=${ALEPH_BENCH_PORT:-18400}
rounds=${ALEPH_BENCH_ROUNDS:-10}
secs=${ALEPH_BENCH_SECONDS:-5}
threads=${ALEPH_BENCH_THREADS:-2}
conns=${ALEPH_BENCH_CONNECTIONS:-32}
p_front=$base p_back=$((base + 1)) p_fake=$((base + 2))
p_cold=$((base + 3)) p_refresh=$((base + 4)) p_cg=$((base + 5))
fake="http://127.0.0.1:$p_fake"
contract=cont.3f2a9c1e-6863-4375-a89e-c832b32a5350
stats="python3 $top/t/bench/stats.py"
sections=${ALEPH_BENCH_ONLY:-throughput cold refresh hotpath memory}
started=$(date +%s)

for p in $p_front $p_back $p_fake $p_cold $p_refresh $p_cg; do
    if ss -Hltn "sport = :$p" | grep -q .; then
        echo "bench: port $p is in use; set ALEPH_BENCH_PORT to another free range" >&2
        exit 1
    fi
done
for tool in wrk ab valgrind curl python3 ss; do
    command -v $tool >/dev/null || { echo "bench: $tool is missing (make deps)" >&2; exit 1; }
done

# The children run as nobody: everything they read or write lives here.
run=$(mktemp -d /tmp/mod_aleph-bench.XXXXXX)
chmod 755 "$run"
mkdir -m 755 "$run/htdocs"
mkdir -m 777 "$run/cg"
printf '{"type":"FeatureCollection","numberMatched":0,"features":[]}\n' > "$run/htdocs/data.json"
(umask 077; printf 'bench-secret\n' > "$run/client-secret")

pids=""                               # every process started here, stopped at exit
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 300); do           # valgrind takes a while to exit
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    pids=$(echo " $pids " | sed "s/ $pid / /")
}
cleanup() {
    local pid
    for pid in $pids; do
        stop_pid "$pid"
    done
    [ -n "${ALEPH_BENCH_KEEP:-}" ] && echo "kept $run" || rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    echo "bench: $*" >&2
    for f in "$run"/*.error.log "$run"/cg.log "$run"/fake.log; do
        [ -s "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
    done
    exit 1
}

# Polls URL until it answers 200; at most $2 tenths of a second.
wait_ok() {
    local url=$1 tries=${2:-100} i
    for i in $(seq "$tries"); do
        [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url")" = 200 ] && return 0
        sleep 0.1
    done
    return 1
}

# wrk_run OUT URL SECONDS CONNECTIONS: sets rps p50 p99 non2xx errors reqs.
wrk_run() {
    wrk -t "$threads" -c "$4" -d "$3s" --timeout 10s --latency "$2" > "$1" 2>&1 ||
        fail "wrk failed: $(cat "$1")"
    read -r rps p50 p99 non2xx errors reqs < <($stats wrk "$1")
}

fake_calls() {
    curl -s -m 5 "$fake/_calls?client_id=$1" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["calls"])'
}

mpm_block() {
    case $1 in
    event)   # two processes, no spawning or reaping during a run
        echo "StartServers 2
ServerLimit 2
ThreadsPerChild 32
MaxRequestWorkers 64
MinSpareThreads 32
MaxSpareThreads 96" ;;
    event-cold)   # more workers than connections: event closes keep-alive
                  # connections when it runs out of them
        echo "StartServers 4
ServerLimit 4
ThreadLimit 128
ThreadsPerChild 128
MaxRequestWorkers 512
MinSpareThreads 128
MaxSpareThreads 1024" ;;
    prefork-cold)
        echo "StartServers 256
ServerLimit 256
MaxRequestWorkers 256
MinSpareServers 256
MaxSpareServers 257" ;;
    event-backend)   # one process, never short of workers behind 256 connections
        echo "StartServers 1
ServerLimit 1
ThreadLimit 512
ThreadsPerChild 512
MaxRequestWorkers 512
MinSpareThreads 1
MaxSpareThreads 1024" ;;
    event-x)
        echo "ServerLimit 1
ThreadsPerChild 4
MaxRequestWorkers 4" ;;
    esac
}

# server_head NAME PORT MPM-BLOCK: the part every server shares.
server_head() {
    local mpm=${3%%-*}
    cat <<CONF
ServerRoot $run
ServerName localhost
Listen 127.0.0.1:$2
PidFile $run/$1.pid
DefaultRuntimeDir $run
ErrorLog $run/$1.error.log
LogLevel warn
User nobody
Group nogroup
LoadModule mpm_${mpm}_module $MODULES/mod_mpm_${mpm}.so
LoadModule authz_core_module $MODULES/mod_authz_core.so
$(mpm_block "$3")
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 30
CONF
}

# front_conf NAME PORT MPM-BLOCK CLIENT-ID TOKEN-QUERY
front_conf() {
    {
        server_head "$1" "$2" "$3"
        cat <<CONF
LoadModule headers_module $MODULES/mod_headers.so
LoadModule proxy_module $MODULES/mod_proxy.so
LoadModule proxy_http_module $MODULES/mod_proxy_http.so
LoadModule aleph_module $top/mod_aleph/.libs/mod_aleph.so

AlephTokenURL $fake/oauth/token$5
AlephClientID $4
AlephClientSecret file:$run/client-secret
AlephContract $contract
# Tokens may go to the local backend and the fake (the default allows only
# the audience's origin, https://api.satellogic.com).
AlephUpstream http://127.0.0.1:$p_back $fake

# A: plain ProxyPass.
<Location /a/>
    ProxyPass http://127.0.0.1:$p_back/
</Location>
# The yardstick: the same two headers, static, by mod_headers.
<Location /h/>
    ProxyPass http://127.0.0.1:$p_back/
    RequestHeader set authorizationToken "Bearer tok-$4-1"
    RequestHeader set X-Satellogic-Contract-Id $contract
</Location>
# B: the same ProxyPass with mod_aleph.
<Location /b/>
    ProxyPass http://127.0.0.1:$p_back/
    AlephAuth On
</Location>
# mod_aleph in front of the fake's echo API, to check what B sends.
<Location /echo/>
    ProxyPass $fake/
    AlephAuth On
</Location>
CONF
    } > "$run/$1.conf"
}

# start_httpd NAME: runs it in the foreground of a background job, in a
# process group of its own: prefork's parent signals its whole group on
# shutdown, and that must not be this script's.
start_httpd() {
    setsid "$APACHE2" -d "$run" -f "$run/$1.conf" -DFOREGROUND >>"$run/$1.error.log" 2>&1 &
    pids="$pids $!"
    last_pid=$!
}

# ---- static backend and fake token endpoint --------------------------------

start_backends() {
    {
        server_head backend "$p_back" event-backend
        cat <<CONF
DocumentRoot $run/htdocs
<Directory $run/htdocs>
    Require all granted
</Directory>
CONF
    } > "$run/backend.conf"
    start_httpd backend
    wait_ok "http://127.0.0.1:$p_back/data.json" || fail "the backend did not start"

    python3 t/fake_aleph.py --port "$p_fake" --secret bench-secret >"$run/fake.log" 2>&1 &
    pids="$pids $!"
    wait_ok "$fake/_health" || fail "the fake token endpoint did not start"
}

# ---- throughput: A/B rounds ------------------------------------------------

bench_throughput() {
    local front="http://127.0.0.1:$p_front" pid i kind bad=0
    local r_rps r_p99 a_rps_lo a_rps_hi a_p99_lo a_p99_hi

    front_conf front "$p_front" event bench ""
    start_httpd front
    pid=$last_pid
    wait_ok "$front/a/data.json" || fail "the front server did not start"
    # Warm the token, and check what mod_aleph sends upstream.
    curl -s -m 10 "$front/echo/check" | python3 -c '
import json, sys
h = {k.lower(): v for k, v in json.load(sys.stdin)["headers"].items()}
ok = h.get("authorizationtoken") == "Bearer tok-bench-1" and h.get("x-satellogic-contract-id")
sys.exit(0 if ok else 1)' || fail "B does not inject the token and contract headers"
    wait_ok "$front/b/data.json" 1 || fail "B does not answer 200"

    echo "throughput: wrk -t$threads -c$conns -d${secs}s --latency, event MPM; A = ProxyPass, B = the same + AlephAuth On (warm token)"
    wrk_run "$run/wrk" "$front/a/data.json" 2 "$conns"
    wrk_run "$run/wrk" "$front/b/data.json" 2 "$conns"
    : > "$run/rounds"
    for i in $(seq "$rounds"); do
        for kind in A B; do
            wrk_run "$run/wrk" "$front/$(echo $kind | tr AB ab)/data.json" "$secs" "$conns"
            printf '  round %d %s: %6s req/s  p50 %.2f ms  p99 %.2f ms  (%s requests, %s non-2xx, %s socket errors)\n' \
                "$i" "$kind" "$rps" "$p50" "$p99" "$reqs" "$non2xx" "$errors"
            echo "$kind $rps $p50 $p99" >> "$run/rounds"
            [ "$non2xx" = 0 ] && [ "$errors" = 0 ] || bad=1
        done
    done
    read -r r_rps r_p99 a_rps_lo a_rps_hi a_p99_lo a_p99_hi < <($stats summary "$run/rounds")
    echo "throughput: median B/A req/s $r_rps (target >= 0.98), p99 $r_p99 (target <= 1.05); token requests $(fake_calls bench) (expected 1); noise among A rounds: req/s $a_rps_lo..$a_rps_hi, p99 $a_p99_lo..$a_p99_hi ms"
    [ $bad = 0 ] || echo "WARNING: some requests failed (non-2xx or socket errors)"
    stop_pid "$pid"
}

# ---- cold start: 256 concurrent first requests -----------------------------

bench_cold() {
    local mpm cid pid want cold="http://127.0.0.1:$p_cold"

    for mpm in prefork event; do
        cid=cold-$mpm
        front_conf "cold-$mpm" "$p_cold" "$mpm-cold" "$cid" "?delay=0.5"
        start_httpd "cold-$mpm"
        pid=$last_pid
        # /a/ does not touch mod_aleph: the token stays cold.
        wait_ok "$cold/a/data.json" || fail "the $mpm server did not start"
        want=$([ $mpm = prefork ] && echo 256 || echo 4)
        for _ in $(seq 100); do
            [ "$(pgrep -c -P "$pid")" -ge "$want" ] && break
            sleep 0.1
        done
        sleep 0.5
        wrk_run "$run/wrk" "$cold/b/data.json" 2 256
        echo "cold start ($mpm): 256 concurrent first requests, token endpoint 0.5 s -> token requests $(fake_calls "$cid") (target 1); $reqs requests in 2 s, $non2xx non-2xx, $errors socket errors, p99 $p99 ms"
        stop_pid "$pid"
    done
}

# ---- refresh under load ----------------------------------------------------

bench_refresh() {
    local load_secs=20 url="http://127.0.0.1:$p_refresh" pid calls0 calls
    local n non200 slow max l50 l99

    front_conf refresh "$p_refresh" event refresh "?delay=0.5&expires_in=4"
    start_httpd refresh
    pid=$last_pid
    wait_ok "$url/a/data.json" || fail "the refresh server did not start"
    wait_ok "$url/b/data.json" 1 || fail "no first token"
    calls0=$(fake_calls refresh)
    read -r n non200 slow max l50 l99 < <(python3 t/bench/load.py "$url/b/data.json" "$load_secs" 8)
    calls=$(( $(fake_calls refresh) - calls0 ))
    echo "refresh under load: ${load_secs} s, 8 keep-alive clients, expires_in=4, token endpoint 0.5 s -> requests slower than 400 ms after 1 s: $slow (target 0); max $max ms, p99 $l99 ms, $n requests, $non200 not 200; token requests $calls = $(python3 -c "print('%.2f' % ($calls * 4 / $load_secs))") per 4 s lifetime"
    stop_pid "$pid"
}

# ---- hot path: callgrind ---------------------------------------------------

# One server under callgrind per measurement. By default only the
# instructions of request processing are counted (reading and processing
# each request), so that idle threads (listener, watchdog) add nothing; the
# slope between two request counts cancels start-up and the first token.
# cg_run LOCATION REQUESTS [FUNCTION...]: sets cg_ir to the instructions
# counted (in FUNCTIONs, inclusive, when given).
cg_run() {
    local loc=$1 n=$2 out="$run/cg/$1.$2.$#" pid url="http://127.0.0.1:$p_cg" f toggles=""

    shift 2
    for f in ${@:-ap_read_request ap_process_async_request}; do
        toggles="$toggles --toggle-collect=$f"
    done
    # Callgrind creates it as root and writes it at exit, as nobody.
    install -m 666 /dev/null "$out"
    setsid valgrind --tool=callgrind --vgdb=no --callgrind-out-file="$out" $toggles \
        "$APACHE2" -X -d "$run" -f "$run/cg.conf" > "$run/cg.log" 2>&1 &
    pid=$!
    pids="$pids $pid"
    wait_ok "$url/a/data.json" 600 || fail "httpd under callgrind did not start"
    wait_ok "$url/b/data.json" 50 || fail "no token under callgrind"
    ab -q -k -n "$n" -c 1 -s 30 "$url/$loc/data.json" > "$run/ab" 2>&1 || fail "ab: $(cat "$run/ab")"
    if ! grep -q "^Failed requests: *0$" "$run/ab" || grep -q "^Non-2xx" "$run/ab"; then
        fail "requests failed under callgrind: $(cat "$run/ab")"
    fi
    stop_pid "$pid"
    cg_ir=$(sed -n 's/^summary: *//p' "$out")
    [ -n "$cg_ir" ] || fail "no callgrind summary in $out"
}

# cg_slope LOCATION [FUNCTION...]: sets cg_slope to instructions per request.
cg_slope() {
    local lo
    cg_run "$1" 200 "${@:2}"
    lo=$cg_ir
    cg_run "$1" 1200 "${@:2}"
    cg_slope=$(( (cg_ir - lo) / 1000 ))
}

bench_hotpath() {
    local loc hooks d_h d_b
    local -A ir

    front_conf cg "$p_cg" event-x bench ""
    for loc in a h b; do
        cg_slope $loc
        ir[$loc]=$cg_slope
    done
    cg_slope b aleph_fixups aleph_proxy_fixups
    hooks=$cg_slope
    d_h=$(( ir[h] - ir[a] )) d_b=$(( ir[b] - ir[a] ))
    echo "hot path (callgrind, apache2 -X, instructions/request between request 200 and 1200): plain ProxyPass ${ir[a]}; + 2x RequestHeader set ${ir[h]} (+$d_h); + AlephAuth On ${ir[b]} (+$d_b, of which in aleph_fixups + aleph_proxy_fixups $hooks) (target: AlephAuth delta <= RequestHeader delta)"
}

# ---- memory ----------------------------------------------------------------

bench_memory() {
    local per total header

    read -r per total header < <(t/bench/bin/store_size 64)
    echo "memory: shared-memory store $per bytes per credential; $total bytes ($(( (total + 1023) / 1024 )) KiB) in total for AlephCacheSize 64 (64 slots + a $header-byte header)"
}

echo "mod_aleph bench: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), kernel $(uname -r), $("$APACHE2" -v | sed -n 's/Server version: //p')"
start_backends
for section in $sections; do
    "bench_$section"
done
echo "bench took $(( $(date +%s) - started )) s"
