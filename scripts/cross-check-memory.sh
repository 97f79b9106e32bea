#!/usr/bin/env bash
# Cross-checks `ladder memory` against an independent pointer chase (scripts/chase.c,
# a few lines of C sharing none of ladder's code): one default sweep, then the C chase
# pinned to the same CPU at the middle (in octaves) of each plateau the sweep found,
# and at 1 GiB for RAM. Prints each level's figure beside the chase's and the ratio.
# Needs cc and python3.
#
# usage: scripts/cross-check-memory.sh [CPU]   CPU: where both run (default: the last)
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in cc python3; do
    command -v "$tool" >/dev/null || { echo "cross-check-memory: $tool is missing" >&2; exit 1; }
done
cpu=${1:-$(( $(nproc) - 1 ))}
cargo build --release --quiet
target=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
cc -O2 -o "$work/chase" scripts/chase.c
"$target/release/ladder" memory --quiet --json --cpu "$cpu" --out "$work" > "$work/run.json"
python3 - "$work" "$cpu" <<'PY'
import json, subprocess, sys
work, cpu = sys.argv[1], sys.argv[2]
run = json.load(open(f"{work}/run.json"))
print(f"{'level':6} {'ladder':>10} {'C chase':>10} {'ratio':>6}  at")
for level in run["memory"]["levels"]:
    if not level["detected"]:
        continue
    lo, hi = level["plateau_bytes"]
    size = 1 << 30 if level["name"] == "RAM" else int((lo * hi) ** 0.5) // 64 * 64
    out = subprocess.run([f"{work}/chase", cpu, str(size)], capture_output=True, text=True, check=True)
    ns = float(out.stdout.split()[1])
    ours = level["latency_ns"]
    print(f"{level['name']:6} {ours:9.2f}n {ns:9.2f}n {ours / ns:6.2f}  {size} B")
PY
