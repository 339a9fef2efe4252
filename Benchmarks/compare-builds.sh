#!/usr/bin/env bash
# Paired comparison of two `dedup` binaries (an older build against the current one) on the
# pipeline workload: each round runs both, in alternating order, on the same input and the same
# file system, so that the machine's drift hits both alike; the result is each build's median
# records/s and the median of the per-round ratios new / old, with how many rounds the new one
# was faster. It also checks that both builds write byte-identical outputs and duplicates.
#
# Usage: Benchmarks/compare-builds.sh OLD_DEDUP NEW_DEDUP [RECORDS] [ROUNDS] [-- EXTRA dedup run ARGS]
#   e.g. git worktree add /tmp/base 3c80f5b && (cd /tmp/base && swift build -c release --product dedup)
#        Benchmarks/compare-builds.sh /tmp/base/.build/release/dedup .build/release/dedup
# Defaults: 1000000 records, 5 rounds, exactly-once with the default commit interval, --window 1h.
# COMPARE_DIR=/some/dir runs it on another file system (default: a new directory under /tmp).
set -euo pipefail
old=$(realpath "$1")
new=$(realpath "$2")
records=${3:-1000000}
rounds=${4:-5}
shift $(($# < 4 ? $# : 4))
[ "${1:-}" = "--" ] && shift
extra=("$@")
[ ${#extra[@]} -eq 0 ] && extra=(--window 1h)

work=$(mktemp -d "${COMPARE_DIR:-/tmp}/dedup-compare-XXXXXX")
trap 'rm -rf "$work"' EXIT
"$new" generate --output-dir "$work/in" --records "$records" --producers 3 --duplicate-rate 0.1 --seed 7 >/dev/null
inputs=(--input "$work/in/producer-1.jsonl" --input "$work/in/producer-2.jsonl" --input "$work/in/producer-3.jsonl")

field() { grep -o "\"$1\":[0-9.]*" | cut -d: -f2; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

run() {  # binary tag → records/s; leaves its outputs as $work/<tag>.out / .dup
    rm -rf "$work/state-$2" "$work/$2.out" "$work/$2.dup"
    "$1" run "${inputs[@]}" --key order.id --time-field ts --quiet --stats "${extra[@]}" \
        --output "$work/$2.out" --duplicates "$work/$2.dup" --state "$work/state-$2" 2>&1 >/dev/null |
        field recordsPerSecond
}

run "$new" warm >/dev/null
old_rates=()
new_rates=()
for round in $(seq "$rounds"); do
    if [ $((round % 2)) -eq 1 ]; then
        o=$(run "$old" old); n=$(run "$new" new)
    else
        n=$(run "$new" new); o=$(run "$old" old)
    fi
    old_rates+=("$o")
    new_rates+=("$n")
    cmp -s "$work/old.out" "$work/new.out" && cmp -s "$work/old.dup" "$work/new.dup" ||
        { echo "round $round: the two builds wrote different outputs" >&2; exit 1; }
done
ratio=$(paste <(printf '%s\n' "${new_rates[@]}") <(printf '%s\n' "${old_rates[@]}") | awk '{print $1 / $2}' |
    sort -g | awk '{a[NR]=$1; if ($1 > 1) w++} END {m = (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.3f (new faster in %d of %d rounds)", m, w, NR}')
echo "dedup run ${extra[*]}: $records records, $rounds paired rounds"
echo "  old $old: $(printf '%s\n' "${old_rates[@]}" | median) records/s (median)"
echo "  new $new: $(printf '%s\n' "${new_rates[@]}" | median) records/s (median)"
echo "  new / old, median of per-round ratios: $ratio; outputs byte-identical in every round"
