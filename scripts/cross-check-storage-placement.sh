#!/usr/bin/env bash
# Cross-checks the placement of the SSD rung: `ladder storage` times O_DIRECT 4K QD1
# reads pinned on the CPU the device's completion interrupt lands on and on another
# CPU; fio is then pinned the same way (--cpus_allowed) on the same filesystem, back to
# back. Prints p50 in µs per placement, ladder beside fio, and the interrupt lines'
# counts per CPU from /proc/interrupts before and after (what the placement rests on).
#
# usage: scripts/cross-check-storage-placement.sh [DIR [REPEATS [path/to/ladder]]]
#        DIR: where the test files go (default: results/), REPEATS default 2
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-results}
repeats=${2:-2}
ladder=${3:-target/release/ladder}
[ -x "$ladder" ] || { echo "cross-check-storage-placement: $ladder not found; run cargo build --release" >&2; exit 2; }
for tool in fio python3; do
    command -v "$tool" >/dev/null || { echo "cross-check-storage-placement: $tool is missing (scripts/setup-services.sh)" >&2; exit 2; }
done
mkdir -p "$dir"
work=$(mktemp -d "$dir/.cross-check-storage-XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

fio_p50() {
    fio --name=xc --filename="$work/fio.bin" --size=1G --direct=1 --iodepth=1 --rw=randread \
        --bs=4k --ioengine=psync --runtime=10 --time_based --cpus_allowed="$1" \
        --output-format=json >"$work/fio.json"
    python3 -c '
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]["read"]
print("%.1f" % (job["clat_ns"]["percentile"]["50.000000"] / 1000))' "$work/fio.json"
}

for i in $(seq "$repeats"); do
    "$ladder" storage --path "$work" --file-size 1G --samples 20000 --quiet --json \
        --out "$work/runs" >"$work/run.json"
    rows=$(python3 -c '
import json, sys
run = json.load(open(sys.argv[1]))
for r in run["rungs"]:
    if r["method"].startswith("O_DIRECT 4K random read"):
        p = r.get("placement")
        if p:
            irq = ",".join("%d on CPU %d" % (c["count"], c["cpu"]) for c in p.get("interrupts", []))
            print(p["kind"], p["client_cpu"], "%.1f" % (r["p50_ns"] / 1000), irq or "none")
        else:
            print("unplaced", "-", "%.1f" % (r["p50_ns"] / 1000), r.get("no_irq_placement", "?"))' "$work/run.json")
    echo "run $i:"
    while read -r kind cpu ours irq; do
        if [ "$cpu" = "-" ]; then
            echo "  ladder unplaced ($irq): p50 $ours us"
            continue
        fi
        theirs=$(fio_p50 "$cpu")
        printf '  %-15s CPU %s: ladder p50 %7s us (device interrupts %s), fio --cpus_allowed=%s p50 %7s us\n' \
            "$kind" "$cpu" "$ours" "$irq" "$cpu" "$theirs"
    done <<<"$rows"
done
rm -f "$work/fio.bin"
