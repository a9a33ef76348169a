"""The tables of models/README.md and the README, from the shipped models and their evaluations.

    python models/report.py models/results/n3net-sigma25.json models/results/dncnn17-sigma25.json ...

Each JSON is written by train/evaluate.py --json (with --bm3d for the BM3D rows); its "checkpoint"
names the model file (relative to the repository root where it lies inside it), whose training
options, steps and wall time go into the training table.  Prints, per sigma, the PSNR table (noisy
input, BM3D where measured, every model; per test image and the mean PSNR / SSIM), then the
training table, and with --between JSON ... the table of the shipped models at other noise levels;
--self-ensemble JSON ... (evaluate.py --self-ensemble) adds rows to the PSNR tables of their sigma.

With --write it puts these tables (and models/curves.py's tables of the runs' test points and of
N3Net against DnCNN-17 at equal steps) into models/README.md and README.md in place of the tables
they replace, found by their header (and, where several tables share a header, their row labels);
with --check it only says which differ (exit status 1), so that a test can hold the READMEs to the
committed results:

    python models/report.py --write          # the committed results (models/results/) and runs
"""
import argparse
import importlib.util
import json
import os
import sys
from collections import Counter

from minigrad import load
from train.inference import crops_seen
from train.shipped import in_repo


def read(path):
    with open(path) as f:
        result = json.load(f)
    result["name"] = os.path.splitext(os.path.basename(result["checkpoint"]))[0]
    result["model"] = load(in_repo(result["checkpoint"]))     # relative: to the repository root
    return result


HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHIPPED = ("n3net-sigma25", "dncnn17-sigma25", "n3net-sigma50")          # models/results/NAME.json


def label(result):
    """A row's name: the model's, and how it was run if not in one pass."""
    if result.get("self_ensemble"):
        return f"`{result['name']}`, {result['self_ensemble']} orientations averaged"
    return f"`{result['name']}`"


def psnr_table(results, corner=""):
    """Per test image and on average, the noisy input's, BM3D's (where measured) and each model's PSNR."""
    names = sorted(results[0]["images"])
    lines = [(f"| {corner} | " if corner else "| | ") + " | ".join(os.path.splitext(n)[0] for n in names) + " | mean PSNR / SSIM |",
             "|---|" + "---|" * (len(names) + 1)]

    def row(label, result, key, mean):               # mean: the key of the mean PSNR, "_ssim" for SSIM
        lines.append(f"| {label} | " + " | ".join(f"{result['images'][n][key]:.2f}" for n in names)
                     + f" | {result[mean + '_psnr']:.2f} / {result[mean + '_ssim']:.3f} |")

    row("noisy input", results[0], "noisy_psnr", "mean_noisy")
    with_bm3d = [r for r in results if "mean_bm3d_psnr" in r]
    if with_bm3d:
        row("BM3D", with_bm3d[0], "bm3d_psnr", "mean_bm3d")
    for result in results:
        row(label(result), result, "psnr", "mean")
    return "\n".join(lines)


OPTIONS = ("model", "variant", "init", "sigma", "max_temperature", "min_temperature", "lr_half_life", "crop",
           "batch_size", "extra_train")


def training_table(results):
    """The training options of each shipped model (a cool-down branch's: with where it left its
    run), its steps and crops, training time and best validation PSNR."""
    lines = ["| model | training options | steps (crops) | training wall time | best validation PSNR (step) |",
             "|---|---|---|---|---|"]
    for r in results:
        m = r["model"]
        args = json.loads(m["train_args"])
        options = " ".join(f"--{k.replace('_', '-')} {args[k]}" for k in OPTIONS
                           if args.get(k) is not None and not (k == "variant" and "n3" not in args["model"]))
        options = f"`{options}`"
        if args.get("cooldown"):
            options += f", a cool-down branch of {args['cooldown']} steps from step {args['steps'] - args['cooldown']}"
        if args.get("branch_seed") is not None:
            options += f" drawing its own crops and noise (--branch-seed {args['branch_seed']})"
        if "averaged" in m:
            options += f", the average of its last {args['average_last']} steps ({int(m['averaged'])} states)"
        minutes = f"{float(m['train_seconds']) / 60:.0f} min" if "train_seconds" in m else "-"
        crops = crops_seen(m)
        lines.append(f"| `{r['name']}` | {options} | {int(m['step'])} ({crops:,}) | {minutes} "
                     f"| {float(m['best_val_psnr']):.2f} dB ({int(m['best_val_step'])}) |")
    return "\n".join(lines)


def between_table(results):
    """What the shipped models do to noise levels they were not trained for: per noise level, the
    noisy input's mean PSNR, each model's mean PSNR / SSIM, and BM3D given the true sigma where measured."""
    names = list(dict.fromkeys(r["name"] for r in results))           # in the order given
    lines = ["| image noise | noisy | " + " | ".join(f"`{n}`" for n in names) + " | BM3D (true sigma) |",
             "|---|---|" + "---|" * len(names) + "---|"]
    for sigma in sorted({r["sigma"] for r in results}):
        at = {r["name"]: r for r in results if r["sigma"] == sigma}
        bm3d = [r["mean_bm3d_psnr"] for r in at.values() if "mean_bm3d_psnr" in r]
        cells = [f"{at[n]['mean_psnr']:.2f} / {at[n]['mean_ssim']:.3f}" if n in at else "-" for n in names]
        noisy = next(iter(at.values()))["mean_noisy_psnr"]
        lines.append(f"| sigma {sigma:g} | {noisy:.2f} | " + " | ".join(cells) + (f" | {bm3d[0]:.2f} |" if bm3d else " | - |"))
    return "\n".join(lines)


