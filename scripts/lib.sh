# Sourced by the scripts in this folder: strict mode, the repository root as the working
# dir, the cargo target dir (users and CI caches set CARGO_TARGET_DIR; `target` when
# unset), and, when a command fails, one line naming the script, the step and the
# command.
#
# usage (in a script): source "$(dirname "$0")/lib.sh"; step "what comes next"; ...
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
script=$(basename "$0")
target_dir=${CARGO_TARGET_DIR:-target}
current_step="setting up"
step() {
    current_step=$*
    echo "== $script: $current_step"
}
trap 'rc=$?; echo "$script: step \"$current_step\" failed (exit $rc) at: $BASH_COMMAND" >&2' ERR
