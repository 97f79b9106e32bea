#!/usr/bin/env bash
# The inner loop: what a developer runs after each change, in minutes on a warm target.
#   1. cargo fmt --check and cargo clippy -D warnings (all targets);
#   2. the library's unit and property tests;
#   3. the integration-test modules (tests/it/) that the change touches: picked from the
#      files that differ from HEAD (committed changes too with DEV_CHECK_BASE=<rev>), by
#      the table below; name modules to run those instead, or `all`.
# Builds with the `dev-check` profile (optimised like release, since the tests measure
# real latencies, but incremental: a one-file change rebuilds in seconds). It is not
# the gate: scripts/test.sh runs everything before a change lands.
#
# usage: scripts/dev-check.sh [all | MODULE...]    e.g. scripts/dev-check.sh report faults
source "$(dirname "$0")/lib.sh"

all_modules=$(sed -n 's/^mod \([a-z_]*\);$/\1/p' tests/it/main.rs | grep -vx common)

# A changed path (prefix) -> the test modules that exercise it. A src/ path that no
# row names runs every module: better slow than unchecked.
map=(
    "tests/it/common.rs tests/it/main.rs Cargo.toml Cargo.lock build.rs :all"
    "src/report/openmetrics src/baseline/ src/plot/baseline src/plot/history src/report/baseline :baseline export report"
    "src/report/ src/plot src/ladder.rs src/units.rs tests/fixtures/ :report cli baseline export"
    "src/record/ :report run cli baseline"
    "src/memory/ src/measure/ src/counters src/platform/ src/host.rs src/uarch.rs data/ src/app/memory.rs src/app/stride.rs src/app/host.rs :stride run"
    "src/cores/ src/app/cores.rs :cores"
    "src/rungs/storage src/app/storage.rs :rungs"
    "src/rungs/kv src/rungs/mod.rs :rungs memcached"
    "src/rungs/redis src/app/redis.rs src/services/redis src/target/redis :rungs placement persistence"
    "src/rungs/placement src/services/mod.rs :placement rungs"
    "src/rungs/memcached src/app/memcached.rs src/services/memcached src/target/memcached :memcached"
    "src/rungs/db src/app/db.rs src/services/postgres src/target/postgres :db"
    "src/labs/load src/labs/product_page src/app/load.rs :load"
    "src/labs/web src/rungs/http src/app/web.rs src/services/nginx src/services/dnsmasq :web"
    "src/labs/cache_lab src/app/cache_lab.rs :cache_lab"
    "src/cli.rs src/main.rs src/app/mod.rs src/app/preset.rs src/app/shell.rs src/error.rs src/redact.rs src/signal.rs src/progress.rs :cli faults"
    "src/app/run.rs :run"
    "src/ownership/ src/app/clean.rs :faults"
    "src/app/report.rs :report baseline export"
)

modules_for() {
    local path=$1 row prefixes mods p
    for row in "${map[@]}"; do
        prefixes=${row%%:*}
        mods=${row#*:}
        for p in $prefixes; do
            if [[ $path == "$p"* ]]; then
                echo "$mods"
                return
            fi
        done
    done
    case $path in
        tests/it/*.rs) basename "$path" .rs ;;
        src/*) echo all ;;
    esac
}

if [ $# -gt 0 ]; then
    wanted="$*"
else
    base=${DEV_CHECK_BASE:-HEAD}
    changed=$( { git diff --name-only "$base"; git ls-files --others --exclude-standard; } | sort -u)
    wanted=$(for f in $changed; do modules_for "$f"; done | tr ' ' '\n' | sort -u | tr '\n' ' ')
fi
[[ " $wanted " == *" all "* ]] && wanted=$all_modules
for m in $wanted; do
    grep -qx "$m" <<<"$all_modules" || { echo "dev-check: no test module '$m' (modules: $(echo $all_modules))" >&2; exit 2; }
done

step "cargo fmt --check"
cargo fmt --check
step "cargo clippy --all-targets -D warnings"
cargo clippy --profile dev-check --all-targets --quiet -- -D warnings
step "unit and property tests"
cargo test --profile dev-check --lib --quiet
if [ -z "${wanted// /}" ]; then
    echo "dev-check: no change touches an integration-test module (name some, or 'all')"
else
    filters=()
    for m in $wanted; do filters+=("$m::"); done
    step "integration tests: $(echo $wanted)"
    cargo test --profile dev-check --test it --quiet -- --nocapture "${filters[@]}"
fi
echo "dev-check: passed (scripts/test.sh is the gate before it lands)"
