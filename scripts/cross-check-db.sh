#!/usr/bin/env bash
# Cross-checks `ladder db`'s prepared primary-key lookup on PostgreSQL against pgbench's
# select-only run on the same server: `pgbench -S -M prepared -c 1 -T 10` (one client,
# prepared statements, `SELECT abalance FROM pgbench_accounts WHERE aid = $1`).
#
# Server: DATABASE_URL if set (pgbench then works in a scratch database it creates and
# drops: the URL's role needs CREATEDB), else a throwaway PostgreSQL started like the
# managed one (initdb into a temp dir, `postgres` on a free loopback port, as the
# postgres user when run as root; locked down like it: a random password, SCRAM on
# every connection, never trust, the password in 0600 files and the environment, never
# on a command line), stopped and removed at the end.
#
# Usage: scripts/cross-check-db.sh [path/to/ladder]   (default: target/release/ladder)
set -euo pipefail

ladder=${1:-target/release/ladder}
[ -x "$ladder" ] || { echo "cross-check-db: $ladder not found; run cargo build --release" >&2; exit 2; }
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n | tail -1 || true)
[ -n "$bindir" ] || bindir=$(dirname "$(command -v pgbench 2>/dev/null || echo /nonexistent/x)")
[ -x "$bindir/pgbench" ] || { echo "cross-check-db: pgbench is not installed; run scripts/setup-services.sh" >&2; exit 2; }

tmp=$(mktemp -d /tmp/ladder-xcheck-XXXXXX)
pid=""
scratch=""
cleanup() {
    if [ -n "$scratch" ]; then "$bindir/psql" -q -d "$admin_url" -c "DROP DATABASE IF EXISTS $scratch" >/dev/null 2>&1 || true; fi
    if [ -n "$pid" ]; then
        # Immediate shutdown of the postmaster itself (runuser does not pass SIGQUIT on).
        [ -f "$tmp/data/postmaster.pid" ] && kill -QUIT "$(head -1 "$tmp/data/postmaster.pid")" 2>/dev/null
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

if [ -n "${DATABASE_URL:-}" ]; then
    admin_url=$DATABASE_URL
    scratch="ladder_xcheck_$$"
    "$bindir/psql" -q -d "$admin_url" -c "CREATE DATABASE $scratch" >/dev/null
    # The same URL with the scratch database as its path.
    bench_url=$(printf '%s' "$DATABASE_URL" | sed -E "s#^(postgres(ql)?://[^/?]*)(/[^?]*)?#\1/$scratch#")
    ladder_url=$DATABASE_URL
    echo "cross-check-db: server from DATABASE_URL, scratch database $scratch"
else
    as=()
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$tmp"; as=(runuser -u postgres --); fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    pw=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    (umask 077 && printf '%s\n' "$pw" >"$tmp/pwfile")
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$tmp/pwfile"; fi
    export PGPASSWORD=$pw
    (cd "$tmp" && "${as[@]}" "$bindir/initdb" -D "$tmp/data" -U postgres -E UTF8 --locale=C --no-sync \
        --auth=scram-sha-256 --pwfile="$tmp/pwfile" >/dev/null)
    (cd "$tmp" && exec "${as[@]}" "$bindir/postgres" -D "$tmp/data" -p "$port" -k "$tmp" \
        -c listen_addresses=127.0.0.1 >"$tmp/postgres.log" 2>&1) &
    pid=$!
    for _ in $(seq 150); do "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" && break; sleep 0.2; done
    "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" || { echo "cross-check-db: postgres did not start: $(tail -1 "$tmp/postgres.log")" >&2; exit 1; }
    admin_url="postgres://postgres@127.0.0.1:$port/postgres"
    scratch="ladder_xcheck"
    "$bindir/psql" -q -d "$admin_url" -c "CREATE DATABASE $scratch" >/dev/null
    bench_url="postgres://postgres@127.0.0.1:$port/$scratch"
    # ladder is given the password in its URL (it prints it redacted); psql and pgbench
    # read PGPASSWORD.
    ladder_url="postgres://postgres:$pw@127.0.0.1:$port/postgres"
    echo "cross-check-db: throwaway PostgreSQL $(basename "$(dirname "$bindir")") on 127.0.0.1:$port"
fi

"$bindir/pgbench" -i -q -s 10 "$bench_url" >/dev/null 2>&1
pgbench_ms=$("$bindir/pgbench" -S -M prepared -c 1 -T 10 "$bench_url" 2>/dev/null \
    | awk -F'= ' '/latency average/ {split($2, a, " "); print a[1]}')
"$ladder" db --quiet --json --out "$tmp/results" --postgres-url "$ladder_url" >"$tmp/run.json"

python3 - "$pgbench_ms" "$tmp/run.json" <<'EOF'
import json, sys
pgbench_us = float(sys.argv[1]) * 1000
rung = next(r for r in json.load(open(sys.argv[2]))["rungs"]
            if r["method"] == "PG prepared PK lookup over TCP")
p50_us, mean_us = rung["p50_ns"] / 1000, rung["mean_ns"] / 1000
print(f"pgbench -S -M prepared -c 1 -T 10 (scale 10, 1M accounts): average {pgbench_us:.1f} us")
print(f"ladder db: PG prepared PK lookup over TCP (1M orders):     p50 {p50_us:.1f} us, mean {mean_us:.1f} us")
print(f"ratio ladder p50/pgbench average: {p50_us / pgbench_us:.2f}; mean/average: {mean_us / pgbench_us:.2f}")
EOF
