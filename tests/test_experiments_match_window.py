"""experiments/match_window.py: the test images' noise is the test evaluation's, image by image."""
import numpy as np

from experiments.match_window import noisy_test_images
from n3net.dncnn import DnCNN
from train.data import save_image
from train.evaluation import evaluate_folder
from train.metrics import psnr


def test_the_noise_of_each_image_is_the_one_the_test_evaluation_adds(tmp_path):
    rng = np.random.default_rng(3)
    for name, shape in (("b.png", (24, 20)), ("a.png", (16, 16)), ("c.png", (20, 28))):
        save_image(str(tmp_path / name), rng.random(shape))
    pairs = noisy_test_images(25.0, str(tmp_path))
    assert list(pairs) == ["a.png", "b.png", "c.png"]                  # the folder's order (list_images)
    model = DnCNN(depth=3, features=4)
    model.eval()
    results = evaluate_folder(model, str(tmp_path), 25.0)             # seed 0, as train/evaluate.py
    for name, (clean, noisy) in pairs.items():
        assert psnr(clean, noisy) == results["images"][name]["noisy_psnr"]
    # and the noise is of the given sigma (within what 1,500 or so pixels can tell)
    residual = np.concatenate([(noisy - clean).ravel() for clean, noisy in pairs.values()])
    assert abs(residual.std() * 255 / 25.0 - 1) < 0.06
