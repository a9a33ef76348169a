#!/usr/bin/env bash
# The recipe study, second part (docs/experiments.md, "The recipe study"): with the recipe the
# first part chose (Adam, weight decay 1e-4 on the convolution weights outside the N3 CNNs only,
# the N3 blocks' parameters at 10 x the learning rate), on N3Net-light as in experiments/recipe.sh
# (1000 steps of 4 crops, seed 0, one thread per run):
#   query        the per-query normalisation of the distances instead of the batch-wide one
#   he-init      the N3 blocks' CNNs initialised He fan-out (the first round's "released")
# and the check of the issue, 300 steps of the full N3Net (everything else train/denoise.py's
# defaults) with the N3 blocks at 10, 3 and 1 x the learning rate, and at 1 x with the N3 CNNs
# frozen at their initialisation and with the per-query norm (the last two run side by side
# after the others, with --minutes 15).
# Usage: bash experiments/recipe_more.sh [out folder, default runs/recipe]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/recipe}
mkdir -p "$out"
py=.venv/bin/python
light=(--model n3net-light --init released --steps 1000 --val-every 100 --threads 1 --minutes 40
       --decay-scope backbone --n3-lr-scale 10)
row() {                    # row NAME ARGS...: one training run into $out/NAME, log in $out/NAME.log
    local name=$1; shift
    [ -f "$out/$name/test.json" ] && return 0
    local resume=()
    [ -f "$out/$name/last.npz" ] && resume=(--resume)
    $py train/denoise.py "$@" --out "$out/$name" "${resume[@]}" > "$out/$name.log" 2>&1
}
(
    row n3net-300-n3lr10 --model n3net --steps 300 --threads 1 --decay-scope backbone --n3-lr-scale 10
    row he-init "${light[@]}" --init he
) &
(
    row query "${light[@]}" --distance-norm query
    row n3net-300-n3lr3 --model n3net --steps 300 --threads 1 --decay-scope backbone --n3-lr-scale 3
    row n3net-300-n3lr1 --model n3net --steps 300 --threads 1 --decay-scope backbone --n3-lr-scale 1
) &
wait
n3net300=(--model n3net --steps 300 --threads 1 --decay-scope backbone --n3-lr-scale 1 --minutes 15)
row n3net-300-frozen "${n3net300[@]}" --freeze-n3 &
row n3net-300-query "${n3net300[@]}" --distance-norm query &
wait
