#!/usr/bin/env bash
# Re-measures what noida-db supports (the findings are in docs/kafka.md): builds the probes against
# librdkafka and runs each against a fresh noida-db on a random loopback port, then stops the
# broker's whole process group. Not part of `make test`; takes about two minutes.
#   scripts/noida-probe/run.sh [groups stable generation txtimeout sigkill compact]
set -euo pipefail
cd "$(dirname "$0")"
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
for p in probe compact; do cc -O1 -o "$build/$p" "$p.c" $(pkg-config --cflags --libs rdkafka); done
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(groups stable generation txtimeout sigkill compact)
for test in "${tests[@]}"; do
    port=$((20000 + RANDOM % 20000))
    data=$(mktemp -d)
    setsid noida-db start --data-dir "$data" --only kafka --kafka-port "$port" >"$data/log" 2>&1 &
    broker=$!
    until (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null; do sleep 0.05; done
    if [ "$test" = compact ]; then program="$build/compact"; else program="$build/probe"; fi
    BS=127.0.0.1:$port timeout 120 "$program" "127.0.0.1:$port" "$test" 2>&1 | grep -v '^%' || true
    kill -TERM -"$broker" 2>/dev/null || true
    wait "$broker" 2>/dev/null || true
    rm -rf "$data"
done
