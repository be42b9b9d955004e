"""``d2s train`` as a user runs it: the real command, progress on (the default), every model name.

Also the released loop's batching (``drop_last=False``) and the fp32 prediction rule.
"""

import os
import subprocess
import sys

import pandas as pd
import pytest
import torch

from d2s.data import load_items
from d2s.data.demo import make_demo
from d2s.train.config_file import load_config
from d2s.train.data import Split
from d2s.train.engine import Run, format_terms, train
from d2s.train.evaluation import predict
from d2s.train.step import Placement
from d2s.train.tasks import trainable_models


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    make_demo(root, seed=0, size=32, image_size=32)
    return root


def common(demo, cache) -> list[str]:
    return [
        f"root={demo}",
        f"captions={demo / 'captions.tsv'}",
        "clip_weights=random",
        f"text_cache={cache}",
        "image_size=32",
        "epochs=2",
        # 24 training images in batches of 10: the last batch holds 4 (kept, as released)
        "batch_size=10",
        "eval_batch_size=16",
        "buffer_size=8",
        "refresh_steps=2",
        "pretrained=false",
        "device=cpu",
        "threads=1",
    ]


def test_trainable_models_cover_every_family():
    names = trainable_models()
    assert {"d2s-r18", "d2s-r50", "icnet", "iccorn", "caption-only", "concat-r18"} <= set(names)
    assert "hyperiqa" not in names and "topiq" not in names  # latency rows only


def test_a_collapsed_run_stops_with_a_message_not_a_traceback(demo, tmp_path_factory):
    """A head driven into saturation (here by an absurd lr) gives constant predictions: epochs
    whose correlations are undefined are never selected, and when none is left the command exits
    2 naming the run folder instead of crashing in the metrics."""
    cache = tmp_path_factory.getbasetemp() / "text-cache"
    out = tmp_path_factory.mktemp("collapse") / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "d2s", "train", "--out", str(out), "model=d2s-r18"]
    overrides = [*common(demo, cache), "lr=1000", "min_lr=1000"]
    result = subprocess.run(
        [*command, *overrides], capture_output=True, text=True, env=env, timeout=600
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert str(out) in result.stderr
    assert "saturated" in result.stderr or "training loss became" in result.stderr
    assert not (out / "metrics.json").exists()


def test_progress_line_prints_whatever_terms_a_task_returns():
    assert format_terms({"loss": 1.0, "mse_score": 0.5, "corn": 2.0}) == (
        "loss 1.0000 (mse_score 0.5000, corn 2.0000)"
    )
    assert format_terms({"loss": 0.25}) == "loss 0.2500"


def _steps(config, items) -> int:
    """Optimiser steps of an epoch on ``items``: the count the lr schedule is built with, which
    is the number of steps the training loader yields."""
    data = Run(config, "unused", progress=False).data
    split = data.split("train", items, False)
    steps = data.steps_per_epoch(split)
    assert steps == len(data.train_loader(split, 0, None))
    return steps


def test_last_partial_batch_is_kept_by_default(demo):
    base = dict(root=str(demo), pretrained=False, device="cpu", use_eal=False, use_fal=False)
    # SST@50 at batch 32: 2 optimiser steps per epoch, as the released loop takes
    items = load_items("ic9600", str(demo), "train")
    fifty = (items * 3)[:50]
    assert _steps(load_config(overrides={**base, "batch_size": 32}), fifty) == 2
    dropped = load_config(overrides={**base, "batch_size": 32, "drop_last": True})
    assert _steps(dropped, fifty) == 1
    assert _steps(dropped, items[:5]) == 1  # a lone partial batch is never dropped
    assert _steps(load_config(overrides={**base, "batch_size": 10}), items[:24]) == 3


def test_a_last_batch_of_one_image_trains(demo, tmp_path):
    """23 + 1 images: BatchNorm, InfoNCE over one pair and the EAL bookkeeping take a batch of 1."""
    overrides = dict(
        root=str(demo),
        captions=str(demo / "captions.tsv"),
        clip_weights="random",
        text_cache=str(tmp_path / "cache"),
        image_size=64,  # stage-4 maps of 2x2, so BatchNorm sees more than one value per channel
        epochs=1,
        batch_size=23,
        buffer_size=4,
        refresh_steps=2,
        pretrained=False,
        device="cpu",
        eal_mode="online",
    )
    config = load_config(overrides=overrides)
    summary = train(config, tmp_path / "run", progress=False)
    log = pd.read_csv(tmp_path / "run" / "log.csv")
    assert torch.isfinite(torch.tensor(log[["loss", "mse", "fal", "eal"]].to_numpy())).all()
    assert summary["precision"] == "fp32"
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    # 24 images pushed through the FIFO of capacity 4 (23, then the lone image): it is full
    counts = {k: v for k, v in state["task"].items() if k.endswith("visual.count")}
    assert counts and all(int(v) == 4 for v in counts.values()), counts


class _Linear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.weight = torch.nn.Parameter(torch.randn(3 * 8 * 8, 1) / 10)

    def forward(self, images):
        return torch.sigmoid(images.flatten(1) @ self.weight).squeeze(1)


class _Task(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.model = _Linear()

    def predict(self, batch):
        return self.model(batch["images"])


def test_predictions_are_fp32_even_inside_a_bf16_autocast_region():
    images = torch.randn(16, 3, 8, 8)
    loader = [(images, torch.rand(16), torch.arange(16))]
    split = Split("test", [type("I", (), {"label": float(i)})() for i in range(16)])
    placement = Placement(torch.device("cpu"), precision="bf16", channels_last=False)

    task = _Task()
    exact = task.model(images).detach().numpy()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        lowered = task.model(images).float().detach().numpy()
        predictions, _ = predict(task, loader, split, placement)
    assert predictions.dtype.name == "float32"
    assert (predictions == exact).all()
    assert (lowered != exact).any()  # bf16 would have changed the scores: the test can fail


def test_bf16_autocast_only_on_cuda_with_precision_bf16(demo):
    config = load_config(
        overrides=dict(root=str(demo), device="cpu", precision="bf16", use_eal=False, use_fal=False)
    )
    with Placement.of(config).autocast():
        assert not torch.is_autocast_enabled("cuda")  # CPU runs train in fp32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_precision_and_determinism_flags(demo):
    fp32 = load_config(overrides=dict(root=str(demo), device="cuda", use_eal=False, use_fal=False))
    bf16 = load_config(
        overrides=dict(
            root=str(demo), device="cuda", precision="bf16", use_eal=False, use_fal=False
        )
    )
    with Placement.of(fp32).autocast():
        assert not torch.is_autocast_enabled("cuda")
    with Placement.of(bf16).autocast():
        assert torch.is_autocast_enabled("cuda")
