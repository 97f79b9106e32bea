#!/usr/bin/env bash
# A C compiler for the macOS targets on a Linux machine, for the bundled SQLite that
# rusqlite builds: `zig cc` (the `ziglang` package from PyPI) aimed at the target cargo
# is building for ($TARGET, which cargo gives every build script). The cc crate passes
# Apple flags that zig rejects (-arch X, -mmacosx-version-min=V, --target=T); they are
# dropped here and zig's own -target is used instead. Used by scripts/check-targets.sh.
set -euo pipefail
case "${TARGET:-}" in
    aarch64-apple-darwin) zig_target=aarch64-macos ;;
    x86_64-apple-darwin) zig_target=x86_64-macos ;;
    *) echo "zig-cc.sh: no zig target for TARGET='${TARGET:-}'" >&2; exit 1 ;;
esac
args=()
skip=0
for a in "$@"; do
    if [ "$skip" = 1 ]; then skip=0; continue; fi
    case "$a" in
        -arch | -isysroot) skip=1 ;;
        -mmacosx-version-min=* | -mmacos-version-min=* | --target=* | -isysroot*) ;;
        *) args+=("$a") ;;
    esac
done
exec python3 -m ziglang cc -target "$zig_target" "${args[@]}"
