#!/usr/bin/env bash
# make bench-kafka (issue 13 item 5): end-to-end records/s through a real broker (noida-db) on 3
# input partitions at a 100 ms commit interval, for `dedup kafka` and for a C consume-transform-
# produce loop over the same librdkafka (Benchmarks/KafkaLoop/loop.c) in two shapes, measured in
# the same run, interleaved, medians of ROUNDS rounds after a warm-up:
# - loop, per-partition producers: the engine's transaction shape (one transactional producer per
#   input partition, each committing its own transaction every 100 ms: 3 transactions per interval),
#   so the same transaction size as `dedup kafka`; the baseline of issue 13's target (>= 0.8);
# - loop, per-partition producers with a changelog: the same, and per kept record also a changelog
#   record (key + 8-byte time, 1-byte value) in the same transaction, as the engine writes: the
#   engine's transactions in records and bytes too;
# - loop, one producer: one transaction per interval over the 3 partitions (3x larger, 3x fewer):
#   the fewest, largest transactions: what the broker does at least, not a like-for-like baseline.
# Every loop starts a partition without committed offset at its low watermark, as the engine does.
#
#   Benchmarks/kafka.sh [ROUNDS] [RECORDS]     (defaults 3 and 200000)
#   DEDUP_BINARY=/path/to/dedup Benchmarks/kafka.sh ...   measures that build instead of this tree's
#
# Each round has its own input topic (produced once per round, so every case reads the same
# records); each case its own output topic and consumer group. A case is timed from its start
# until its group has committed every input record (Benchmarks/KafkaLoop/committed.c), so each
# pays its group join, restore and last commit. The cases' order rotates from round to round.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
RECORDS=${2:-200000}
work=$(mktemp -d /tmp/bench-kafka.XXXXXX)
broker_pid=""
cleanup() {
    if [ -n "$broker_pid" ]; then kill -TERM -- "-$broker_pid" 2>/dev/null || true; sleep 1; kill -KILL -- "-$broker_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

noida=${NOIDA_DB:-$(command -v noida-db || echo "${XDG_DATA_HOME:-$HOME/.local/share}/swift-dedup/noida-db/bin/noida-db")}
[ -x "$noida" ] || { echo "bench-kafka: noida-db not found; run scripts/install-deps.sh" >&2; exit 69; }
# DEDUP_BINARY=/path/to/dedup measures another build (for paired comparisons); default: build this tree's.
if [ -n "${DEDUP_BINARY:-}" ]; then dedup=$(realpath "$DEDUP_BINARY"); else
    swift build -c release --product dedup >/dev/null
    dedup=$PWD/.build/release/dedup
fi
cflags=$(pkg-config --cflags --libs rdkafka)
gcc -O2 -o "$work/loop" Benchmarks/KafkaLoop/loop.c $cflags
gcc -O2 -o "$work/produce" Benchmarks/KafkaLoop/produce.c $cflags
gcc -O2 -o "$work/committed" Benchmarks/KafkaLoop/committed.c $cflags

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
setsid "$noida" start --data-dir "$work/data" --only kafka --kafka-port "$port" >"$work/broker.log" 2>&1 &
broker_pid=$!
for _ in $(seq 1 200); do
    python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1',$port)))" && break
    sleep 0.1
done
bootstrap="127.0.0.1:$port"
echo "bench-kafka: broker on $bootstrap, $RECORDS records per round, $ROUNDS rounds after a warm-up" >&2

results="$work/results.tsv"
: >"$results"
# Times one case: from its start until its consumer group has committed every input record (the
# outputs of those records are then visible to read_committed readers).
time_case() {  # group command...
    local group=$1
    shift
    "$@" >"$work/case.log" 2>&1 &
    local pid=$!
    local seconds
    seconds=$("$work/committed" "$bootstrap" "$group" "$input" 3 "$RECORDS" 600) || { cat "$work/case.log" >&2; exit 1; }
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    python3 -c "print(round($RECORDS / $seconds))"
}
for round in $(seq 0 "$ROUNDS"); do
    input="in-$round"
    "$work/produce" "$bootstrap" "$input" "$RECORDS" 3 >/dev/null
    cases=(loop-per-partition loop-changelog loop-one dedup)
    shift_by=$((round % 4))
    order=("${cases[@]:shift_by}" "${cases[@]:0:shift_by}")
    for case in "${order[@]}"; do
        # Every output topic exists beforehand with 3 partitions (auto-created on the first
        # produce, it would have 1, and the first commit would wait for its metadata).
        "$work/produce" "$bootstrap" "out-$case-$round" 0 3 >/dev/null
        case $case in
        loop-per-partition | loop-one)
            rate=$(PRODUCERS=${case#loop-} time_case "$case-$round" \
                "$work/loop" "$bootstrap" "$case-$round" "$input" "out-$case-$round" "$RECORDS" 100)
            ;;
        loop-changelog)
            "$work/produce" "$bootstrap" "changelog-$round" 0 3 >/dev/null
            rate=$(PRODUCERS=per-partition CHANGELOG_TOPIC="changelog-$round" time_case "$case-$round" \
                "$work/loop" "$bootstrap" "$case-$round" "$input" "out-$case-$round" "$RECORDS" 100)
            ;;
        dedup)
            rate=$(time_case "dedup-$round" "$dedup" kafka --bootstrap-servers "$bootstrap" \
                --application-id "dedup-$round" --input-topic "$input" --output-topic "out-dedup-$round" \
                --key order.id --time-field ts --window 1h --state "$work/state-$round" --commit-interval 100ms --quiet)
            ;;
        esac
        echo "bench-kafka: round $round, $case: $rate records/s" >&2
        [ "$round" -gt 0 ] && printf '%s\t%s\t%s\n' "$round" "$case" "$rate" >>"$results"
    done
done
python3 - "$results" <<'PY'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().split("\n") if l]
by = {}
for round_, case, rate in rows: by.setdefault(case, {})[round_] = float(rate)
def ratio(loop):
    return statistics.median(by["dedup"][r] / by[loop][r] for r in by[loop] if r in by["dedup"])
print("| case | records/s (median) |")
print("|---|---:|")
print(f"| C loop, a transactional producer per partition (3 transactions per 100 ms: the engine's size) | {statistics.median(by['loop-per-partition'].values()):,.0f} |")
print(f"| C loop, per partition, with a changelog record per kept record (the engine's transactions in records too) | {statistics.median(by['loop-changelog'].values()):,.0f} |")
print(f"| C loop, one transactional producer (1 transaction per 100 ms over 3 partitions) | {statistics.median(by['loop-one'].values()):,.0f} |")
print(f"| dedup kafka, exactly-once, LMDB (3 tasks, 3 transactions per 100 ms) | {statistics.median(by['dedup'].values()):,.0f} |")
print(f"dedup kafka / C loop with the engine's transaction size (per-partition), median of per-round ratios: {ratio('loop-per-partition'):.2f} (target >= 0.8)")
print(f"dedup kafka / C loop per partition with a changelog, median of per-round ratios: {ratio('loop-changelog'):.2f}")
print(f"dedup kafka / C loop with one producer (3x larger transactions), median of per-round ratios: {ratio('loop-one'):.2f}")
PY
