#!/usr/bin/env bash
# The shipped models, trained on a budget that keeps growing (models/README.md).  Each run's whole
# training state (weights, Adam's moments, schedule position, random generator) lives in
# models/state/NAME/ and is committed, so every invocation continues every run where it stopped:
#
#     bash models/train.sh MINUTES                  # the three runs side by side, one thread each
#     bash models/train.sh MINUTES --cooldown 0     # the runs only, no cool-down branches
#     bash models/train.sh 0                        # the cool-down branches only
#     bash models/train.sh 0 --only dncnn17-sigma25 # one run's (or its branch's) part only
#     bash models/train.sh MINUTES --device gpu     # on a GPU (CuPy), one run after the other
#     bash models/train.sh MINUTES --until STEP --only n3net-sigma25     # the sigma-25 runs up to STEP,
#     bash models/train.sh MINUTES --until STEP --only dncnn17-sigma25   # side by side (two commands)
#     bash models/train.sh 0 --extra-train data/images/extra   # branches that also see the 7 extra images
#     bash models/train.sh MINUTES --clip 0.05 --only n3net-sigma25    # a run goes on with a tighter clip
#     bash models/train.sh 0 --only n3net-sigma25 --branch-seed 1   # a second branch, other crops and noise
#
# Each N3Net trains for MINUTES (then saves and stops cleanly, at most one step later), and its best
# checkpoint by validation PSNR is exported to models/NAME.npz (weights only: what the commands
# load) if it validates better than the model there (train/export.py --if-better: a shipped model
# never gets worse while a new run catches up).  Only last.npz (about
# 8.5 MB for an N3Net, 6.7 MB for DnCNN-17) and the logs of models/state/ are committed.  The learning
# rate halves every HALF_LIFE steps (--lr-half-life), whatever the number of steps, so a run continued
# over many invocations is the same run as one trained in one go, down to a floor where it then stays
# (--lr-end): FLOOR_25 for the sigma-25 runs, FLOOR_50 for n3net-sigma50.  Until 2026-12-01 the floor
# was 1e-5 (reached at step 22,900): a run's rate, and with it what more steps can teach it, would
# shrink towards nothing however long the budget grew (models/README.md).  The floors are just below
# the rates the runs had when the floors came in (2.6e-4 and 7.8e-5: n3net-sigma50, further on, had
# passed 2e-4, and raising a rate back up would be a jump, which train/denoise.py refuses).  From the
# invocations after 2026-12-02's fourth session FLOOR_25 is 1e-4 (was 2e-4; both sigma-25 runs, so
# the comparison at equal steps stays fair): their cool-down branches from 16230 to 21000 all tested
# 30.96-30.99 while the runs validated 0.4-0.5 dB below them at 2e-4 (models/README.md).
# From 2026-12-05's second session FLOOR_25 is 5e-5 (both sigma-25 runs again, from step 45750):
# n3net-sigma25's cool-down branches from 41400 to 45750 all tested 31.09-31.11 at 1e-4 (models/README.md).
# The recipe is train/denoise.py's (issue 15): weight decay outside the N3 blocks' CNNs, the released
# initialisation for N3Net, and the N3 blocks' temperatures held at most 0.2 (--max-temperature:
# every block stays selective at no cost in PSNR, docs/experiments.md, Table 1 with the recipe) and
# at least 0.02 (--min-temperature, from 2026-11-30 on: without it the first blocks' selections grew
# hard, models/README.md).  DnCNN-17 then trains up to the step n3net-sigma25 has reached (for the
# comparison at equal steps; it is about twice as fast per step), for at most MINUTES too, while
# n3net-sigma50 goes on on the other core for about as long (its own budget is the larger one).
# Each invocation ends with each run's test evaluation (test images whole, noise seed 0), appended
# to models/state/NAME/tests.jsonl: the PSNR against steps, one point per run
# (models/curves.py draws it with the validation PSNR and BM3D).
# Then the cool-down branches: the learning rate of a run that keeps going stays high (it halves
# every HALF_LIFE steps), and a model at a high rate validates 1-2 dB below what it holds.  So each
# invocation also branches each run at its last step into models/state/NAME/cooldown/ (train/denoise.py
# --cooldown-from: the rate falls from the run's to 1e-5 over COOLDOWN steps; the run itself goes on
# next time from where it was, untouched: the constant-then-cool-down schedule of Hagele et al. 2024,
# "Scaling laws and compute-optimal training beyond fixed training durations").  The branch's test
# point joins tests.jsonl (with "cooldown": its steps), and its best by validation is exported if it
# validates better than the shipped model.  The branch's weights are not kept (only its logs).
# From 2026-12-03 on the branch also averages its states over its last third (--average-last, every
# 50 steps: weights and batch-norm statistics, Izmailov et al. 2018); the average is validated at the
# end and is the branch's best if it validates best (with "averaged": how many states, in tests.jsonl).
# From 2026-12-03's third session on the average's test point joins tests.jsonl even when it does not
# validate best (test_average.json; before, it was deleted untested with the branch's weights).
# --clip VALUE (from 2026-12-04's second session on) gives the runs it trains a new bound on their
# gradients' norm (train/denoise.py --clip); a run keeps it on later invocations, and its cool-down
# branches inherit it.  Without it each run keeps the clip it has (1.0 until then).
# --branch-seed S (from 2026-12-04's sixth session on) makes the branches draw their crops and noise
# from a generator of their own, seeded S (train/denoise.py --branch-seed), into
# models/state/NAME/cooldown-seedS/ (beside cooldown/, whose branch takes the run's generator): the
# same step branched twice shows how much a branch's result is its data's draw.
# From 2026-12-05's ninth session on an N3Net's best is exported only if its blocks are alive and
# selective on test crops (train/export.py --blocks, from record's diagnosis: median n_eff at most 128
# of 224, at most 10 % of queries saturated, not collapsed: issue 16's bound on a shipped block).
# From then on too n3net-sigma50's branches (not its run) hold its blocks' temperatures at least
# BRANCH_MIN_T_50 = 0.01 instead of the run's 0.02: its first block sits at the floor, and its branches
# had grown broad (median n_eff 117 of 224 on test crops from 59466); paired branches (from 21682,
# 59466 and 62018) with the floor at 0.01 halved that n_eff or more at no cost in PSNR, though from
# 62018 it left 9.2 % of the queries saturated, near the bound that export_best checks (models/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: bash models/train.sh MINUTES [--cooldown STEPS] [--only NAME] [--until STEP] [--extra-train FOLDER] [--clip VALUE] [--branch-seed S] [--device cpu|gpu]"
minutes=${1:?$usage}
shift
device=cpu
COOLDOWN=400               # steps of each cool-down branch (0: none)
only=                      # one run's name: the others are left as they are
until=                     # the step where the sigma-25 runs stop (if MINUTES has not stopped them)
extra=()                   # --extra-train FOLDER: more training images for the runs and branches it trains
clip=()                    # --clip VALUE: a new gradient clip for the runs it trains (kept by them after)
seed=()                    # --branch-seed S: the branches' own crops and noise (in cooldown-seedS/)
while [ $# -gt 0 ]; do
    case $1 in
        --device) device=${2:?--device cpu or gpu}; shift 2 ;;
        --cooldown) COOLDOWN=${2:?--cooldown STEPS}; shift 2 ;;
        --only) only=${2:?--only NAME}; shift 2 ;;
        --until) until=${2:?--until STEP}; shift 2 ;;
        --extra-train) extra=(--extra-train "${2:?--extra-train FOLDER}"); shift 2 ;;
        --clip) clip=(--clip "${2:?--clip VALUE}"); shift 2 ;;
        --branch-seed) seed=(--branch-seed "${2:?--branch-seed S}"); shift 2 ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
