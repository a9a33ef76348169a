#!/usr/bin/env bash
# Redo every number and figure of models/README.md (and the README's sigma-25 table) from the
# committed models, after models/train.sh has replaced one of them:
#
#   bash models/regenerate.sh            # both noise levels (two lanes on 2 cores; see below)
#   bash models/regenerate.sh 25         # only what n3net-sigma25 or dncnn17-sigma25 feed
#   bash models/regenerate.sh 50         # only what n3net-sigma50 feeds
#
# Per noise level, one lane on one core (the two side by side):
#   25: the test-image evaluations of n3net-sigma25 (with BM3D) and dncnn17-sigma25, each also with
#       --self-ensemble (8 orientations averaged: 8 times the time), n3net-sigma25 at sigma 15 and 35
#       (with BM3D given the true sigma), inspect_n3's and compare's figures;
#   50: the evaluation of n3net-sigma50 (with BM3D, and with --self-ensemble), it at sigma 15 and 35,
#       inspect_n3's figure, and its blocks' diagnostic on four 160 x 160 crops of brick (models/README,
#       Pictures).
# Then the progress figure (models/curves.py), and the tables (models/report.py --write: the PSNR,
# training and other-noise-level tables and the table of the runs' test points) put into
# models/README.md and README.md in place of the old ones; the prose around them is the author's to
# update (tests/test_models_report.py holds the tables to the committed results).  Needs the bm3d
# package (pip install bm3d).
# Each lane's output is in runs/regenerate/LANE.log.  The lanes took about 5 minutes before the
# self-ensemble evaluations came in; each of those takes 8 plain evaluations' time (one core: 66 s
# for an N3Net on the test images, 37 s for DnCNN-17: the "seconds" of models/results/NAME.json), so
# the sigma-25 lane now takes about 20 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-.venv/bin/python}
lanes=("$@")
[ ${#lanes[@]} -gt 0 ] || lanes=(25 50)
for lane in "${lanes[@]}"; do
    case $lane in
        25|50) ;;
        *) echo "models/regenerate.sh: unknown noise level '$lane' (give 25, 50 or nothing for both)" >&2; exit 2 ;;
    esac
done
logs=runs/regenerate
mkdir -p "$logs"
results=models/results
between=$results/between
ensemble=$results/self-ensemble
mkdir -p $ensemble

lane_25() {
    $py train/evaluate.py --threads 1 --sigma 25 --bm3d --json $results/n3net-sigma25.json
    $py train/evaluate.py --threads 1 --checkpoint dncnn17-sigma25 --sigma 25 --json $results/dncnn17-sigma25.json
    for name in n3net-sigma25 dncnn17-sigma25; do
        $py train/evaluate.py --threads 1 --checkpoint $name --sigma 25 --self-ensemble --json $ensemble/$name.json
    done
    for s in 15 35; do
        $py train/evaluate.py --threads 1 --checkpoint n3net-sigma25 --sigma $s --bm3d --json $between/n3net-sigma25-at-$s.json
    done
    $py train/inspect_n3.py --threads 1 --out docs/figures/inspect_n3net_sigma25.png
    $py train/compare.py --threads 1 --out docs/figures/compare_sigma25.png
}

lane_50() {
    $py train/evaluate.py --threads 1 --sigma 50 --bm3d --json $results/n3net-sigma50.json
    $py train/evaluate.py --threads 1 --checkpoint n3net-sigma50 --sigma 50 --self-ensemble --json $ensemble/n3net-sigma50.json
    for s in 15 35; do
        $py train/evaluate.py --threads 1 --checkpoint n3net-sigma50 --sigma $s --json $between/n3net-sigma50-at-$s.json
    done
    $py train/inspect_n3.py --threads 1 --sigma 50 --out docs/figures/inspect_n3net_sigma50.png
    brick=$(mktemp -d)
    cp data/images/test/brick.png "$brick/"
    $py train/diagnose.py --threads 1 --checkpoint n3net-sigma50 --images "$brick" --crop 160 --crops 4
    rm -r "$brick"
}

pids=()
for lane in "${lanes[@]}"; do
    echo "sigma $lane: log in $logs/$lane.log"
    lane_$lane > "$logs/$lane.log" 2>&1 &
    pids+=($!)
done
failed=0
for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { echo "the sigma-${lanes[$i]} lane failed: see $logs/${lanes[$i]}.log" >&2; failed=1; }
done
[ $failed = 0 ] || exit 1

$py models/curves.py --out docs/figures/models_curves.png
$py models/report.py --write       # the committed results: models/results/, between/, self-ensemble/
