#!/usr/bin/env bash
# Cross-checks ladder's harness against the established tools on the same targets:
#   fio (O_DIRECT 4K random reads, QD1, psync) vs `ladder storage`, on one filesystem;
#   redis-benchmark -c 1 -P 1 (GET) vs `ladder redis`, on one throwaway redis-server;
#   pgbench -S -M prepared -c 1 vs `ladder db`, on one PostgreSQL (scripts/cross-check-db.sh).
# Prints our p50 beside theirs and the ratio. Needs fio, redis-server, redis-benchmark
# (scripts/setup-services.sh) and python3 (to read JSON).
#
# usage: scripts/cross-check.sh [DIR]   DIR: where the test files go (default: results/)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-results}
mkdir -p "$dir"
for tool in fio redis-server redis-benchmark python3; do
    command -v "$tool" >/dev/null || { echo "cross-check: $tool is missing (scripts/setup-services.sh)" >&2; exit 1; }
done
cargo build --release --quiet
ladder=target/release/ladder
work=$(mktemp -d "$dir/.cross-check-XXXXXX")
redis_pid=
cleanup() {
    [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# p50 of the rung whose method starts with $2, in µs, from a run record on stdin.
p50_us() {
    python3 -c '
import json, sys
run = json.load(sys.stdin)
rows = [r for r in run["rungs"] if r["method"].startswith(sys.argv[1])]
print("%.1f" % (rows[0]["p50_ns"] / 1000))' "$1"
}
row() { python3 -c '
import sys
name, ours, theirs = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
print("%-34s %10.1f us %10.1f us %8.2f" % (name, ours, theirs, ours / theirs))' "$@"; }

echo "== storage: 4K random reads, O_DIRECT, QD1 on $(df --output=source,fstype "$dir" | tail -1)"
fio --name=xc --filename="$work/fio.bin" --size=1G --direct=1 --iodepth=1 --rw=randread \
    --bs=4k --ioengine=psync --runtime=10 --time_based --output-format=json >"$work/fio.json"
fio_p50=$(python3 -c '
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]["read"]
print("%.1f" % (job["clat_ns"]["percentile"]["50.000000"] / 1000))' "$work/fio.json")
rm -f "$work/fio.bin"
ours_disk=$("$ladder" storage --path "$work" --file-size 1G --samples 20000 --quiet --json --out "$work/runs" | p50_us "O_DIRECT 4K random read")

echo "== redis: GET, one client, no pipelining, same server"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# Locked down like ladder's managed Redis: a random password, in a 0600 config file and
# the environment (redis-benchmark only takes it as -a).
redis_pw=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
(umask 077 && printf 'port %s\nbind 127.0.0.1\nsave ""\nappendonly no\ndir %s\nrequirepass %s\n' \
    "$port" "$(cd "$work" && pwd)" "$redis_pw" >"$work/redis.conf")
export REDISCLI_AUTH=$redis_pw
redis-server "$work/redis.conf" >/dev/null &
redis_pid=$!
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
redis-cli -p "$port" set key:__rand_int__ x >/dev/null
bench_p50=$(redis-benchmark -a "$redis_pw" -p "$port" -c 1 -P 1 -n 50000 -t get --csv | awk -F'"' '$2=="GET"{printf "%.1f", $10*1000}')
ours_redis=$("$ladder" redis --url "redis://:$redis_pw@127.0.0.1:$port/" --quiet --json --out "$work/runs" | p50_us "GET hit over TCP, back-to-back")

echo
printf '%-34s %13s %13s %8s\n' "p50" "ladder" "reference" "ratio"
row "O_DIRECT 4K read QD1 (vs fio)" "$ours_disk" "$fio_p50"
row "Redis GET over TCP (vs redis-bench)" "$ours_redis" "$bench_p50"

echo
echo "== postgres: prepared point lookup, one client"
scripts/cross-check-db.sh "$ladder"
