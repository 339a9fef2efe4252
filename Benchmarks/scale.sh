#!/usr/bin/env bash
# `make bench-scale` (issue 12, item 4 and the "Scale" target): `dedup run` exactly-once (LMDB store,
# 100 ms commits) with 1M, 4M and 10M input lines of the issue-4 workload shape (3 producers, 10%
# cross-producer repeats: about 0.9M, 3.6M and 9M distinct keys), all live in one window
# (`--window 24h`), and the same runs with `--store memory`.
#
# Cases run interleaved, a round after another (each round runs every case once), so that the
# machine's drift hits all alike. Per case: records/s (input lines over the wall-clock time of the
# whole process), max RSS (GNU time), and for the LMDB store the size of its data file at the end
# (`STATE/store/data.mdb`, the store's working set on disk: entries, B-tree pages, free pages).
# "× 1M" is the median over rounds of records/s at that size over records/s at 1M in the same round.
#
# Usage: Benchmarks/scale.sh [ROUNDS]   (default 3)
# SCALE_SIZES="1000000 4000000" changes the sizes (the first is the reference);
# SCALE_DIR=/some/dir puts the work directory elsewhere (default: a new directory under /tmp;
# 10M lines need about 4 GB).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
case $rounds in '' | *[!0-9]* | 0)
    echo "scale.sh: ROUNDS must be a positive integer, not '$rounds'" >&2
    exit 64
    ;;
esac
read -r -a sizes <<<"${SCALE_SIZES:-1000000 4000000 10000000}"
[ -x /usr/bin/time ] || {
    echo "scale.sh: GNU time (/usr/bin/time) is needed: apt-get install -y time" >&2
    exit 69
}

swift build -c release --product dedup >/dev/null
dedup=$PWD/.build/release/dedup
work=$(mktemp -d "${SCALE_DIR:-/tmp}/dedup-scale-XXXXXX")
trap 'rm -rf "$work"' EXIT
for n in "${sizes[@]}"; do
    echo "scale.sh: generating $n lines" >&2
    "$dedup" generate --output-dir "$work/in-$n" --records "$n" --producers 3 --duplicate-rate 0.1 --seed 7 >/dev/null
done

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# run STORE N: one run; appends "records/s rss_mb store_mb" to $work/result-STORE-N.
run() {
    local store=$1 n=$2
    local inputs=(--input "$work/in-$n/producer-1.jsonl" --input "$work/in-$n/producer-2.jsonl"
        --input "$work/in-$n/producer-3.jsonl")
    rm -rf "$work/state" "$work/out.jsonl" "$work/dups.jsonl"
    sync
    local start end
    start=$(date +%s%N)
    /usr/bin/time -f "%M" -o "$work/time" "$dedup" run "${inputs[@]}" --key order.id --time-field ts \
        --window 24h --store "$store" --quiet --output "$work/out.jsonl" --duplicates "$work/dups.jsonl" \
        --state "$work/state"
    end=$(date +%s%N)
    local rss store_bytes=0
    rss=$(tail -1 "$work/time")
    [ -f "$work/state/store/data.mdb" ] && store_bytes=$(stat -c %s "$work/state/store/data.mdb")
    awk -v n="$n" -v ns=$((end - start)) -v rss="$rss" -v sb="$store_bytes" \
        'BEGIN {printf "%.0f %.0f %.0f\n", n / (ns / 1e9), rss / 1024, sb / 1048576}' >>"$work/result-$store-$n"
}

for round in $(seq 1 "$rounds"); do
    echo "scale.sh: round $round of $rounds" >&2
    for n in "${sizes[@]}"; do
        for store in lmdb memory; do run "$store" "$n"; done
    done
done

echo "| store | input lines | records/s | × ${sizes[0]} lines | max RSS (MB) | store data file (MB) |"
echo "|---|---:|---:|---:|---:|---:|"
for store in lmdb memory; do
    for n in "${sizes[@]}"; do
        rate=$(cut -d' ' -f1 "$work/result-$store-$n" | median)
        rss=$(cut -d' ' -f2 "$work/result-$store-$n" | median)
        file=$(cut -d' ' -f3 "$work/result-$store-$n" | median)
        ratio=$(paste -d' ' <(cut -d' ' -f1 "$work/result-$store-$n") <(cut -d' ' -f1 "$work/result-$store-${sizes[0]}") |
            awk '{print $1 / $2}' | median)
        [ "$store" = memory ] && file="–"
        printf '| %s | %s | %.0f | %.2f | %.0f | %s |\n' "$store" "$n" "$rate" "$ratio" "$rss" "$file"
    done
done
echo
echo "Medians of $rounds interleaved rounds; --window 24h keeps every key live; 100 ms commits."
echo "versions: dedup $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
