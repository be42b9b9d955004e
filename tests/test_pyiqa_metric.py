"""``d2s.inference.pyiqa.register()``: every image-only model of Table 1 is a pyiqa metric (NR, higher
better, [0, 1]) listed by ``pyiqa.list_models()`` whose scores equal ``d2s score`` on the same
files, for paths and for tensors."""

from __future__ import annotations

import pytest
import torch
from PIL import Image
from scoring_helpers import pattern, save, score_cli

import d2s.inference.pyiqa
from d2s.checkpoint import save_checkpoint
from d2s.inference.scoring import SCORE_CONVENTION
from d2s.registry import build

pyiqa = pytest.importorskip("pyiqa")
pytestmark = pytest.mark.usefixtures("one_thread")


def random_checkpoint(name: str, folder) -> str:
    """A ``d2s train`` checkpoint of ``name`` (random weights, 32 px); ICNet in the IC9600
    authors' own ``ck.pth`` layout instead, at their 512 px."""
    torch.manual_seed(0)
    if name == "icnet":
        from icnet_official import randomised

        path = folder / "ck.pth"
        torch.save(randomised().state_dict(), path)
        return str(path)
    model = build(name)
    state = model.inference_state_dict() if hasattr(model, "inference_state_dict") else None
    path = folder / "best.pt"
    payload = {"model_name": name, "model_kwargs": {}, "image_size": 32, "epoch": 1}
    payload |= {"state_dict": state or model.state_dict(), "config": {"image_size": 32}}
    save_checkpoint(payload, path, "model")
    return str(path)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("imgs")
    return [
        str(save(root / "a.jpg", Image.fromarray(pattern(60, 80, seed=3)), quality=90)),
        str(save(root / "b.png", Image.fromarray(pattern(33, 47, seed=4)))),
    ]


def test_register_lists_the_metrics():
    names = d2s.inference.pyiqa.register()
    assert {"d2s-r18", "d2s-r50", "icnet"} <= set(names)
    assert set(names) <= set(pyiqa.list_models(metric_mode="NR"))
    assert d2s.inference.pyiqa.register() == names  # idempotent


@pytest.mark.parametrize("name", d2s.inference.pyiqa.metric_names())
def test_metric_scores_equal_d2s_score(name, images, tmp_path, capsys):
    d2s.inference.pyiqa.register()
    checkpoint = random_checkpoint(name, tmp_path)
    metric = pyiqa.create_metric(name, pretrained_model_path=checkpoint, device="cpu")
    assert (metric.metric_mode, metric.lower_better, metric.score_range) == ("NR", False, "0, 1")
    from pyiqa.default_model_configs import DEFAULT_CONFIGS

    assert DEFAULT_CONFIGS[name]["description"] == SCORE_CONVENTION
    code, table, err = score_cli([*images, "-c", checkpoint, "--device", "cpu"], capsys)
    assert code == 0, err
    for path in images:
        by_path = metric(path)
        assert by_path.shape == (1, 1)
        assert float(by_path) == table[path]
    from pyiqa.utils.img_util import imread2tensor

    batch = torch.stack([imread2tensor(images[0], rgb=True)] * 2)
    assert metric(batch).flatten().tolist() == [table[images[0]]] * 2


def test_a_checkpoint_of_another_model_or_none_is_refused(tmp_path):
    d2s.inference.pyiqa.register()
    checkpoint = random_checkpoint("d2s-r18", tmp_path)
    with pytest.raises(ValueError, match="holds model 'd2s-r18', not 'd2s-r50'"):
        pyiqa.create_metric("d2s-r50", pretrained_model_path=checkpoint, device="cpu")
    with pytest.raises(ValueError, match="needs pretrained_model_path"):
        pyiqa.create_metric("d2s-r18", device="cpu")
