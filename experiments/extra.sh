#!/usr/bin/env bash
# Runs beside Table 1 (docs/experiments.md): the default run of train/denoise.py (N3Net-light, 800 steps of 4
# crops) with the project's initialisation, and the same recipe with the released code's (which,
# being better, then became the default for N3 models: the second run is today's default run).
# Side by side, one thread each (the machine has two cores; the Table 1 runs were still going).
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
row default --init default --threads 1 --minutes 40 &    # the default run before --init released became N3Net's default
row default-released-init --init released --threads 1 --minutes 40 &
wait
