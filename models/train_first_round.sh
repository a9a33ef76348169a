#!/usr/bin/env bash
# How the first round of shipped models was trained (models/HISTORY.md; models/train.sh now continues
# their successors from a committed state): three training runs side by side on the 2-core development
# machine, one thread each: N3Net sigma 25 alone on core 0, N3Net sigma 50 and DnCNN-17 sigma 25
# sharing core 1.  Each run stops after its --steps or after MINUTES of training, whichever comes
# first; its best checkpoint (by validation PSNR) is then exported to models/NAME.npz (weights only).
# An interrupted run continues where it stopped when the script is started again.
# Usage: bash models/train.sh [MINUTES per run, default 110] [runs folder, default runs/models]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-110}
out=${2:-runs/models}
mkdir -p "$out"
py=.venv/bin/python
pin() {                    # pin CORE COMMAND...: run on one core where taskset exists
    local core=$1; shift
    if command -v taskset > /dev/null; then taskset -c "$core" "$@"; else "$@"; fi
}
run() {                    # run CORE NAME ARGS...: train into $out/NAME (log $out/NAME.log), export
    local core=$1 name=$2; shift 2
    local resume=()
    [ -f "$out/$name/last.npz" ] && resume=(--resume)
    pin "$core" $py train/denoise.py "$@" --threads 1 --minutes "$minutes" --no-test --out "$out/$name" \
        "${resume[@]}" > "$out/$name.log" 2>&1
    $py train/export.py "$out/$name/best.npz" "models/$name.npz"
}
run 0 n3net-sigma25 --model n3net --variant reference --init default --sigma 25 --steps 2600 &
run 1 n3net-sigma50 --model n3net --variant reference --init default --sigma 50 --steps 1300 &
run 1 dncnn17-sigma25 --model dncnn17 --sigma 25 --steps 2200 &
wait
