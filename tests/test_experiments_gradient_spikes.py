"""experiments/gradient_spikes.py: a run's gradient spikes and validation drops, window by window."""
import json
import subprocess
import sys

from experiments.gradient_spikes import by_step, summary, windows


def test_windows_end_at_the_last_step_and_the_first_starts_at_the_first():
    assert windows(3600, 1200, 0) == [(0, 1200), (1200, 2400), (2400, 3600)]
    assert windows(3500, 1200, 0) == [(0, 1100), (1100, 2300), (2300, 3500)]     # the first is short
    assert windows(3500, 1200, 2000) == [(2000, 2300), (2300, 3500)]


def test_a_step_logged_twice_keeps_the_value_the_run_went_on_from():
    records = [{"step": 1, "grad_norm": 1.0}, {"step": 2, "grad_norm": 5.0}, {"step": 2, "val_psnr": 30.0},
               {"step": 2, "grad_norm": 2.0}]                      # resumed from step 1: step 2 again
    assert by_step(records, "grad_norm") == {1: 1.0, 2: 2.0}
    assert by_step(records, "val_psnr") == {2: 30.0}


def test_spikes_clipped_steps_and_drops_are_counted_in_their_window():
    norms = {s: 0.01 for s in range(1, 401)}
    norms[150], norms[250], norms[260] = 0.2, 0.15, 0.06         # 0.15 > 10 x 0.01 > 0.06 > the clip 0.05
    vals = {100: 30.0, 200: 30.1, 300: 29.0, 400: 30.2}          # 300: a drop of 1.1 dB
    first = summary(norms, vals, 0, 200, factor=10, clip=0.05, drop=0.5)
    assert (first["steps"], first["median"], first["spikes"], first["largest"], first["clipped"]) == (
        200, 0.01, 1, 0.2, 1)
    assert (first["val_min"], first["val_max"], first["drops"]) == (30.0, 30.1, 0)
    second = summary(norms, vals, 200, 400, factor=10, clip=0.05, drop=0.5)
    assert (second["spikes"], second["clipped"], second["largest"]) == (1, 2, 0.15)
    assert (second["val_min"], second["val_max"], second["drops"]) == (29.0, 30.2, 1)   # 30.1 -> 29.0
    assert summary(norms, vals, 400, 500, factor=10, clip=0.05, drop=0.5) is None


def test_the_command_prints_each_window_of_a_run(tmp_path):
    run = tmp_path / "m"
    run.mkdir()
    records = [{"step": s, "loss": 1e-3, "grad_norm": 0.5 if s == 30 else 0.01} for s in range(1, 61)]
    records += [{"step": 20, "val_psnr": 30.0}, {"step": 40, "val_psnr": 29.0}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    out = subprocess.run([sys.executable, "-m", "experiments.gradient_spikes", "m", "--state", str(tmp_path),
                          "--every", "30"], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert lines[0].startswith("m: steps 1 to 60")
    assert lines[2].split()[:7] == ["1", "to", "30", "0.0100", "1", "0.500", "1"]
    assert lines[3].split()[:7] == ["31", "to", "60", "0.0100", "0", "0.010", "0"]
    assert lines[3].split()[-1] == "1"                         # 30.0 at 20 -> 29.0 at 40: one drop
    missing = subprocess.run([sys.executable, "-m", "experiments.gradient_spikes", "nothing", "--state",
                              str(tmp_path)], capture_output=True, text=True)
    assert missing.returncode != 0 and "is nothing a run" in missing.stderr
