#!/usr/bin/env bash
# Cross-checks the placement of the service rungs: redis-benchmark and pgbench with the
# server pinned to the first CPU and the client pinned (taskset) to the same CPU, then
# to the last one — beside `ladder redis` and `ladder db`, which measure their managed
# servers in the same two placements. Prints p50 (redis-benchmark, ladder) and pgbench's
# average, in µs. Throwaway servers on loopback, locked down like the managed ones (a
# random password in 0600 files and the environment; SCRAM, never trust, for
# PostgreSQL), stopped and removed at the end.
#
# Usage: scripts/cross-check-placement.sh [path/to/ladder]   (default: target/release/ladder)
set -euo pipefail

ladder=${1:-target/release/ladder}
[ -x "$ladder" ] || { echo "cross-check-placement: $ladder not found; run cargo build --release" >&2; exit 2; }
command -v redis-benchmark >/dev/null || { echo "cross-check-placement: redis-benchmark missing; run scripts/setup-services.sh" >&2; exit 2; }
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n | tail -1 || true)
[ -n "$bindir" ] && [ -x "$bindir/pgbench" ] || { echo "cross-check-placement: pgbench missing; run scripts/setup-services.sh" >&2; exit 2; }

cpus=$(python3 -c 'import os; c=sorted(os.sched_getaffinity(0)); print(c[0], c[-1])')
read -r server other <<<"$cpus"
tmp=$(mktemp -d /tmp/ladder-xplace-XXXXXX)
rpid=""
cleanup() {
    [ -n "$rpid" ] && kill "$rpid" 2>/dev/null
    [ -f "$tmp/data/postmaster.pid" ] && kill -QUIT "$(head -1 "$tmp/data/postmaster.pid")" 2>/dev/null
    sleep 0.5
    rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "server on CPU $server; clients on CPU $server (same) and CPU $other (different)"
port=$(free_port)
pw=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
(umask 077 && printf 'port %s\nbind 127.0.0.1\nsave ""\nappendonly no\ndir %s\nrequirepass %s\n' \
    "$port" "$tmp" "$pw" >"$tmp/redis.conf")
export REDISCLI_AUTH=$pw PGPASSWORD=$pw
taskset -c "$server" redis-server "$tmp/redis.conf" >/dev/null 2>&1 &
rpid=$!
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$port" set key:__rand_int__ x >/dev/null
for cpu in "$server" "$other"; do
    taskset -c "$cpu" redis-benchmark -a "$pw" -p "$port" -c 1 -P 1 -n 30000 -t get --csv 2>/dev/null \
        | awk -F'"' -v cpu="$cpu" '/^"GET"/ {printf "redis-benchmark GET, client CPU %s: p50 %.0f us\n", cpu, $6 * 1000}'
done
kill "$rpid"; rpid=""

chown postgres: "$tmp"
pport=$(free_port)
(umask 077 && printf '%s\n' "$pw" >"$tmp/pwfile")
chown postgres: "$tmp/pwfile"
(cd "$tmp" && runuser -u postgres -- "$bindir/initdb" -D "$tmp/data" -U postgres \
    --auth=scram-sha-256 --pwfile="$tmp/pwfile" >/dev/null)
(cd "$tmp" && exec taskset -c "$server" runuser -u postgres -- "$bindir/postgres" -D "$tmp/data" \
    -p "$pport" -k "$tmp" -c listen_addresses=127.0.0.1 >"$tmp/pg.log" 2>&1) &
for _ in $(seq 100); do "$bindir/pg_isready" -q -h 127.0.0.1 -p "$pport" && break; sleep 0.2; done
url="postgres://postgres@127.0.0.1:$pport/postgres"
"$bindir/pgbench" -i -q -s 10 "$url" >/dev/null 2>&1
for cpu in "$server" "$other"; do
    taskset -c "$cpu" "$bindir/pgbench" -S -M prepared -c 1 -T 8 "$url" 2>/dev/null \
        | awk -v cpu="$cpu" '/latency average/ {printf "pgbench -S -M prepared -c 1, client CPU %s: average %.0f us\n", cpu, $4 * 1000}'
done

"$ladder" redis --quiet --json --out "$tmp/results" >"$tmp/redis.json"
"$ladder" db --quiet --json --out "$tmp/results" >"$tmp/db.json"
python3 - "$tmp/redis.json" "$tmp/db.json" <<'EOF'
import json, sys
for path, method in [(sys.argv[1], "GET hit over TCP, back-to-back"),
                     (sys.argv[2], "PG prepared PK lookup over TCP")]:
    for r in json.load(open(path))["rungs"]:
        if r["method"] == method and r.get("placement"):
            p = r["placement"]
            print(f"ladder {method}, {p['kind']} (client CPU {p['client_cpu']}): "
                  f"p50 {r['p50_ns'] / 1000:.0f} us")
EOF
