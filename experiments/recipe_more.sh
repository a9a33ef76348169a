#!/usr/bin/env bash
# The recipe study, second part (docs/experiments.md, "The recipe study"): with the recipe the
# first part chose (now train/denoise.py's default: Adam, weight decay 1e-4 on the convolution
# weights outside the N3 CNNs only, the N3 blocks' parameters at 10 x the learning rate), on
# N3Net-light as in experiments/recipe.sh (1000 steps of 4 crops, seed 0, one thread per run):
#   query        the per-query normalisation of the distances instead of the batch-wide one
#   he-init      the N3 blocks' CNNs initialised He fan-out (the first round's "released")
#   frozen-light the N3 blocks' embedding and temperature CNNs kept at their initialisation
# and the check of the issue: a 300-step default N3Net run (`train/denoise.py --model n3net
# --steps 300`, everything else default).
# Usage: bash experiments/recipe_more.sh [out folder, default runs/recipe]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/recipe}
mkdir -p "$out"
py=.venv/bin/python
common=(--model n3net-light --init released --steps 1000 --val-every 100 --threads 1 --minutes 40)
row() {                    # row NAME ARGS...: one training run into $out/NAME, log in $out/NAME.log
    local name=$1; shift
    [ -f "$out/$name/test.json" ] && return 0
    local resume=()
    [ -f "$out/$name/last.npz" ] && resume=(--resume)
    $py train/denoise.py "$@" --out "$out/$name" "${resume[@]}" > "$out/$name.log" 2>&1
}
(
    row n3net-default-300 --model n3net --steps 300 --threads 1
    row he-init "${common[@]}" --init he
) &
(
    row query "${common[@]}" --distance-norm query
    row frozen-light "${common[@]}" --freeze-n3
) &
wait
