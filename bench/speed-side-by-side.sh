#!/usr/bin/env bash
# Simulator speed of two (or more) builds, side by side on one machine:
#   bench/speed-side-by-side.sh N REPS DIR...
# Each DIR is a built checkout (e.g. `git worktree add /tmp/old <commit>`,
# then `npm ci` or a node_modules symlink, and `npm run build` in it). Runs
# `bench:sim` at rest (the speed section only) in each DIR in turn, REPS
# rounds, alternating, so drift of the machine falls on every build alike;
# prints "DIR <JSON line>" per run. Compare medians of the same N.
set -euo pipefail
if [ $# -lt 3 ]; then echo "usage: $0 N REPS DIR..." >&2; exit 2; fi
n=$1; reps=$2; shift 2
for _ in $(seq 1 "$reps"); do
  for d in "$@"; do
    # Each checkout's own `bench:sim` script, with the node flags it was measured with.
    line=$(cd "$d" && npm run --silent bench:sim -- --nodes "$n" --json --skip reach,ae,pushpull,detect,false | tail -1)
    echo "$d $line"
  done
done
