#!/usr/bin/env bash
# Checks that the crate builds on the Rust version Cargo.toml declares (`rust-version`):
# installs that toolchain with rustup (minimal profile) where it is missing, then runs
# `cargo check --all-targets --locked` with it in a target dir of its own (msrv/ inside
# $CARGO_TARGET_DIR, or target/).
#
# usage: scripts/check-msrv.sh
source "$(dirname "$0")/lib.sh"

msrv=$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' Cargo.toml)
[ -n "$msrv" ] || { echo "check-msrv: no rust-version in Cargo.toml" >&2; exit 1; }
# rustup names 1.89 toolchains by their full version.
[[ $msrv =~ ^[0-9]+\.[0-9]+$ ]] && msrv="$msrv.0"
# Captured, then searched: under pipefail a `| grep -q` that exits early can fail the list.
toolchains=$(rustup toolchain list)
step "the Rust $msrv toolchain"
grep -q "^$msrv-" <<<"$toolchains" || rustup toolchain install "$msrv" --profile minimal
step "cargo +$msrv check --all-targets --locked"
CARGO_TARGET_DIR=$target_dir/msrv cargo "+$msrv" check --all-targets --locked --quiet
echo "check-msrv: builds on Rust $msrv"
