#!/usr/bin/env bash
# Cross-target checks, for the platforms our users run on:
#   1. `cargo clippy --release --all-targets -D warnings` for aarch64 Linux, Apple
#      silicon macOS and Intel macOS;
#   2. a functional smoke of the aarch64 Linux binary under qemu-aarch64: `ladder host`
#      and `ladder memory --quick --max 4M --json` must complete and their records must
#      be complete. Timings under emulation mean nothing and are never looked at;
#   3. the library's unit tests for aarch64 under qemu-aarch64 (the NEON kernel, the
#      platform parsers), except the two that need perf_event_open, which qemu-user
#      does not implement.
# Installs what it needs first, and only what is missing (so a second run installs
# nothing): the rust targets (rustup), an aarch64 C compiler and qemu-user (apt), and
# zig as the C compiler for the macOS targets (the `ziglang` package, pip).
#
# usage: scripts/check-targets.sh
source "$(dirname "$0")/lib.sh"

targets=(aarch64-unknown-linux-gnu aarch64-apple-darwin x86_64-apple-darwin)

# --- tools -------------------------------------------------------------------------
step "the rust targets, the cross compilers, qemu and zig"
installed=$(rustup target list --installed)
for t in "${targets[@]}"; do
    grep -qx "$t" <<<"$installed" || rustup target add "$t"
done
packages=()
command -v aarch64-linux-gnu-gcc >/dev/null || packages+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
command -v qemu-aarch64 >/dev/null || packages+=(qemu-user)
if [ ${#packages[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
fi
if ! python3 -m ziglang version >/dev/null 2>&1; then
    python3 -m pip install --quiet ziglang ||
        python3 -m pip install --quiet --user --break-system-packages ziglang
fi

# --- cross compilers ---------------------------------------------------------------
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
for t in aarch64_apple_darwin x86_64_apple_darwin; do
    export "CC_$t=$PWD/scripts/zig-cc.sh" "AR_$t=$PWD/scripts/zig-ar.sh"
done
# The cc crate asks xcrun for the macOS SDK unless SDKROOT is set; zig brings its own
# headers, and zig-cc.sh drops the -isysroot this leads to.
export SDKROOT=/nonexistent-macos-sdk

# --- 1. clippy per target ----------------------------------------------------------
for t in "${targets[@]}"; do
    step "clippy --target $t"
    cargo clippy --release --all-targets --target "$t" --quiet -- -D warnings
done

# --- 2. aarch64 Linux smoke under qemu -----------------------------------------------
step "aarch64 Linux smoke under qemu-aarch64"
cargo build --release --quiet --target aarch64-unknown-linux-gnu --bin ladder
ladder=(qemu-aarch64 -L /usr/aarch64-linux-gnu "$target_dir/aarch64-unknown-linux-gnu/release/ladder")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"${ladder[@]}" host
"${ladder[@]}" host --json >"$work/host.json"
"${ladder[@]}" memory --quick --max 4M --json --quiet --out "$work/runs" >"$work/run.json"

python3 - "$work/host.json" "$work/run.json" <<'PY'
import json, sys
host = json.load(open(sys.argv[1]))
run = json.load(open(sys.argv[2]))
for k in ("hostname", "cpus", "caches", "page_size", "clock_ghz", "counters", "pinning"):
    assert k in host, f"host record lacks {k}"
assert host["counters"], "host record lists no counters"
assert run.get("schema_version"), "run record lacks schema_version"
mem = run["memory"]
points = mem["points"]
assert points, "memory sweep has no points"
assert points[-1]["size_bytes"] == 4 << 20, points[-1]["size_bytes"]
for p in points:
    for k in ("size_bytes", "pages", "ns_per_access", "ns_median", "trials", "counters"):
        assert k in p, f"point lacks {k}"
    assert p["trials"] > 0
assert "levels" in mem
assert mem["config"]["node_bytes"] > 0
print(f"smoke ok: {len(points)} points up to {points[-1]['size_bytes'] >> 20} MiB, "
      f"node {mem['config']['node_bytes']} B"
      f"{' (assumed)' if mem['config'].get('node_bytes_assumed') else ''}, "
      f"{len(mem['levels'])} levels, {len(host['counters'])} counters probed")
PY

# --- 3. aarch64 unit tests under qemu ------------------------------------------------
step "aarch64 Linux unit tests under qemu-aarch64"
CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu" \
    cargo test --release --quiet --lib --target aarch64-unknown-linux-gnu -- \
    --skip counters::tests::software_counters_open_here \
    --skip memory::buffer::tests::page_faults_count_the_pages_a_fresh_buffer_touches