def tables(text):
    """[(start, end)] line ranges of the markdown tables of `text` (runs of lines that begin with '|')."""
    lines, found, start = text.split("\n"), [], None
    for i, line in enumerate(lines + [""]):
        if line.startswith("|") and start is None:
            start = i
        elif not line.startswith("|") and start is not None:
            found.append((start, i))
            start = None
    return found


def labels(table_lines):
    """The first cells of a table's rows (below its header and separator)."""
    return [line.split("|")[1].strip() for line in table_lines[2:]]


def replace_table(text, table):
    """`text` with `table` in place of the one table it stands for: the one with the same header, or
    where several share it, the one with a row label that is its own among them (the models'; "noisy
    input" and "BM3D" are in every PSNR table) and in the new table: rows may come and go.  A table
    that is not there is an error (paste it by hand once: the layout of the file is the author's)."""
    lines, new = text.split("\n"), table.split("\n")
    found = [(a, b) for a, b in tables(text) if lines[a] == new[0]]
    rows = ""
    if len(found) > 1:
        counts = Counter(label for a, b in found for label in set(labels(lines[a:b])))
        found = [(a, b) for a, b in found if {l for l in labels(lines[a:b]) if counts[l] == 1} & set(labels(new))]
        rows = f" with the rows {', '.join(labels(new))}"
    if len(found) != 1:
        raise ValueError(f"{len(found)} tables headed {new[0]!r}{rows}")
    a, b = found[0]
    return "\n".join(lines[:a] + new + lines[b:])


def by_sigma(results):
    """{sigma: [results at that sigma]}, in the order given, by increasing sigma."""
    grouped = {}
    for r in sorted(results, key=lambda r: r["sigma"]):
        grouped.setdefault(r["sigma"], []).append(r)
    return grouped


def readme_tables(results, between, state, ensembles=()):
    """{file: [tables]}: what models/README.md and README.md show of these evaluations and runs
    (ensembles: self-ensemble evaluations, rows of the PSNR tables only)."""
    spec = importlib.util.spec_from_file_location("curves", os.path.join(HERE, "curves.py"))
    curves = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(curves)
    grouped = by_sigma(list(results) + list(ensembles))
    in_models = [psnr_table(chosen) for chosen in grouped.values()] + [training_table(results)]
    if between:
        in_models.append(between_table(between))
    loaded = curves.load(state)
    in_models += [curves.progress(loaded), curves.pairs(loaded)]
    in_readme = [psnr_table(grouped[25.0], corner="sigma 25")] if 25.0 in grouped else []
    return {os.path.join(HERE, "README.md"): in_models, os.path.join(ROOT, "README.md"): in_readme}


def sync(files, write):
    """Put each file's tables in place; return the files whose tables differed (written if `write`)."""
    differ = []
    for path, new_tables in files.items():
        with open(path) as f:
            text = f.read()
        updated = text
        for table in new_tables:
            try:
                updated = replace_table(updated, table)
            except ValueError as e:
                raise SystemExit(f"{os.path.relpath(path, ROOT)}: {e}: paste the table by hand once "
                                 f"(models/report.py prints it)") from None
        if updated != text:
            differ.append(path)
            if write:
                with open(path + ".tmp", "w") as f:
                    f.write(updated)
                os.replace(path + ".tmp", path)
    return differ


def committed(folder):
    """The JSON files of models/results/FOLDER (none if it does not exist), the shipped models' in
    SHIPPED's order first."""
    folder = os.path.join(HERE, "results", folder)
    names = [n for n in os.listdir(folder) if n.endswith(".json")] if os.path.isdir(folder) else []
    order = {f"{name}.json": i for i, name in enumerate(SHIPPED)}
    return [os.path.join(folder, n) for n in sorted(names, key=lambda n: (order.get(n, len(SHIPPED)), n))]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="*", help="JSON files written by train/evaluate.py --json "
                   "(default: models/results/NAME.json of the shipped models)")
    p.add_argument("--between", nargs="+", default=None, metavar="JSON",
                   help="evaluations of the shipped models at other noise levels (default with --write or --check: "
                        "models/results/between/*.json): printed as one more table")
    p.add_argument("--self-ensemble", nargs="+", default=None, metavar="JSON",
                   help="evaluations with --self-ensemble (default with --write or --check: "
                        "models/results/self-ensemble/*.json): rows of the PSNR tables")
    p.add_argument("--state", default=os.path.join(HERE, "state"), help="models/train.sh's run folders (--write, --check)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--write", action="store_true", help="put the tables into models/README.md and README.md")
    what.add_argument("--check", action="store_true", help="only say whether the READMEs' tables differ (exit 1)")
    args = p.parse_args(argv)
    paths = args.results or [os.path.join(HERE, "results", f"{name}.json") for name in SHIPPED]
    between, ensembles = args.between, args.self_ensemble
    if args.write or args.check:
        between = committed("between") if between is None else between
        ensembles = committed("self-ensemble") if ensembles is None else ensembles
    results = [read(path) for path in paths]
    between = [read(path) for path in between or []]
    ensembles = [read(path) for path in ensembles or []]
    if args.write or args.check:
        differ = sync(readme_tables(results, between, args.state, ensembles), write=args.write)
        for path in differ:
            print(f"{os.path.relpath(path, ROOT)}: tables {'updated' if args.write else 'differ from the results'}")
        return 1 if differ and args.check else 0
    for sigma, chosen in by_sigma(results + ensembles).items():
        print(f"sigma {sigma:g}, test images whole, noise seed {chosen[0]['seed']}: PSNR (dB)\n")
        print(psnr_table(chosen) + "\n")
    print(training_table(results))
    if between:
        print("\nat other noise levels (mean PSNR / SSIM):\n\n" + between_table(between))
    return 0


if __name__ == "__main__":
    sys.exit(main())
