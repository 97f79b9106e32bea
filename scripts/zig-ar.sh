#!/usr/bin/env bash
# The archiver that goes with scripts/zig-cc.sh: `zig ar` (from the `ziglang` PyPI
# package), which writes the archive format the macOS targets expect.
set -euo pipefail
exec python3 -m ziglang ar "$@"
