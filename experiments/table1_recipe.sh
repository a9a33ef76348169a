#!/usr/bin/env bash
# Table 1 again (docs/experiments.md, "Table 1 with the recipe that keeps the N3 blocks alive";
# issue 15): every row trained with train/denoise.py's defaults as the recipe study chose them
# (sigma 25, batch 4 of 80x80 crops, Adam, lr 2e-3 decaying exponentially to 1e-4, weight decay
# 1e-4 on the convolution weights outside the N3 CNNs only, clipping at norm 1) and each row's best initialisation (N3 models: the released
# code's; DnCNN-17 and the KNN block: the project's), 1500 steps, then evaluated on the test
# images whole (noise seed 0).  Two queues side by side, one thread each.  Rows archived in
# experiments/runs/table1r/ are done; a row with state in experiments/runs/table1r-state/ (committed
# at the end of a session) continues from it.  An invocation stops
# MINUTES after it started (each run is given the minutes left, none starts with under 5) and the
# runs continue where they stopped when the script is run again (so the table can be finished over
# several sessions).  The rows that answer the goal (DnCNN-17 and N3Net, two seeds each) come first.
#   dncnn17, dncnn17-seed1      the baseline, two seeds
#   dncnn17-decay-all           DnCNN-17 with the first round's decay (every weight and scale)
#   knn-block, n3net-light, n3net (paper form), n3net-reference (the released code's form)
#   n3net-BEST-seed1            the better N3Net form again with seed 1 (BEST=paper or reference)
#   n3net-BEST-tmax             that N3Net with its temperatures held at most 0.2 (twice their
#                               initial scale), so that no block can average its window broadly
#   n3net-BEST-tmax-seed1       the same with seed 1
#   n3net-BEST-frozen           that N3Net with its embedding and temperature CNNs frozen at
#                               their initialisation: does a learned embedding beat a random one?
# Usage: [BEST=paper|reference] [QUEUE=1|2 (one of the two only)] bash experiments/table1_recipe.sh [MINUTES, default 170] [out, default runs/table1r]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-170}
out=${2:-runs/table1r}
best=${BEST:-paper}
mkdir -p "$out"
py=.venv/bin/python
deadline=$(( $(date +%s) + 60 * minutes ))
common=(--steps 1500 --threads 1)
variant=(); [ "$best" = reference ] && variant=(--variant reference)
finished() {               # finished NAME: the run has trained all its steps (a run stopped by
                           # --minutes also writes test.json, for the model it has so far)
    [ -f "$out/$1/last.npz" ] && $py -c "import sys; from minigrad import load
sys.exit(0 if load('$out/$1/last.npz')['step'] >= 1500 else 1)"
}
archive=experiments/runs/table1r          # finished rows, archived (export_weights.py --archive)
state=experiments/runs/table1r-state      # unfinished rows' resumable state, committed between sessions
row() {                    # row NAME ARGS...: one training run into $out/NAME, log in $out/NAME.log
    local name=$1; shift
    [ -f "$archive/$name/test.json" ] && return 0
    finished "$name" && [ -f "$out/$name/test.json" ] && return 0
    if [ ! -f "$out/$name/last.npz" ] && [ -f "$state/$name/last.npz" ]; then
        mkdir -p "$out/$name" && cp "$state/$name/"* "$out/$name/"       # continue the committed state
    fi
    local left=$(( (deadline - $(date +%s)) / 60 ))
    [ "$left" -ge 5 ] || return 0
    local resume=()
    [ -f "$out/$name/last.npz" ] && resume=(--resume)
    $py train/denoise.py "$@" "${common[@]}" --minutes "$left" --out "$out/$name" "${resume[@]}" \
        >> "$out/$name.log" 2>&1 || true
}
queue1() {
    row dncnn17 --model dncnn17
    row n3net --model n3net
    row n3net-reference --model n3net --variant reference
    row "n3net-$best-seed1" --model n3net "${variant[@]}" --seed 1
    row knn-block --model knn-block
    row dncnn17-decay-all --model dncnn17 --decay-scope all
}
queue2() {
    row dncnn17-seed1 --model dncnn17 --seed 1
    row n3net-light --model n3net-light
    row "n3net-$best-tmax" --model n3net "${variant[@]}" --max-temperature 0.2
    row "n3net-$best-frozen" --model n3net "${variant[@]}" --freeze-n3
    row "n3net-$best-tmax-seed1" --model n3net "${variant[@]}" --max-temperature 0.2 --seed 1
}
case ${QUEUE:-both} in
    1) queue1 ;;
    2) queue2 ;;
    *) queue1 & queue2 & wait ;;
esac
