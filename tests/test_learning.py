"""Every model ``d2s train`` trains must *learn*: on an easy target this test builds, a short run
of the real command (progress bar on, as a user runs it) reaches a clear rank correlation and
beats predicting the label mean.

The target is the image's brightness (a simple function of its pixels). Captions name the
brightness level in words, so the caption-only model has an equally easy target. Images are
written in IC9600's layout (two-space split files) and go through the real ``d2s train`` engine.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from d2s.train.tasks import trainable_models

LEVELS = ["black", "very dark", "dark", "dim", "medium", "light", "bright", "very bright", "white"]


@pytest.fixture(scope="module")
def easy(tmp_path_factory):
    root = tmp_path_factory.mktemp("easy")
    (root / "images").mkdir()
    rng = np.random.default_rng(0)
    rows = {"train": [], "test": []}
    captions = ["image\tcaption"]
    for i in range(96):
        level = i % len(LEVELS)
        label = level / (len(LEVELS) - 1)
        pixels = 30 + 195 * label + rng.normal(0, 8, size=(32, 32, 3))
        name = f"objects_easy_{i:03d}.png"
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(root / "images" / name)
        rows["test" if i % 4 == 3 else "train"].append(f"{name}  {label}")
        captions.append(f"{name}\tthis image shows a {LEVELS[level]} picture")
    for split, lines in rows.items():
        (root / f"{split}.txt").write_text("\n".join(lines) + "\n")
    (root / "captions.tsv").write_text("\n".join(captions) + "\n")
    return root


#: The one recipe every model gets here: AdamW at a small lr (ICNet's SGD recipe at lr 0.05 with
#: a warm-up epoch is made for 20k steps, not for 30); the test asks "can it learn", not "with
#: its paper recipe".
SHORT_RUN = dict(
    image_size=32,
    epochs=8,
    batch_size=12,
    eval_batch_size=32,
    recipe="d2s",
    lr=3e-4,
    min_lr=3e-5,
    buffer_size=16,
    refresh_steps=4,
    pretrained=False,
    device="cpu",
    threads=1,
    clip_weights="random",
)


#: Known failures, kept visible (strict: the test fails once the model learns, so the mark goes).
#: D2S-R50 ranks the easy target but its scores sit far from the labels after this short run
#: (RMSE 0.54 vs label sd 0.31) — the saturation the demo showed for one R50 seed; open.
KNOWN_FAILURES: dict[str, str] = {}


def _cases():
    for name in trainable_models():
        reason = KNOWN_FAILURES.get(name)
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        yield pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("model", list(_cases()))
def test_every_model_learns_an_easy_target(model, easy, tmp_path, tmp_path_factory):
    cache = tmp_path_factory.getbasetemp() / "easy-text-cache"
    overrides = dict(
        SHORT_RUN,
        model=model,
        root=str(easy),
        captions=str(easy / "captions.tsv"),
        text_cache=str(cache),
    )
    out = tmp_path / "run"
    command = [sys.executable, "-m", "d2s", "train", "--out", str(out)]
    command += [f"{key}={value}" for key, value in overrides.items()]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    for epoch in range(1, SHORT_RUN["epochs"] + 1):  # each epoch's line names its loss terms
        assert f"epoch {epoch}/{SHORT_RUN['epochs']}: loss " in result.stdout, result.stdout[-2000:]
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["model"] == model and summary["precision"] == "fp32"
    predictions = pd.read_csv(out / "predictions.csv")
    labels = predictions["target"].to_numpy()
    # independent of the suite's metrics: scipy-free ranks via pandas, RMSE by hand
    srcc = pd.Series(predictions["prediction"]).rank().corr(pd.Series(labels).rank())
    rmse = float(np.sqrt(np.mean((predictions["prediction"] - labels) ** 2)))
    assert predictions["prediction"].std() > 0, f"{model}: constant predictions"
    assert srcc >= 0.8, f"{model}: SRCC {srcc:.3f} (suite: {summary['srcc']:.3f})"
    assert rmse < labels.std(), f"{model}: RMSE {rmse:.3f} vs label sd {labels.std():.3f}"
