#!/usr/bin/env bash
# The second queue of experiments/table1.sh again, after the temperature floor (N3Block's
# min_temperature) was added: its first N3Net-light run had stopped at step 184 when its
# temperatures fell to 1e-31 and the gradients overflowed.  Same recipe and options.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/table1}
py=.venv/bin/python
common=(--steps 1000 --init default --threads 1 --minutes 80)
row() {
    local name=$1; shift
    [ -f "$out/$name/test.json" ] && return 0
    local resume=()
    [ -f "$out/$name/last.npz" ] && resume=(--resume)
    $py train/denoise.py "$@" "${common[@]}" --out "$out/$name" "${resume[@]}" > "$out/$name.log" 2>&1
}
row n3net-light --model n3net-light || true
row n3net-reference --model n3net --variant reference
