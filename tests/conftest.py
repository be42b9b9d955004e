"""Shared test set-up: offline hub, deterministic torch, few threads."""

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def text_encoder():
    """The real open_clip ViT-B-32 text tower with deterministic random weights (built once)."""
    from d2s.text.clip import load_text_encoder

    return load_text_encoder(pretrained=None)


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module of tiny models: on a shared 2-core machine, OpenMP
    contention makes them about 10x slower with two."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def untrained_checkpoint(tmp_path_factory) -> Path:
    """A model checkpoint in exactly the envelope ``d2s train`` writes (random weights)."""
    from d2s.checkpoint import save_checkpoint
    from d2s.registry import build

    torch.manual_seed(0)
    model = build("d2s-r18")
    path = tmp_path_factory.mktemp("ckpt") / "best.pt"
    save_checkpoint(
        {
            "model_name": "d2s-r18",
            "model_kwargs": {},
            "state_dict": model.inference_state_dict(),
            "config": {"image_size": 32, "model": "d2s-r18"},
            "epoch": 1,
            "image_size": 32,
        },
        path,
        kind="model",
    )
    return path
