"""HyperIQA and TOPIQ built offline from pyiqa's architectures: counts, forward passes."""

import pytest
import timm
import torch

from d2s.baselines.iqa import hyperiqa, timm_pretrained_disabled, topiq
from d2s.cli import main
from d2s.registry import build, count_parameters

HYPERIQA_PARAMS = 27_375_369
TOPIQ_PARAMS = 45_196_934


@pytest.fixture(scope="module")
def hyper():
    torch.manual_seed(0)
    return hyperiqa().eval()


@pytest.fixture(scope="module")
def top():
    torch.manual_seed(0)
    return topiq().eval()


def test_hyperiqa_count_and_forward_224(hyper):
    assert count_parameters(hyper) == HYPERIQA_PARAMS
    assert hyper.num_crop == 25  # pyiqa's test protocol (25 crops of 224²)
    hyper.num_crop = 1  # one crop keeps the test fast
    try:
        with torch.no_grad():
            out = hyper(torch.rand(1, 3, 224, 224))
    finally:
        hyper.num_crop = 25
    assert out.numel() == 1 and torch.isfinite(out).all()


def test_topiq_count_and_forward_384(top):
    assert count_parameters(top) == TOPIQ_PARAMS
    assert top.use_ref is False  # no-reference TOPIQ
    with torch.no_grad():
        out = top(torch.rand(1, 3, 384, 384))
    assert out.shape == (1, 1) and torch.isfinite(out).all()


@pytest.mark.parametrize(
    ("name", "expected"), [("hyperiqa", HYPERIQA_PARAMS), ("topiq", TOPIQ_PARAMS)]
)
def test_cli_params(name, expected, capsys):
    assert main(["params", name]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(expected)


def test_build_dispatches_to_the_factories():
    assert count_parameters(build("topiq")) == TOPIQ_PARAMS


def test_timm_patch_forces_random_init_and_is_restored():
    original = timm.create_model
    with timm_pretrained_disabled():
        assert timm.create_model is not original
        # Offline, these would fail to download if ``pretrained=True`` went through.
        a = timm.create_model("resnet18", pretrained=True)
        b = timm.create_model("resnet18", True, num_classes=3)
    assert timm.create_model is original
    assert count_parameters(a) == 11_689_512 and b.fc.out_features == 3
    with pytest.raises(RuntimeError), timm_pretrained_disabled():
        raise RuntimeError("boom")
    assert timm.create_model is original
