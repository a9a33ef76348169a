#!/usr/bin/env bash
# Runs beside Table 1 (README): the default run of train/denoise.py alone on both cores (its wall
# time is the one a new user sees), then two ablations of it, side by side on one thread each,
# with the same recipe (N3Net-light, 800 steps of 4 crops): without the distance batch-norm, and
# with the released code's initialisation in place of the project's.
# Usage: bash experiments/extra.sh [out folder, default runs/table1]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/table1}
mkdir -p "$out"
py=.venv/bin/python
row() {                    # row NAME ARGS...: one training run into $out/NAME, log in $out/NAME.log
    local name=$1; shift
    [ -f "$out/$name/test.json" ] && return 0
    local resume=()
    [ -f "$out/$name/last.npz" ] && resume=(--resume)
    $py train/denoise.py "$@" --out "$out/$name" "${resume[@]}" > "$out/$name.log" 2>&1
}
row default                                          # python train/denoise.py, as the README says
row default-no-distance-bn --no-distance-bn --threads 1 --minutes 30 &
row default-released-init --init released --threads 1 --minutes 30 &
wait
