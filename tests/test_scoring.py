"""``d2s score`` / ``d2s.load`` / ``d2s export`` with a model trained on the demo data.

One small model is trained once for the module (32 px demo, one epoch, a few seconds).
"""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr
from scoring_helpers import csv_body

from d2s.checkpoint import RELEASED_KEY_MAP, CheckpointError
from d2s.cli import main
from d2s.data import load_items
from d2s.data.demo import make_demo
from d2s.inference.scoring import Scorer, load
from d2s.train.config import parse_overrides
from d2s.train.config_file import load_config
from d2s.train.engine import train

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    make_demo(root, seed=0, size=32, image_size=32)
    return root


@pytest.fixture(scope="module")
def run(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    overrides = dict(
        root=str(demo),
        model="d2s-r18",
        use_eal=False,
        use_fal=False,
        epochs=1,
        batch_size=8,
        image_size=32,
        pretrained=False,
        device="cpu",
    )
    train(load_config(overrides=overrides), out, progress=False)
    return out


@pytest.fixture(scope="module")
def checkpoint(run):
    return run / "best.pt"


@pytest.fixture(scope="module")
def scorer(checkpoint) -> Scorer:
    return load(checkpoint)


@pytest.fixture(scope="module")
def test_items(demo):
    return load_items("ic9600", demo, "test")


def read_csv(text: str) -> dict[str, float]:
    rows = list(csv.reader(io.StringIO(csv_body(text))))
    assert rows[0] == ["path", "score"]
    return {path: float(score) for path, score in rows[1:]}


def test_load_restores_the_trained_model(scorer, checkpoint):
    assert scorer.name == "d2s-r18" and scorer.image_size == 32
    assert scorer.info["format"] == "suite"
    assert not scorer.module.training
    # a run folder works too
    assert load(checkpoint.parent).image_size == 32


def test_d2s_load_is_the_public_entry_point_and_import_d2s_stays_light(checkpoint):
    """``d2s.load`` scores like :func:`d2s.inference.scoring.load`; ``import d2s`` loads no torch."""
    import subprocess
    import sys

    import d2s

    torch.manual_seed(0)
    image = torch.rand(1, 3, 40, 40)
    assert torch.equal(d2s.load(checkpoint).score(image), load(checkpoint).score(image))
    code = "import sys, d2s; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_api_equals_cli_csv_on_stdout_and_file(scorer, checkpoint, demo, tmp_path, capsys):
    folder = demo / "images"
    assert main(["score", str(folder), "--checkpoint", str(checkpoint), "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    table = read_csv(captured.out)
    expected = sorted(p for p in folder.iterdir() if p.suffix == ".jpg")
    assert list(table) == [str(p) for p in expected]
    api = scorer.score(expected, batch_size=16)
    assert isinstance(api, torch.Tensor) and api.shape == (len(expected),)
    np.testing.assert_allclose(list(table.values()), api.numpy(), atol=1e-6, rtol=0)
    assert all(0.0 <= v <= 1.0 for v in table.values())

    out = tmp_path / "sub" / "scores.csv"
    code = main(
        ["score", str(folder), "-c", str(checkpoint), "--out", str(out), "--batch-size", "5"]
    )
    assert code == 0
    assert capsys.readouterr().out == ""
    from_file = read_csv(out.read_text())
    assert list(from_file) == list(table)
    np.testing.assert_allclose(list(from_file.values()), list(table.values()), atol=1e-6, rtol=0)
    assert not list(out.parent.glob("*.part"))


def test_single_inputs_return_floats_and_agree(scorer, demo):
    from PIL import Image

    path = sorted((demo / "images").glob("*.jpg"))[0]
    by_path = scorer.score(path)
    by_str = scorer.score(str(path))
    by_pil = scorer.score(Image.open(path))
    assert isinstance(by_path, float) and by_path == by_str == pytest.approx(by_pil, abs=1e-7)
    # a tensor RGB in [0, 1] at the model's size gets exactly the PIL path's normalisation
    tensor = scorer.prepare(path)
    assert tensor.shape == (3, 32, 32) and 0 <= float(tensor.min()) <= float(tensor.max()) <= 1
    assert scorer.score(tensor) == pytest.approx(by_path, abs=1e-6)
    uint8 = (tensor * 255).round().to(torch.uint8)
    assert scorer.score(uint8) == pytest.approx(by_path, abs=1e-6)
    batch = torch.stack([tensor, tensor.flip(-1)])
    both = scorer.score(batch)
    assert both.shape == (2,) and float(both[0]) == pytest.approx(by_path, abs=1e-6)
    # already normalised tensors go straight to the model
    from d2s.train.data import image_transform

    normalised = image_transform(32, train=False)(Image.open(path).convert("RGB"))
    assert scorer.score(normalised, normalized=True) == pytest.approx(by_path, abs=1e-6)
    # tensors of another size are resized (antialiased bilinear): close to the PIL resize
    big = torch.nn.functional.interpolate(tensor[None], size=(64, 48), mode="nearest")[0]
    assert abs(scorer.score(big) - by_path) < 0.05
    with pytest.raises(ValueError, match="channels"):
        scorer.score(torch.zeros(4, 8, 8))
    with pytest.raises(TypeError, match="cannot score a int"):
        scorer.score([3])


def test_score_srcc_equals_evaluate_srcc(checkpoint, demo, test_items, tmp_path, capsys):
    out = tmp_path / "eval"
    args = ["evaluate", str(checkpoint), "--dataset", "ic9600", "--root", str(demo)]
    assert main([*args, "--split", "test", "--out", str(out), "--device", "cpu"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    evaluated = pd.read_csv(out / "predictions.csv")
    capsys.readouterr()

    paths = [str(item.path) for item in test_items]
    assert main(["score", *paths, "--checkpoint", str(checkpoint), "--device", "cpu"]) == 0
    scored = read_csv(capsys.readouterr().out)
    assert list(scored) == paths
    labels = [item.label for item in test_items]
    srcc = spearmanr(list(scored.values()), labels).statistic
    assert srcc == pytest.approx(metrics["srcc"], abs=1e-9)
    assert srcc == pytest.approx(spearmanr(evaluated["prediction"], evaluated["target"]).statistic)
    np.testing.assert_allclose(list(scored.values()), evaluated["prediction"], atol=1e-5, rtol=0)


def test_one_corrupt_file_is_skipped_named_and_exit_is_1(checkpoint, demo, tmp_path, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    sources = sorted((demo / "images").glob("*.jpg"))[:6]
    for source in sources:
        (folder / source.name).write_bytes(source.read_bytes())
    bad = folder / sources[2].name
    bad.write_bytes(bad.read_bytes()[:300])  # truncated download
    (folder / "notes.txt").write_text("not an image, and not named like one: ignored")
    out = tmp_path / "scores.csv"
    code = main(["score", str(folder), "-c", str(checkpoint), "--out", str(out), "--no-progress"])
    assert code == 1
    err = capsys.readouterr().err
    assert f"skipped {bad}: cannot decode image" in err
    assert "scored 5 image(s)" in err and "skipped 1 input(s)" in err
    assert "notes.txt" not in err
    table = read_csv(out.read_text())
    assert sorted(table) == sorted(str(folder / s.name) for s in sources if s.name != bad.name)
    # the good ones got the scores they get alone
    alone = load(checkpoint).score([folder / sources[0].name])
    assert table[str(folder / sources[0].name)] == pytest.approx(float(alone[0]), abs=1e-6)


def test_workers_and_progress_bar(checkpoint, demo, tmp_path, capsys):
    folder = tmp_path / "w"
    folder.mkdir()
    for source in sorted((demo / "images").glob("*.jpg"))[:5]:
        (folder / source.name).write_bytes(source.read_bytes())
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    argv = ["score", str(folder), "-c", str(checkpoint), "--workers", "2", "--batch-size", "2"]
    assert main([*argv, "--progress"]) == 1
    captured = capsys.readouterr()
    assert len(read_csv(captured.out)) == 5
    assert "broken.png" in captured.err and "img" in captured.err  # tqdm's bar on stderr


# released format --------------------------------------------------------------------------------


def to_released(state: dict[str, torch.Tensor], prefix: str = "") -> dict[str, torch.Tensor]:
    """The suite inference state in the authors' layout, plus training-only keys to ignore."""
    inverse = {new: old for old, new in RELEASED_KEY_MAP}
    released = {}
    for key, value in state.items():
        new = next(n for n in inverse if key.startswith(n))
        released[prefix + inverse[new] + key[len(new) :]] = value.clone()
    generator = torch.Generator().manual_seed(1)
    extra = {
        "text_encoder.token_embedding.weight": torch.randn(49, 8, generator=generator),
        "text_encoder.transformer.resblocks.0.attn.in_proj_weight": torch.randn(24, 8),
        "text_encoder.positional_embedding": torch.randn(77, 8),
        "vision_proj.weight": torch.randn(512, 1024),
        "vision_proj.bias": torch.zeros(512),
        "logit_scale": torch.tensor(2.6592),
    }
    released.update({prefix + k: v for k, v in extra.items()})
    return released


def test_released_checkpoint_loads_and_scores_like_the_suite_one(
    scorer, checkpoint, demo, tmp_path, capsys
):
    state = torch.load(checkpoint, weights_only=True)["state_dict"]
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))])
    file = tmp_path / "D2S_R18.pth"
    torch.save(
        {"model_state": to_released(state), "optimizer_state": optimizer.state_dict(), "epoch": 7},
        file,
    )
    released = load(file, image_size=32)
    assert released.name == "d2s-r18" and released.info["format"] == "released"
    assert released.info["epoch"] == 7
    assert "text_encoder.token_embedding.weight" in released.info["ignored_keys"]
    assert "vision_proj.weight" in released.info["ignored_keys"]
    assert load(file).image_size == 512  # the authors' resolution unless told otherwise

    images = sorted((demo / "images").glob("*.jpg"))[:12]
    expected = scorer.score(images)
    torch.testing.assert_close(released.score(images), expected, atol=1e-6, rtol=0)

    # DataParallel-saved files ("module." prefix) load too
    wrapped = tmp_path / "D2S_R18_dp.pth"
    torch.save({"model_state": to_released(state, prefix="module.")}, wrapped)
    torch.testing.assert_close(load(wrapped, image_size=32).score(images), expected)

    # and through the CLI
    argv = ["score", *map(str, images), "-c", str(file), "--image-size", "32", "--device", "cpu"]
    assert main(argv) == 0
    table = read_csv(capsys.readouterr().out)
    np.testing.assert_allclose(list(table.values()), expected.numpy(), atol=1e-6, rtol=0)


def test_released_checkpoint_with_missing_or_wrong_weights_is_a_clear_error(checkpoint, tmp_path):
    state = to_released(torch.load(checkpoint, weights_only=True)["state_dict"])
    no_head = {k: v for k, v in state.items() if not k.startswith("fc.")}
    torch.save({"model_state": no_head}, tmp_path / "a.pth")
    with pytest.raises(CheckpointError, match=r"a\.pth: 'model_state' does not hold a D2S"):
        load(tmp_path / "a.pth")
    partial = {k: v for k, v in state.items() if k != "vision_encoder.model.layer4.1.bn2.weight"}
    torch.save({"model_state": partial}, tmp_path / "b.pth")
    with pytest.raises(CheckpointError, match=r"b\.pth: weights do not fit D2S \(missing 1"):
        load(tmp_path / "b.pth")
    torch.save({"model_state": {"x": torch.zeros(1)}, "epoch": 1}, tmp_path / "c.pth")
    with pytest.raises(CheckpointError, match=r"c\.pth: 'model_state' does not hold"):
        load(tmp_path / "c.pth")


def test_released_resnet50_layout_is_recognised():
    from d2s.checkpoint import _resnet_of, released_to_suite_keys
    from d2s.registry import build

    for name, backbone in (("d2s-r18", "resnet18"), ("d2s-r50", "resnet50")):
        keys = build(name).state_dict()
        released = to_released({k: torch.zeros(1) for k in keys})
        mapped, ignored = released_to_suite_keys(released)
        assert set(mapped) == set(keys)
        assert _resnet_of(mapped, "x") == backbone
        assert all(k.startswith(("text_encoder.", "vision_proj.", "logit_scale")) for k in ignored)


# export ------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_torchscript_export_agrees_with_eager(scorer, checkpoint, demo, tmp_path, capsys):
    out = tmp_path / "d2s.pt"
    assert main(["export", str(checkpoint), "--format", "torchscript", "--out", str(out)]) == 0
    assert "torchscript" in capsys.readouterr().err
    extra = {"d2s.json": ""}
    exported = torch.jit.load(str(out), _extra_files=extra)
    meta = json.loads(extra["d2s.json"])
    assert meta["image_size"] == 32 and meta["model"] == "d2s-r18"
    images = sorted((demo / "images").glob("*.jpg"))[:7]
    eager = scorer.score(images)
    with torch.no_grad():
        for batch in (7, 1):  # the batch size is free
            got = exported(scorer.prepare_batch(images[:batch]))
            torch.testing.assert_close(got, eager[:batch], atol=1e-5, rtol=0)
    assert not list(tmp_path.glob("*.part"))


def test_onnx_export_agrees_with_eager(scorer, checkpoint, demo, tmp_path):
    for package in ("onnx", "onnxscript", "onnxruntime"):
        pytest.importorskip(package, reason=f"ONNX export test needs the '{package}' package")
    import onnxruntime

    out = tmp_path / "d2s.onnx"
    assert main(["export", str(checkpoint), "--format", "onnx", "--out", str(out)]) == 0
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.get_modelmeta().custom_metadata_map["image_size"] == "32"
    images = sorted((demo / "images").glob("*.jpg"))[:5]
    eager = scorer.score(images).numpy()
    for batch in (5, 2):
        (got,) = session.run(None, {"images": scorer.prepare_batch(images[:batch]).numpy()})
        np.testing.assert_allclose(got, eager[:batch], atol=1e-5, rtol=0)


def test_onnx_without_packages_is_a_clear_error(checkpoint, tmp_path, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "onnxscript" else real(name, *a),
    )
    out = tmp_path / "m.onnx"
    assert main(["export", str(checkpoint), "--format", "onnx", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "ONNX export needs the Python package(s)" in err and "onnxscript" in err
    assert not out.exists()


# training on bad input ---------------------------------------------------------------------------


@pytest.fixture
def demo_with_broken_test_image(demo, tmp_path):
    import shutil

    root = shutil.copytree(demo, tmp_path / "demo")
    victim = load_items("ic9600", root, "test")[3].path
    victim.write_bytes(victim.read_bytes()[:200])  # truncated
    return root, victim


TRAIN_ARGS = [
    "model=d2s-r18",
    "use_eal=false",
    "use_fal=false",
    "epochs=1",
    "batch_size=8",
    "image_size=32",
    "pretrained=false",
    "device=cpu",
]


def test_train_on_a_corrupt_image_stops_naming_it_and_leaves_no_outputs(
    demo_with_broken_test_image, tmp_path, capsys
):
    """Current behaviour: the run fails with the file named (exit 2) and writes no checkpoint."""
    root, victim = demo_with_broken_test_image
    out = tmp_path / "run"
    code = main(["train", "--out", str(out), "--no-progress", f"root={root}", *TRAIN_ARGS])
    assert code == 2
    err = capsys.readouterr().err
    assert str(victim) in err and "cannot decode image" in err
    assert not (out / "best.pt").exists() and not (out / "metrics.json").exists()
    assert not (out / "last.pt").exists()


def test_train_checks_every_image_before_training(
    demo_with_broken_test_image, tmp_path, monkeypatch
):
    from d2s.data import DatasetError
    from d2s.train.engine import Run

    def started(*args, **kwargs):
        raise AssertionError("training started before every image was checked")

    monkeypatch.setattr(Run, "train_one_epoch", started)
    root, victim = demo_with_broken_test_image
    config = load_config(overrides=parse_overrides([f"root={root}", *TRAIN_ARGS]))
    with pytest.raises(DatasetError, match=victim.name):
        train(config, tmp_path / "run", progress=False)
