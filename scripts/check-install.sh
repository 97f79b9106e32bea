#!/usr/bin/env bash
# Checks that `cargo install --path . --locked` (the README's install command) installs a
# working `ladder`: into a throwaway root, reusing this checkout's release build, then
# runs `ladder --version` and `ladder man` from there.
#
# usage: scripts/check-install.sh
source "$(dirname "$0")/lib.sh"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
step "cargo install --path . --locked"
cargo install --quiet --path . --locked --root "$root" --target-dir "$target_dir"
step "the installed ladder runs"
"$root/bin/ladder" --version
# Captured whole, then searched: `ladder man | grep -q` would close the pipe at the
# first match (ladder stops quietly on that, but the check must not depend on it).
man_page=$("$root/bin/ladder" man)
grep -q '^\.TH ladder' <<<"$man_page" || { echo "check-install: the installed ladder prints no man page" >&2; exit 1; }
echo "check-install: cargo install --path . works"
