#!/usr/bin/env bash
# `make bench-peers` (issue 12): `dedup run` against what a user would reach for instead, on the
# issue-4 workload (`dedup generate --records 1000000 --producers 3 --duplicate-rate 0.1 --seed 7`).
#
# Cases: DuckDB (SQL), polars and Python + orjson + a set (Benchmarks/peers.py, in a virtual
# environment at Benchmarks/.venv-peers, installed from PyPI if missing); a C floor
# (Benchmarks/Floor/floor.c: mmap, memchr, memmem, a hash set, buffered writes; no JSON parsing, no
# durability: a floor, not a peer); `dedup run` exactly-once with its defaults (LMDB store, 100 ms
# commits, --window 1h) and with --store memory.
#
# Semantics differ: the peers and the floor keep the first line of each order.id in file order
# (all of input 1, then input 2, ...); `dedup run` keeps the first by event time (smallest ts first
# across the inputs) within its window, durably and exactly once. The script checks that the floor
# and the peers keep the same number of lines and prints dedup's counts beside them.
#
# The cases run interleaved: a warm-up round (discarded), then ROUNDS rounds, each running every case
# once (starting one case later each round). Each run is timed by the wall clock (nanoseconds)
# around `/usr/bin/time -v`, which gives user and system CPU time and max RSS. records/s counts
# input lines; "CPUs utilized" is (user + sys) / elapsed; every figure is a median over the rounds,
# the ratios are medians of the per-round ratios. Process start-up (Python imports included),
# recovery and the final commit are in the times.
#
# Usage: Benchmarks/peers.sh [ROUNDS]   (default $ROUNDS or 3)
# RECORDS=n changes the workload size; PEERS_DIR=/some/dir puts the work directory elsewhere (/tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-${ROUNDS:-3}}
records=${RECORDS:-1000000}
case $rounds in '' | *[!0-9]* | 0)
    echo "peers.sh: ROUNDS must be a positive integer, not '$rounds'; e.g. Benchmarks/peers.sh 3" >&2
    exit 64
    ;;
esac

if [ ! -x /usr/bin/time ]; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    echo "peers.sh: installing time (GNU time, for /usr/bin/time -v)" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq time >/dev/null
fi

echo "peers.sh: building the release binary" >&2
swift build -c release --product dedup >/dev/null
dedup=$PWD/.build/release/dedup

venv=$PWD/Benchmarks/.venv-peers
python=$venv/bin/python
if [ ! -x "$python" ]; then
    echo "peers.sh: creating $venv" >&2
    python3 -m venv "$venv"
fi
if ! "$python" -c 'import duckdb, polars, orjson' 2>/dev/null; then
    echo "peers.sh: installing duckdb, polars, orjson from PyPI into $venv" >&2
    "$python" -m pip install --quiet duckdb polars orjson
fi

work=$(mktemp -d "${PEERS_DIR:-/tmp}/dedup-peers-XXXXXX")
trap 'rm -rf "$work"' EXIT
gcc -O2 -Wall -D_GNU_SOURCE -o "$work/floor" Benchmarks/Floor/floor.c

"$dedup" generate --output-dir "$work/in" --records "$records" --producers 3 --duplicate-rate 0.1 --seed 7 >/dev/null
files=("$work/in/producer-1.jsonl" "$work/in/producer-2.jsonl" "$work/in/producer-3.jsonl")
lines=$(cat "${files[@]}" | wc -l)
inputs=()
for f in "${files[@]}"; do inputs+=(--input "$f"); done

names=(dedup-eo dedup-mem duckdb polars orjson floor)
peers=(duckdb polars orjson)
declare -A label=(
    [dedup-eo]="dedup run, exactly-once, LMDB (defaults: 100 ms commits)"
    [dedup-mem]="dedup run, --store memory (no durability)"
    [duckdb]="DuckDB (SQL, json_extract_string, QUALIFY row_number() = 1)"
    [polars]="polars (str.json_path_match, unique(keep=first, maintain_order))"
    [orjson]="Python + orjson + set"
    [floor]="C floor (mmap, memchr, memmem, hash set; no JSON parsing, no durability)"
)
dedup_common=(--key order.id --time-field ts --window 1h --quiet --output "$work/out.jsonl"
    --duplicates "$work/dups.jsonl" --state "$work/state")

command_of() {  # case → the command line, in the array cmd
    case $1 in
    dedup-eo) cmd=("$dedup" run "${inputs[@]}" "${dedup_common[@]}") ;;
    dedup-mem) cmd=("$dedup" run "${inputs[@]}" "${dedup_common[@]}" --store memory) ;;
    floor) cmd=("$work/floor" "$work/out.jsonl" "$work/dups.jsonl" "${files[@]}") ;;
    *) cmd=("$python" Benchmarks/peers.py "$1" "$work/out.jsonl" "${files[@]}") ;;
    esac
}

