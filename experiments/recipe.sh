#!/usr/bin/env bash
# The recipe study (docs/experiments.md, "The recipe study"; issue 15): which training recipe keeps
# the N3 blocks' embedding and temperature CNNs alive?  N3Net-light, the released initialisation,
# paper form, sigma 25, 1000 steps of 4 crops of 80x80, seed 0, validation (and the logged N3
# diagnostics) every 100 steps, one thread per run, two queues side by side (two cores).
#   current      Adam, L2 decay 1e-4 on every convolution weight and batch-norm scale (the released code)
#   adamw        (a) decoupled decay, same parameters
#   backbone     (b) decay only on the convolution weights outside the N3 CNNs
#   loss800      (c) the released loss scale, 800 x MSE (clipping scaled with it: --clip is on the MSE)
#   n3lr10       (d) the N3 blocks' parameters at 10 x the learning rate
#   backbone-n3lr10   (b) and (d) together
# Usage: bash experiments/recipe.sh [out folder, default runs/recipe]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/recipe}
mkdir -p "$out"
py=.venv/bin/python
common=(--model n3net-light --init released --steps 1000 --val-every 100 --threads 1 --minutes 45
        --optimizer adam --decay-scope all --n3-lr-scale 1 --loss-scale 1)
row() {                    # row NAME ARGS...: one training run into $out/NAME, log in $out/NAME.log
    local name=$1; shift
    [ -f "$out/$name/test.json" ] && return 0
    local resume=()
    [ -f "$out/$name/last.npz" ] && resume=(--resume)
    $py train/denoise.py "${common[@]}" "$@" --out "$out/$name" "${resume[@]}" > "$out/$name.log" 2>&1
}
(
    row backbone --decay-scope backbone
    row current
    row n3lr10 --n3-lr-scale 10
) &
(
    row backbone-n3lr10 --decay-scope backbone --n3-lr-scale 10
    row adamw --optimizer adamw
    row loss800 --loss-scale 800
) &
wait