done
state=models/state
py=.venv/bin/python
HALF_LIFE=3000
FLOOR_25=5e-5              # the runs' learning-rate floors (--lr-end; the cool-down branches fall to 1e-5)
FLOOR_50=7e-5
BRANCH_MIN_T_50=0.01       # n3net-sigma50's branches hold its blocks' temperatures at least this (not 0.02)
# each run's options (a resumed run takes the rest from its checkpoint)
N3NET_25=(--model n3net --sigma 25 --max-temperature 0.2 --min-temperature 0.02 --lr-end "$FLOOR_25")
N3NET_50=(--model n3net --sigma 50 --max-temperature 0.2 --min-temperature 0.02 --lr-end "$FLOOR_50")
DNCNN_25=(--model dncnn17 --sigma 25 --lr-end "$FLOOR_25")
STEPS=1000000              # the N3Nets' cap, never reached: MINUTES bounds each invocation (or --until)
mkdir -p "$state"
threads=(--threads 1)
[ "$device" = gpu ] && threads=()
wanted() { [ -z "$only" ] || [ "$only" = "$1" ]; }
run() {                    # run NAME ARGS...: continue (or start) models/state/NAME, then export its best
    local name=$1; shift
    wanted "$name" || return 0
    local resume=()
    [ -f "$state/$name/last.npz" ] && resume=(--resume)
    $py train/denoise.py "$@" --steps "$STEPS" --lr-half-life "$HALF_LIFE" --val-every 100 \
        --checkpoint-every 50 --device "$device" "${threads[@]}" "${extra[@]}" "${clip[@]}" --minutes "${RUN_MINUTES:-$minutes}" \
        --out "$state/$name" "${resume[@]}" >> "$state/$name.log" 2>&1
    record "$name" "$state/$name"
    export_best "$name" "$state/$name"
}
cooldown() {               # cooldown NAME: a cool-down branch of models/state/NAME at its last step
    local name=$1 folder=$state/$1/cooldown${seed[1]:+-seed${seed[1]}} own=()
    wanted "$name" && [ -f "$state/$name/last.npz" ] || return 0
    [ "$name" = n3net-sigma50 ] && own=(--min-temperature "$BRANCH_MIN_T_50")
    rm -rf "$folder"
    $py train/denoise.py --cooldown-from "$state/$name/last.npz" --cooldown "$COOLDOWN" --lr-end 1e-5 --val-every 100 \
        --average-last $((COOLDOWN / 3 > 0 ? COOLDOWN / 3 : 1)) --checkpoint-every 50 --device "$device" \
        "${threads[@]}" "${extra[@]}" "${seed[@]}" "${own[@]}" --out "$folder" >> "$state/$name.log" 2>&1
    record "$name" "$folder"
    if [ -f "$folder/test_average.json" ]; then        # the average did not validate best: its test too
        record "$name" "$folder" test_average.json
    fi
    export_best "$name" "$folder"
    rm -f "$folder"/{last,best,average}.npz          # the branch's weights: exported if better, else gone
}
record() {                 # record NAME FOLDER [TEST]: FOLDER's test point joins NAME's history
    # the test evaluation of this invocation's end (TEST, by default test.json: its best model, or
    # the last if it validated no new best; test_average.json: a branch's average that did not
    # validate best) joins the run's history, one line per point, with (for an N3Net) the
    # saturation and collapse diagnostic of its blocks on test crops (train/diagnose.py)
    # (into diagnose.json for test.json, diagnose_average.json for test_average.json: each point's own)
    local name=$1 folder=$2 test=$2/${3:-test.json}
    local diagnosis=$folder/diagnose${test##*/test}
    rm -f "$diagnosis"
    if [[ $name == n3net* ]]; then
        $py train/diagnose.py --checkpoint "$($py -c "import json; print(json.load(open('$test'))['checkpoint'])")" \
            "${threads[@]}" --device "$device" --json "$diagnosis" >> "$state/$name.log" 2>&1
    fi
    $py - "$diagnosis" "$state/$name/tests.jsonl" "$test" <<'PY'
import json, os, sys
from minigrad import load
from train.inference import crops_seen
from train.records import read_jsonl
diagnosis, path, test = sys.argv[1:4]
r = json.load(open(test))
keep = {"step": r["step"], "mean_psnr": r["mean_psnr"], "mean_ssim": r["mean_ssim"],
        "psnr": {k: v["psnr"] for k, v in r["images"].items()}, "checkpoint": r["checkpoint"].split("/")[-1]}
ckpt = load(r["checkpoint"])
keep["seconds"] = round(float(ckpt["train_seconds"]), 1)          # training time to that checkpoint
keep["crops"] = crops_seen(ckpt)                           # crops seen (a branch may change the batch size)
args = json.loads(ckpt["train_args"])
if args.get("cooldown"):                                   # a branch: where it left the run, and how long
    keep.update(cooldown=args["cooldown"], branched_at=args["steps"] - args["cooldown"])
if args.get("extra_train"):                                # trained on more images (--extra-train)
    keep["extra_train"] = args["extra_train"]
if args.get("branch_seed") is not None:                    # a branch with its own crops and noise
    keep["branch_seed"] = args["branch_seed"]
if "averaged" in ckpt:                                     # the average of the branch's last states
    keep.update(averaged=int(ckpt["averaged"]), average_last=args["average_last"])
if os.path.exists(diagnosis):
    blocks = json.load(open(diagnosis))["blocks"]
    keep["blocks"] = [{k: b[k] for k in ("block", "n_eff_median", "saturated", "t_median", "separation_median",
                                         "logit_std_median", "collapsed")} for b in blocks]
def point(h):                                  # one point per step, branch, data, seed and average
    return h["step"], h.get("cooldown"), h.get("extra_train"), h.get("branch_seed"), h.get("averaged")
if point(keep) not in {point(h) for h in read_jsonl(path)}:  # a run that validated no new best: no new point
    print(json.dumps(keep), file=open(path, "a"))
PY
}
export_best() {            # export_best NAME FOLDER: FOLDER's best by validation is shipped if better
    local blocks=()            # an N3Net's best is shipped only if its blocks are selective (record's diagnosis)
    [[ $1 == n3net* ]] && blocks=(--blocks "$2/diagnose.json")
    if [ -f "$2/best.npz" ]; then                # written when this invocation validated a new best
        $py train/export.py --if-better "${blocks[@]}" "$2/best.npz" "models/$1.npz" >> "$state/$1.log"
    fi
}
step_of() {                # step_of NAME: the step models/state/NAME has reached (0 before it starts)
    [ -f "$state/$1/last.npz" ] || { echo 0; return; }
    $py -c "from minigrad import load; print(int(load('$state/$1/last.npz')['step']))"
}
catch_up_minutes() {       # catch_up_minutes FROM TO: about how long DnCNN-17 takes from step FROM to TO
    $py - "$state" "$@" <<'PY'
import json, os, sys
def seconds_per_step(name):
    try:
        with open(os.path.join(sys.argv[1], name, "metrics.jsonl")) as f:
            last = [json.loads(line) for line in f if '"seconds"' in line][-1]
        return last["seconds"] / last["step"]
    except (OSError, IndexError):
        return None
first, target = map(int, sys.argv[2:4])
dncnn = seconds_per_step("dncnn17-sigma25")
if dncnn is None:
    n3net = seconds_per_step("n3net-sigma25")
    dncnn = n3net / 2 if n3net else None                   # DnCNN-17 is about twice as fast per step
print(max(1, round((target - first) * dncnn / 60)) if dncnn else 10 ** 6)   # unknown: the cap decides
PY
}
catch_up() {               # DnCNN-17 trains up to the step n3net-sigma25 has reached (or --until's):
    local target start     # equal steps; meanwhile (on the CPU) n3net-sigma50 goes on on the other core
    target=${until:-$(step_of n3net-sigma25)}
    start=$(step_of dncnn17-sigma25)
    if [ "$start" -lt "$target" ]; then
        STEPS=$target run dncnn17-sigma25 "${DNCNN_25[@]}" &
        if [ "$device" = cpu ]; then
            local budget
            budget=$(catch_up_minutes "$start" "$target")
            [ "$budget" -gt "$minutes" ] && budget=$minutes
            RUN_MINUTES=$budget run n3net-sigma50 "${N3NET_50[@]}" &
        fi
        wait
    fi
}
if [ "$minutes" != 0 ]; then
    if [ "$device" = gpu ]; then
        STEPS=${until:-$STEPS} run n3net-sigma25 "${N3NET_25[@]}"
        run n3net-sigma50 "${N3NET_50[@]}"
    else
        STEPS=${until:-$STEPS} run n3net-sigma25 "${N3NET_25[@]}" &
        run n3net-sigma50 "${N3NET_50[@]}" &
        wait
    fi
    catch_up
fi
if [ "$COOLDOWN" != 0 ]; then
    if [ "$device" = gpu ]; then
        cooldown n3net-sigma25; cooldown n3net-sigma50; cooldown dncnn17-sigma25
    else
        cooldown n3net-sigma25 &
        { cooldown dncnn17-sigma25; cooldown n3net-sigma50; } &
        wait
    fi
fi
