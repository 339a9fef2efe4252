#!/usr/bin/env bash
# The main job on the embedded default: deduplicate three producers' JSON Lines files by
# order id, then show exactly-once by killing a run twice with SIGKILL and restarting it.
set -euo pipefail
cd "$(dirname "$0")/.."

swift build -c release --product dedup >/dev/null
dedup=.build/release/dedup
out=demo-output
rm -rf "$out"
mkdir -p "$out"

echo "== 1. Three producers' files, 1,000,000 events, ~10% sent again by another producer"
$dedup generate --output-dir "$out/in" --records 1000000 --producers 3 --duplicate-rate 0.1
head -n 2 "$out/in/producer-1.jsonl"
inputs=(--input "$out/in/producer-1.jsonl" --input "$out/in/producer-2.jsonl" --input "$out/in/producer-3.jsonl")
common=(--key order.id --time-field ts --window 10m --quiet)

echo
echo "== 2. One uninterrupted run (summary from --stats)"
$dedup run "${inputs[@]}" "${common[@]}" --output "$out/reference.jsonl" --duplicates "$out/reference-duplicates.jsonl" \
    --state "$out/reference-state" --stats

echo
echo "== 3. The same run, killed with SIGKILL twice while work remains, then restarted to completion"
# Input lines the last checkpoint covers (0 before the first commit).
committed_lines() {
    grep -o '"lineNumber" : [0-9]*' "$out/state/checkpoint.json" 2>/dev/null | awk '{s+=$3} END {print s+0}'
}
total=$(cat "$out"/in/producer-*.jsonl | wc -l)
# Each kill waits until the checkpoint covers this share of the lines, so that it lands in the
# middle of the work whatever the machine's speed (a fixed sleep could land after the end).
for attempt in 1 2; do
    target=$((total * attempt / 3))
    $dedup run "${inputs[@]}" "${common[@]}" --output "$out/output.jsonl" --duplicates "$out/duplicates.jsonl" \
        --state "$out/state" --commit-interval 50ms &
    pid=$!
    while kill -0 "$pid" 2>/dev/null && [ "$(committed_lines)" -lt "$target" ]; do sleep 0.01; done
    kill -9 "$pid" 2>/dev/null || true
    status=0
    wait "$pid" 2>/dev/null || status=$?
    if [ "$status" -ne 137 ]; then
        echo "   the run ended (status $status) before it could be killed at line $target; nothing was killed" >&2
        exit 1
    fi
    echo "   kill $attempt (after line $target of $total): $(committed_lines) input lines committed, $(wc -l <"$out/output.jsonl") lines in the output file (uncommitted ones are cut on restart)"
done
$dedup run "${inputs[@]}" "${common[@]}" --output "$out/output.jsonl" --duplicates "$out/duplicates.jsonl" \
    --state "$out/state" --stats

echo
echo "== 4. Exactly once: the killed-and-restarted output equals the uninterrupted one"
if cmp -s "$out/reference.jsonl" "$out/output.jsonl" && cmp -s "$out/reference-duplicates.jsonl" "$out/duplicates.jsonl"; then
    echo "   identical: $(wc -l <"$out/output.jsonl") kept, $(wc -l <"$out/duplicates.jsonl") duplicates"
else
    echo "   DIFFERENT (this is a bug)" >&2
    exit 1
fi

echo
echo "== 5. The state directory"
$dedup inspect --state "$out/state" --key '"o-000000000"'
echo
echo "Output: $out/output.jsonl (kept), $out/duplicates.jsonl (dropped); state: $out/state/"
