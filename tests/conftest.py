"""Shared test set-up: offline hub, deterministic torch, few threads."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def text_encoder():
    """The real open_clip ViT-B-32 text tower with deterministic random weights (built once)."""
    from d2s.text import load_text_encoder

    return load_text_encoder(pretrained=None)


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module of tiny models: on a shared 2-core machine, OpenMP
    contention makes them about 10x slower with two."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
