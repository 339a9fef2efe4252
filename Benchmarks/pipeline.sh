#!/usr/bin/env bash
# Pipeline benchmark of `dedup run` (issue 4): a 1M-line JSON Lines workload (3 producer files,
# ~10% cross-producer repeats, ~100 bytes a line), records/s for exactly-once on the LMDB store,
# at-least-once, and the in-memory store without durability (same binary), with a 1h window (one
# segment) and a 2m window (several live segments), plus the time to rebuild the store from a
# changelog of ~900k entries.
#
# The cases run interleaved, one round after another (each round runs every case once), so that
# the machine's drift hits all cases alike; each case's figure is its median over the rounds.
# Ratios between cases ("exactly-once / in-memory", "at-least-once / exactly-once") are medians of
# the per-round ratios, with how many rounds the first case was the faster.
#
# Usage: Benchmarks/pipeline.sh [RECORDS] [ROUNDS]   (defaults 1000000 and 5)
# PIPELINE_DIR=/some/dir runs it on another file system (default: a new directory under /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-1000000}
rounds=${2:-5}

swift build -c release --product dedup >/dev/null
dedup=$PWD/.build/release/dedup
work=$(mktemp -d "${PIPELINE_DIR:-/tmp}/dedup-pipeline-XXXXXX")
trap 'rm -rf "$work"' EXIT
"$dedup" generate --output-dir "$work/in" --records "$records" --producers 3 --duplicate-rate 0.1 --seed 7 >/dev/null
inputs=(--input "$work/in/producer-1.jsonl" --input "$work/in/producer-2.jsonl" --input "$work/in/producer-3.jsonl")
common=(--key order.id --time-field ts --quiet --stats)

field() { grep -o "\"$1\":[0-9.]*" | cut -d: -f2; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

names=(eo alo eo1s alo100 mem eo2m mem2m)
declare -A args=(
    # Default commit intervals: 100 ms exactly-once, 5 s at-least-once.
    [eo]="--window 1h"
    [alo]="--window 1h --guarantee at-least-once"
    [eo1s]="--window 1h --commit-interval 1s"
    [alo100]="--window 1h --guarantee at-least-once --commit-interval 100ms"
    [mem]="--window 1h --store memory"
    # A 2-minute window over the workload's 10 minutes: several live segments, as in any run
    # longer than its window (the 1h window keeps this workload in one segment).
    [eo2m]="--window 2m"
    [mem2m]="--store memory --window 2m"
)
declare -A rates=()

run_case() {  # name → records/s of one run
    rm -rf "$work/state" "$work/out.jsonl"
    # shellcheck disable=SC2086  # the extra arguments are meant to split
    "$dedup" run "${inputs[@]}" "${common[@]}" --output "$work/out.jsonl" --state "$work/state" ${args[$1]} \
        2>&1 >/dev/null | field recordsPerSecond
}

run_case eo >/dev/null  # warm-up: page cache and disk settle after writing the workload
for round in $(seq "$rounds"); do
    for name in "${names[@]}"; do rates[$name]+="$(run_case "$name") "; done
done
for name in "${names[@]}"; do declare "med_$name=$(tr ' ' '\n' <<<"${rates[$name]}" | grep . | median)"; done

# Per-round ratios: exactly-once / in-memory (at both windows), at-least-once / exactly-once
# (default intervals, and both at 100 ms).
paired() {  # name-a name-b → "median-ratio wins"
    paste <(tr ' ' '\n' <<<"${rates[$1]}" | grep .) <(tr ' ' '\n' <<<"${rates[$2]}" | grep .) |
        awk '{print $1 / $2}' | sort -g |
        awk '{a[NR]=$1; if ($1 > 1) w++} END {m = (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.3f %d/%d", m, w, NR}'
}
read -r alo_ratio alo_wins <<<"$(paired alo eo)"
read -r alo100_ratio alo100_wins <<<"$(paired alo100 eo)"
read -r eo_mem_ratio _ <<<"$(paired eo mem)"
read -r eo1s_mem_ratio _ <<<"$(paired eo1s mem)"
read -r eo2m_mem_ratio _ <<<"$(paired eo2m mem2m)"

# Restore: keep the exactly-once state, delete the store, rerun with nothing new to read.
rm -rf "$work/state" "$work/out.jsonl"
"$dedup" run "${inputs[@]}" "${common[@]}" --window 1h --output "$work/out.jsonl" --state "$work/state" >/dev/null 2>&1
restore_times=()
entries=0
for _ in $(seq "$rounds"); do
    rm -rf "$work/state/store"
    stats=$("$dedup" run "${inputs[@]}" "${common[@]}" --window 1h --output "$work/out.jsonl" --state "$work/state" 2>&1 >/dev/null)
    entries=$(echo "$stats" | field restoredEntries)
    restore_times+=("$(echo "$stats" | field elapsedSeconds)")
done
restore=$(printf '%s\n' "${restore_times[@]}" | median)

echo "| case | records/s (median of $rounds rounds) | vs in-memory (median of per-round ratios) |"
echo "|---|---:|---:|"
awk -v eo="$med_eo" -v alo="$med_alo" -v eo1s="$med_eo1s" -v alo100="$med_alo100" -v mem="$med_mem" \
    -v eo2m="$med_eo2m" -v mem2m="$med_mem2m" -v r_eo="$eo_mem_ratio" -v r_eo1s="$eo1s_mem_ratio" \
    -v r_eo2m="$eo2m_mem_ratio" 'BEGIN {
    printf "| exactly-once, LMDB store (default commit interval 100 ms) | %.0f | %.0f%% |\n", eo, 100 * r_eo
    printf "| at-least-once, LMDB store (default commit interval 5 s) | %.0f | %.0f%% |\n", alo, 100 * alo / mem
    printf "| exactly-once, LMDB store, --commit-interval 1s | %.0f | %.0f%% |\n", eo1s, 100 * r_eo1s
    printf "| at-least-once, LMDB store, --commit-interval 100ms | %.0f | %.0f%% |\n", alo100, 100 * alo100 / mem
    printf "| in-memory store, no durability | %.0f | 100%% |\n", mem
    printf "| exactly-once, LMDB store, --window 2m (several live segments) | %.0f | %.0f%% of in-memory at 2m |\n", eo2m, 100 * r_eo2m
    printf "| in-memory store, no durability, --window 2m | %.0f | 100%% at 2m |\n", mem2m
}'
echo
echo "at-least-once / exactly-once, per-round ratio (median; rounds at-least-once was faster):"
echo "  default intervals: $alo_ratio ($alo_wins)   both at 100 ms: $alo100_ratio ($alo100_wins)"
echo "restore: $entries changelog entries replayed into a new store in $restore s (median; the run's whole elapsed time)"
echo "workload: $records lines, $(du -sh "$work/in" | cut -f1) in 3 files, on $(df -T "$work" | awk 'NR==2 {print $2 " (" $1 ")"}')"
