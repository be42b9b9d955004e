"""The model table (d2s/registry/models.py): one entry is all a new model needs.

A toy model is registered inside the test, trained with the normal entry point and scored with
``d2s.load``; nothing else in the package is edited or patched.
"""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import d2s
from d2s.data.demo import make_demo
from d2s.registry import build, model_names
from d2s.registry.models import ModelSpec, model_spec, register, trainable_models, unregister
from d2s.train.config_file import load_config
from d2s.train.engine import train


class ToyRegressor(nn.Module):
    """A 4-channel conv, global pooling and a sigmoid: the smallest image regressor."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=4)
        self.head = nn.Linear(4, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        pooled = self.conv(images).mean(dim=(2, 3))
        return torch.sigmoid(self.head(pooled)).squeeze(-1)


def toy(pretrained: bool = False, pretrained_file: str | None = None) -> ToyRegressor:
    return ToyRegressor()


@pytest.fixture
def toy_model():
    spec = register(ModelSpec("toy-regressor", toy, task="mse"))
    yield spec
    unregister(spec.name)
    assert "toy-regressor" not in model_names()


def test_a_registered_toy_model_trains_and_scores(toy_model, tmp_path, one_thread):
    assert toy_model.name in model_names() and toy_model.name in trainable_models()
    root = tmp_path / "demo"
    make_demo(root, seed=0, size=32, image_size=32)
    config = load_config(
        overrides=dict(
            model=toy_model.name,
            root=str(root),
            image_size=32,
            epochs=2,
            batch_size=8,
            pretrained=False,
            device="cpu",
        )
    )
    assert not config.needs_text and config.eal_mode_label is None
    out = tmp_path / "run"
    metrics = train(config, out, progress=False)
    assert metrics["model"] == "toy-regressor" and metrics["eal_mode"] is None
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 2
    predictions = pd.read_csv(out / "predictions.csv")

    scorer = d2s.load(out / "best.pt")
    assert scorer.name == "toy-regressor" and scorer.image_size == 32
    paths = [root / "images" / name for name in predictions["image"]]
    scores = scorer.score(paths).numpy()
    # scoring preprocesses as d2s train's test pass does: the same scores as predictions.csv
    np.testing.assert_allclose(scores, predictions["prediction"].to_numpy(), atol=1e-5)


def test_unknown_model_names_the_known_ones():
    with pytest.raises(KeyError, match="known models"):
        model_spec("no-such-model")
    with pytest.raises(ValueError, match="already registered"):
        register(ModelSpec("d2s-r18", toy))


def test_text_needs_follow_the_table():
    # D2S reads captions in training only when EAL or FAL is on; Table 7's models always do
    assert model_spec("d2s-r18").needs_text(use_eal=False, use_fal=True)
    assert not model_spec("d2s-r18").needs_text(use_eal=False, use_fal=False)
    assert model_spec("caption-only").needs_text(use_eal=False, use_fal=False)
    assert model_spec("concat-r18").reads_text and not model_spec("d2s-r18").reads_text
    assert not model_spec("icnet").needs_text(use_eal=True, use_fal=True)
    assert isinstance(build("caption-only"), nn.Module)