declare -A rate=() rss=() cpus=() kept=() dups=()
run_case() {  # case → appends one measurement to rate, rss, cpus, kept, dups
    local name=$1 start end
    rm -rf "$work/state" "$work/out.jsonl" "$work/dups.jsonl"
    command_of "$name"
    sync
    start=$(date +%s%N)
    if ! /usr/bin/time -v -o "$work/time.txt" "${cmd[@]}" >"$work/stdout.txt" 2>"$work/stderr.txt"; then
        echo "peers.sh: case $name failed:" >&2
        cat "$work/stderr.txt" "$work/time.txt" >&2
        exit 70
    fi
    end=$(date +%s%N)
    read -r r m c < <(awk -v ns=$((end - start)) -v lines="$lines" -F': ' '
        /User time/ {u = $2} /System time/ {s = $2} /Maximum resident set size/ {m = $2}
        END {e = ns / 1e9; printf "%.0f %.1f %.2f\n", lines / e, m / 1024, (u + s) / e}' "$work/time.txt")
    rate[$name]+="$r "
    rss[$name]+="$m "
    cpus[$name]+="$c "
    kept[$name]+="$(wc -l <"$work/out.jsonl") "
    dups[$name]+="$( ([ -f "$work/dups.jsonl" ] && wc -l <"$work/dups.jsonl") || echo -) "
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
nth() { tr ' ' '\n' | grep . | sed -n "$1p"; }  # nth round's value of a list

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "peers.sh: $lines lines in 3 files; warm-up round, then $rounds rounds of ${#names[@]} cases" >&2
for name in "${names[@]}"; do run_case "$name"; done
for name in "${names[@]}"; do rate[$name]="" rss[$name]="" cpus[$name]="" kept[$name]="" dups[$name]=""; done
for round in $(seq "$rounds"); do
    echo "peers.sh: round $round of $rounds" >&2
    for i in $(seq 0 $((${#names[@]} - 1))); do
        run_case "${names[$(((i + round - 1) % ${#names[@]}))]}"
    done
done

# Per-round ratios: a case's records/s over the fastest peer's in the same round, and over the floor's.
declare -A vs_peer=() vs_floor=()
for round in $(seq "$rounds"); do
    best=0
    for p in "${peers[@]}"; do
        r=$(nth "$round" <<<"${rate[$p]}")
        best=$(awk -v a="$best" -v b="$r" 'BEGIN {print (b > a) ? b : a}')
    done
    floor_rate=$(nth "$round" <<<"${rate[floor]}")
    for name in "${names[@]}"; do
        r=$(nth "$round" <<<"${rate[$name]}")
        vs_peer[$name]+="$(awk -v a="$r" -v b="$best" 'BEGIN {print a / b}') "
        vs_floor[$name]+="$(awk -v a="$r" -v b="$floor_rate" 'BEGIN {print a / b}') "
    done
done

# Kept-line counts: each case must keep the same count in every round; the floor and the peers
# (the same file-order semantics) must agree with each other.
status=0
for name in "${names[@]}"; do
    if [ "$(tr ' ' '\n' <<<"${kept[$name]}" | grep . | sort -u | wc -l)" -ne 1 ]; then
        echo "peers.sh: $name kept different line counts in different rounds: ${kept[$name]}" >&2
        status=65
    fi
done
floor_kept=$(nth 1 <<<"${kept[floor]}")
for p in "${peers[@]}"; do
    if [ "$(nth 1 <<<"${kept[$p]}")" != "$floor_kept" ]; then
        echo "peers.sh: $p kept $(nth 1 <<<"${kept[$p]}") lines, the floor $floor_kept; they should agree (first occurrence in file order)" >&2
        status=65
    fi
done

echo "| case | records/s | max RSS (MB) | CPUs utilized | × fastest peer | × C floor | kept lines | duplicate lines |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for name in "${names[@]}"; do
    d=$(nth 1 <<<"${dups[$name]}")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "${label[$name]}" \
        "$(median <<<"${rate[$name]}" | awk '{s = sprintf("%.0f", $1); while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s); print s}')" \
        "$(median <<<"${rss[$name]}" | awk '{printf "%.0f", $1}')" \
        "$(median <<<"${cpus[$name]}" | awk '{printf "%.2f", $1}')" \
        "$(median <<<"${vs_peer[$name]}" | awk '{printf "%.2f", $1}')" \
        "$(median <<<"${vs_floor[$name]}" | awk '{printf "%.2f", $1}')" \
        "$(nth 1 <<<"${kept[$name]}")" "$([ "$d" = - ] && echo "not written" || echo "$d")"
done
echo
echo "Medians of $rounds rounds after a warm-up, interleaved; ratios are medians of per-round ratios; records = $lines input lines."
echo "The peers and the floor keep the first line of each order.id in file order (input 1, then 2, then 3);"
echo "dedup keeps the first by event time (ts) within its window, durably and exactly once, so its kept lines may differ."
echo "Kept-line check (floor = DuckDB = polars = orjson): $([ $status -eq 0 ] && echo "passed, $floor_kept lines" || echo FAILED)."
echo "None of the peers has a window, durability or exactly-once, and each holds everything in memory."
echo "versions: dedup $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources || echo '+changes'), $("$python" -c 'import duckdb, polars, orjson, sys; print(f"DuckDB {duckdb.__version__}, polars {polars.__version__}, orjson {orjson.__version__}, Python {sys.version.split()[0]}")'), $(gcc --version | head -1)"
echo "machine: $(nproc) CPUs, load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end; workload $(du -sh "$work/in" | cut -f1) on $(df -T "$work" | awk 'NR==2 {print $2}')"
exit $status
