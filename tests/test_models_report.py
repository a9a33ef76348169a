"""models/report.py: the README's shipped-model tables come from evaluations and model files."""
import importlib.util
import json
import os

import numpy as np

from minigrad import save

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def report_module():
    spec = importlib.util.spec_from_file_location("report", os.path.join(ROOT, "models", "report.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tables_from_an_evaluation(tmp_path, capsys):
    model = tmp_path / "n3net-sigma25.npz"
    save({"model": {"w": np.zeros(1)}, "step": 12, "train_seconds": 600.0, "best_val_psnr": 29.5,
          "best_val_step": 10, "train_args": json.dumps({"model": "n3net", "variant": "reference", "sigma": 25.0,
                                                         "steps": 12, "batch_size": 4})}, str(model))
    image = {"psnr": 30.0, "ssim": 0.8, "noisy_psnr": 20.0, "noisy_ssim": 0.3, "bm3d_psnr": 31.0, "bm3d_ssim": 0.85}
    result = {"sigma": 25.0, "seed": 0, "checkpoint": str(model), "images": {"brick.png": image},
              **{f"mean_{k}": v for k, v in image.items()}}
    (tmp_path / "r.json").write_text(json.dumps(result))
    assert report_module().main([str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "| noisy input | 20.00 | 20.00 / 0.300 |" in out and "| BM3D | 31.00 | 31.00 / 0.850 |" in out
    assert "| `n3net-sigma25` | 30.00 | 30.00 / 0.800 |" in out
    assert "| `n3net-sigma25` | `--model n3net --variant reference --sigma 25.0 --steps 12 --batch-size 4` | 12 | 10 min | 29.50 dB (10) |" in out
