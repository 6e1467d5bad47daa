#!/usr/bin/env bash
# Runs each libFuzzer harness for a bounded time on a scratch copy of its
# seed corpus (t/fuzz/corpus/NAME/, never modified). Fails when a harness
# finds a crash, a sanitizer report, a leak or a broken invariant; the
# input that triggered it is kept in t/fuzz/artifacts/. Called by `make fuzz`.
# Usage: t/fuzz/run.sh SECONDS HARNESS...
set -u
cd "$(dirname "$0")/../.."
secs=$1
shift
mkdir -p t/fuzz/artifacts
failed=""
for bin in "$@"; do
    name=$(basename "$bin")
    work=$(mktemp -d /tmp/mod_aleph-fuzz.XXXXXX)
    dict=""
    [ -f "t/fuzz/$name.dict" ] && dict="-dict=t/fuzz/$name.dict"
    "$bin" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="t/fuzz/artifacts/$name-" $dict \
        "$work" "t/fuzz/corpus/$name" >"$work.log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work.log")
    cov=$(grep -o 'cov: [0-9]*' "$work.log" | tail -1)
    if [ $rc -eq 0 ]; then
        echo "# fuzz $name: ${execs:-?} executions in ${secs} s, ${cov:-no coverage line}, no crash"
    else
        echo "# fuzz $name: FAILED (exit $rc) after ${execs:-?} executions"
        grep -E -A40 '^==[0-9]+==|runtime error|deadly signal|Test unit written' "$work.log" | head -80
        failed="$failed $name"
    fi
    rm -rf "$work" "$work.log"
done
if [ -n "$failed" ]; then
    echo "fuzzing found problems in:$failed (inputs in t/fuzz/artifacts/)"
    exit 1
fi
