#!/usr/bin/env bash
# Pipeline benchmark of `dedup run` (issue 4): a 1M-line JSON Lines workload (3 producer files,
# ~10% cross-producer repeats, ~100 bytes a line), records/s for exactly-once on the LMDB store,
# at-least-once, and the in-memory store without durability (same binary), plus the time to
# rebuild the store from a changelog of ~900k entries. Each case runs RUNS times (default 3);
# the median is reported. Usage: Benchmarks/pipeline.sh [RECORDS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-1000000}
runs=${2:-3}

swift build -c release --product dedup >/dev/null
dedup=$PWD/.build/release/dedup
work=$(mktemp -d /tmp/dedup-pipeline-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$dedup" generate --output-dir "$work/in" --records "$records" --producers 3 --duplicate-rate 0.1 --seed 7 >/dev/null
inputs=(--input "$work/in/producer-1.jsonl" --input "$work/in/producer-2.jsonl" --input "$work/in/producer-3.jsonl")
common=(--key order.id --time-field ts --window 1h --quiet --stats)

field() { grep -o "\"$1\":[0-9.]*" | cut -d: -f2; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

run_case() {  # name, extra args...
    local name=$1
    shift
    local rates=()
    for _ in $(seq "$runs"); do
        rm -rf "$work/state" "$work/out.jsonl"
        rates+=("$("$dedup" run "${inputs[@]}" "${common[@]}" --output "$work/out.jsonl" --state "$work/state" "$@" 2>&1 >/dev/null | field recordsPerSecond)")
    done
    printf '%s\n' "${rates[@]}" | median
}

run_case warm-up >/dev/null  # page cache and disk settle after writing the workload
eo=$(run_case exactly-once)
alo=$(run_case at-least-once --guarantee at-least-once)
eo_fast=$(run_case exactly-once --commit-interval 100ms)
alo_fast=$(run_case at-least-once --guarantee at-least-once --commit-interval 100ms)
mem=$(run_case memory --store memory)

# Restore: keep the exactly-once state, delete the store, rerun with nothing new to read.
rm -rf "$work/state" "$work/out.jsonl"
"$dedup" run "${inputs[@]}" "${common[@]}" --output "$work/out.jsonl" --state "$work/state" >/dev/null 2>&1
restore_times=()
entries=0
for _ in $(seq "$runs"); do
    rm -rf "$work/state/store"
    stats=$("$dedup" run "${inputs[@]}" "${common[@]}" --output "$work/out.jsonl" --state "$work/state" 2>&1 >/dev/null)
    entries=$(echo "$stats" | field restoredEntries)
    restore_times+=("$(echo "$stats" | field elapsedSeconds)")
done
restore=$(printf '%s\n' "${restore_times[@]}" | median)

echo "| case | records/s (median of $runs) | vs in-memory |"
echo "|---|---|---|"
awk -v eo="$eo" -v alo="$alo" -v eof="$eo_fast" -v alof="$alo_fast" -v mem="$mem" 'BEGIN {
    printf "| exactly-once, LMDB store (default commit interval 1 s) | %.0f | %.0f%% |\n", eo, 100 * eo / mem
    printf "| at-least-once, LMDB store (default commit interval 5 s) | %.0f | %.0f%% |\n", alo, 100 * alo / mem
    printf "| exactly-once, LMDB store, --commit-interval 100ms | %.0f | %.0f%% |\n", eof, 100 * eof / mem
    printf "| at-least-once, LMDB store, --commit-interval 100ms | %.0f | %.0f%% |\n", alof, 100 * alof / mem
    printf "| in-memory store, no durability | %.0f | 100%% |\n", mem
}'
echo
echo "restore: $entries changelog entries replayed into a new store in $restore s (median; the run's whole elapsed time)"
echo "workload: $records lines, $(du -sh "$work/in" | cut -f1) in 3 files"
