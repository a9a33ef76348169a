#!/usr/bin/env bash
# Table 1 at small scale (docs/experiments.md, "Table 1 at small scale"): every row trained with one recipe,
# train/denoise.py's defaults (sigma 25, batch 4 of 80x80 crops with flips and rotations, Adam,
# lr 2e-3 decaying exponentially to 1e-4, weight decay 1e-4, gradient clipping at norm 1, the
# project's initialisation, --init default, for every row) and 1000 steps, then evaluated on the test images whole (noise seed 0).
# Two queues run side by side, each on one thread (the machine has two cores).
# Usage: bash experiments/table1.sh [out folder, default runs/table1]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/table1}
mkdir -p "$out"
py=.venv/bin/python
common=(--steps 1000 --init default --threads 1 --minutes 80)
row() {                    # row NAME ARGS...: one training run into $out/NAME, log in $out/NAME.log
    local name=$1; shift
    [ -f "$out/$name/test.json" ] && return 0
    local resume=()
    [ -f "$out/$name/last.npz" ] && resume=(--resume)
    $py train/denoise.py "$@" "${common[@]}" --out "$out/$name" "${resume[@]}" > "$out/$name.log" 2>&1
}
(
    row n3net --model n3net
    row knn-block --model knn-block
    row dncnn17-seed1 --model dncnn17 --seed 1
) &
(
    row dncnn17 --model dncnn17
    row n3net-light --model n3net-light
    row n3net-reference --model n3net --variant reference
) &
wait
