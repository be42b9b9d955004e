"""The IC9600 authors' ICNet checkpoint (``ck.pth``): recognised by its key layout, with or without
``module.``, scored equal to their forward by ``d2s score`` (maps too), ``d2s.load``, ``d2s export``
and ``d2s evaluate``. Weights are random, written in their layout by tests/icnet_official.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from icnet_official import randomised
from PIL import Image
from scoring_helpers import pattern, save, score_cli
from torchvision import transforms

import d2s
from d2s.checkpoint import CheckpointError
from d2s.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def authors():
    return randomised(seed=0)


def write_ck(authors, folder, prefix: str = ""):
    path = folder / "ck.pth"
    torch.save({prefix + k: v for k, v in authors.state_dict().items()}, path)
    return path


@pytest.fixture(scope="module", params=["", "module."])
def ck_any_prefix(request, authors, tmp_path_factory):
    return write_ck(authors, tmp_path_factory.mktemp("ck"), request.param)


@pytest.fixture(scope="module")
def ck_pth(authors, tmp_path_factory):
    return write_ck(authors, tmp_path_factory.mktemp("ck"), "module.")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("imgs")
    return [
        save(root / "a.jpg", Image.fromarray(pattern(300, 400, seed=1)), quality=95),
        save(root / "sub" / "b.png", Image.fromarray(pattern(200, 120, seed=2))),
    ]


def authors_outputs(authors, path) -> tuple[float, np.ndarray]:
    """Their ``gene.py`` preprocessing (Resize((512, 512)), ToTensor, ImageNet Normalize) and
    forward: the score and the 64×64 map."""
    prep = transforms.Compose(
        [
            transforms.Resize((512, 512)),
            transforms.ToTensor(),
            transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ]
    )
    with torch.no_grad():
        score, cmap = authors(prep(Image.open(path).convert("RGB"))[None])
    return float(score[0]), cmap[0, 0].numpy()


def test_ck_pth_is_recognised_and_scores_equal_their_forward(authors, ck_any_prefix, images):
    scorer = d2s.load(ck_any_prefix)
    assert (scorer.name, scorer.image_size, scorer.info["format"]) == (
        "icnet",
        512,
        "icnet-official",
    )
    for path in images:
        assert scorer.score(path) == authors_outputs(authors, path)[0]


def test_score_writes_one_map_per_image_and_never_overwrites(
    authors, ck_pth, images, tmp_path, capsys
):
    maps = tmp_path / "maps"
    argv = [*map(str, images), "-c", str(ck_pth), "--maps", str(maps), "--device", "cpu"]
    code, table, err = score_cli(argv, capsys)
    assert code == 0, err
    written = sorted(str(p.relative_to(maps)) for p in maps.rglob("*"))
    assert written == ["a.npy", "a.png", "sub", "sub/b.npy", "sub/b.png"]
    for path, stem in zip(images, ["a", "sub/b"], strict=True):
        score, cmap = authors_outputs(authors, path)
        assert table[str(path)] == score
        saved = np.load(maps / f"{stem}.npy")
        assert saved.shape == (64, 64) and saved.dtype == np.float32
        np.testing.assert_array_equal(saved, cmap)
        grey = np.asarray(Image.open(maps / f"{stem}.png"))
        np.testing.assert_array_equal(grey, np.rint(cmap * 255).astype(np.uint8))
    # a second run finds its maps there: they stay as they were, each named, exit status 1
    (maps / "a.png").write_bytes(b"mine")
    code, table, err = score_cli([*argv, "--map-format", "png"], capsys)
    assert code == 1 and len(table) == 2
    assert (maps / "a.png").read_bytes() == b"mine"
    assert "a.png: exists, map not written" in err and "b.png: exists" in err
    assert not [p for p in maps.rglob(".*")]  # no temporary files left


def test_maps_of_a_model_without_them_is_a_usage_error(
    untrained_checkpoint, images, tmp_path, capsys
):
    argv = [str(images[0]), "-c", str(untrained_checkpoint), "--maps", str(tmp_path / "m")]
    code, _, err = score_cli(argv, capsys)
    assert code == 2 and "predicts no complexity map" in err and not (tmp_path / "m").exists()


def test_ck_pth_exports_and_evaluates(authors, ck_pth, tmp_path, capsys):
    from d2s.data import load_items
    from d2s.data.demo import make_demo

    out = tmp_path / "icnet.pt"
    assert main(["export", str(ck_pth), "--out", str(out), "--image-size", "64"]) == 0
    x = torch.rand(2, 3, 64, 64)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = d2s.load(ck_pth).model((x - mean) / std)
        torch.testing.assert_close(torch.jit.load(str(out))(x), expected)

    make_demo(tmp_path / "demo", seed=0, size=32, image_size=32)
    argv = ["evaluate", str(ck_pth), "--dataset", "ic9600", "--root", str(tmp_path / "demo")]
    assert main([*argv, "--split", "test", "--out", str(tmp_path / "ev"), "--device", "cpu"]) == 0
    assert "icnet" in capsys.readouterr().out
    import pandas as pd

    predictions = pd.read_csv(tmp_path / "ev" / "predictions.csv")
    first = load_items("ic9600", tmp_path / "demo", "test")[0]
    assert len(predictions) == len(load_items("ic9600", tmp_path / "demo", "test"))
    assert predictions["prediction"][0] == pytest.approx(
        authors_outputs(authors, first.path)[0], abs=1e-6
    )


def test_a_ck_pth_with_foreign_keys_is_refused(authors, tmp_path):
    state = {**authors.state_dict(), "extra.weight": torch.zeros(1)}
    torch.save(state, tmp_path / "ck.pth")
    with pytest.raises(CheckpointError, match=r"ck\.pth: .*ICNet.*1 keys outside.*extra\.weight"):
        d2s.load(tmp_path / "ck.pth")
