#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests, benches build,
# then the cross-target checks (scripts/check-targets.sh: clippy for aarch64 Linux and
# both macOS targets, and a qemu-aarch64 smoke of the aarch64 Linux binary) and the
# declared minimum Rust version (scripts/check-msrv.sh), and the README's install command
# (scripts/check-install.sh).
# Installs the server packages the tests need first (scripts/setup-services.sh) when
# that script exists and can install them.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -x scripts/setup-services.sh ]; then
    scripts/setup-services.sh || echo "test.sh: could not install every service; tests that need one will say so" >&2
fi

cargo fmt --check
cargo clippy --release --all-targets -- -D warnings
cargo test --release
cargo bench --no-run
scripts/check-install.sh
scripts/check-targets.sh
scripts/check-msrv.sh
