#!/usr/bin/env bash
# Runs beside Table 1 (README): the default run of train/denoise.py alone on both cores (its wall
# time is the one a new user sees), then, two at a time on one thread each: N3Net-light without the
# distance batch-norm and with the released initialisation (the same recipe as Table 1 otherwise),
# and DnCNN-17 for as many steps as fit in N3Net's wall time (1750 steps, at 1.75x the steps of
# N3Net's 1000: the ratio of their step times, 1.42 s / 0.81 s on two threads).
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
common=(--steps 1000 --threads 1 --minutes 80)
(
    row n3net-light-no-distance-bn --model n3net-light --no-distance-bn "${common[@]}"
    row n3net-light-released-init --model n3net-light --init released "${common[@]}"
) &
(
    row dncnn17-1750-steps --model dncnn17 --steps 1750 --threads 1 --minutes 80
) &
wait
