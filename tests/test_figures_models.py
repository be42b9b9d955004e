"""Figures that read a trained D2S run (Figs. 4d/4e/12-14 features, 6, 7, 16) on a tiny run,
checked against independent recomputations; and the `d2s figure` command line."""

import argparse
import json

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from scipy import ndimage

from d2s.checkpoint import load_model, read_checkpoint
from d2s.data import load_items
from d2s.data.demo import make_demo
from d2s.method.losses import entropy
from d2s.paper.figures.render import Inputs, render
from d2s.paper.figures.sources import RunRef, load_images
from d2s.paper.figures.style import DPI
from d2s.train.config_file import load_config
from d2s.train.engine import train
from d2s.train.tasks import make_task


@pytest.fixture(scope="module")
def run(tmp_path_factory, one_thread):
    """A 1-epoch D2S-R18 run (64 px, so stage 4 is 2×2) on a 32-image demo set, with a
    synthetic text-feature file."""
    base = tmp_path_factory.mktemp("figrun")
    root = base / "demo"
    make_demo(root, seed=0, size=32, image_size=32)
    names = [i.name for s in ("train", "test") for i in load_items("ic9600", str(root), s)]
    feats = torch.randn(len(names), 512, generator=torch.Generator().manual_seed(0))
    text = base / "text.pt"
    torch.save(
        {
            "format": "d2s-text-features/1",
            "names": names,
            "captions": [""] * len(names),
            "features": feats,
            "entropy": entropy(feats),
        },
        text,
    )
    config = load_config(
        overrides=dict(
            model="d2s-r18",
            root=str(root),
            text_features=str(text),
            image_size=64,
            epochs=1,
            batch_size=8,
            eval_batch_size=16,
            buffer_size=8,
            refresh_steps=2,
            pretrained=False,
            device="cpu",
            seed=826,
        )
    )
    folder = base / "run"
    train(config, folder, progress=False)
    return {"folder": folder, "config": config, "root": root, "text": (names, feats)}


def png_size(path):
    with Image.open(path) as image:
        assert np.asarray(image.convert("L")).std() > 5
        return image.size


def test_alignment_features_are_the_engine_init_and_the_last_epoch(run):
    from d2s.paper.figures.alignment import compute_features

    arrays, meta = compute_features(run["folder"])
    config = run["config"]
    items = load_items("ic9600", str(run["root"]), "test")
    assert arrays["names"].tolist() == [i.name for i in items]
    images = load_images(items, 64)
    torch.manual_seed(config.seed)  # the engine: seed, then make_task
    initial = make_task(config).model.eval()
    state = read_checkpoint(run["folder"] / "last.pt", kind="state")
    task = make_task(config)
    task.load_state_dict(state["task"])
    trained = task.model.eval()
    with torch.no_grad():
        before = initial.forward_train(images)[1].numpy()
        after = trained.forward_train(images)[1].numpy()
    assert arrays["visual_before"] == pytest.approx(before, abs=1e-5)
    assert arrays["visual_after"] == pytest.approx(after, abs=1e-5)
    assert not np.allclose(before, after)  # training moved the projection
    for stage, feats in (("before", before), ("after", after)):
        p = np.exp(feats - feats.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        h = -(p * np.log(p + 1e-8)).sum(1)
        assert arrays[f"entropy_visual_{stage}"] == pytest.approx(h, abs=1e-4)
    names, text = run["text"]
    rows = [names.index(n) for n in arrays["names"]]
    assert arrays["text"] == pytest.approx(text[rows].numpy())
    assert meta["after_epoch"] == 1 and meta["seed"] == 826


def test_fig6_statistics_equal_an_independent_computation(run, tmp_path):
    paths = render(
        "fig6", Inputs(out=str(tmp_path / "fig6"), runs=[RunRef("D2S-R18", run["folder"])])
    )
    assert png_size(paths["png"]) == (round(6.9 * DPI), round(2.1 * DPI))
    data = pd.read_csv(paths["csv"])
    predictions = pd.read_csv(run["folder"] / "predictions.csv")
    assert data["prediction"].tolist() == pytest.approx(predictions["prediction"].tolist())
    kernel = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=float)
    for rec in data.itertuples():
        gray = np.asarray(Image.open(run["root"] / "images" / rec.image).convert("L")) / 255.0
        lap = ndimage.convolve(gray, kernel)[1:-1, 1:-1]
        assert rec.brightness == pytest.approx(gray.mean())
        assert rec.contrast == pytest.approx(gray.std())
        assert rec.texture_variance == pytest.approx(lap.var())


def test_fig7_channel_frequencies_equal_numpy_correlations(run, tmp_path):
    paths = render(
        "fig7",
        Inputs(out=str(tmp_path / "fig7"), n_boot=25, runs=[RunRef("D2S-R18", run["folder"])]),
    )
    assert png_size(paths["png"]) == (round(3.3 * DPI), round(2.2 * DPI))
    data = pd.read_csv(paths["csv"])
    model, _ = load_model(run["folder"] / "best.pt")
    items = load_items("ic9600", str(run["root"]), "test")
    with torch.no_grad():
        acts = model.backbone(load_images(items, 64))[-1].mean(dim=(2, 3)).numpy().astype(float)
    labels = np.array([i.label for i in items])

    def corr(a, t):
        out = np.array(
            [np.corrcoef(a[:, c], t)[0, 1] if a[:, c].std() > 0 else 0.0 for c in range(a.shape[1])]
        )
        return np.nan_to_num(out)

    r = corr(acts, labels)
    got = data.set_index("channel")
    assert got["r"].to_numpy() == pytest.approx(r[got.index], abs=1e-5)
    top = set(np.argsort(-np.abs(r))[:20])
    assert set(got.index[got["in_top_k"]]) == top
    counts = np.zeros(acts.shape[1])
    for idx in np.random.default_rng(0).integers(0, len(labels), (25, len(labels))):
        counts[np.argsort(-np.abs(corr(acts[idx], labels[idx])))[:20]] += 1
    assert got["frequency"].to_numpy() == pytest.approx(counts[got.index] / 25)
    assert set(np.flatnonzero(counts)) <= set(got.index)


def test_fig16_maps_are_stage4_max_mean_and_gradcam(run, tmp_path):
    paths = render(
        "fig16",
        Inputs(out=str(tmp_path / "fig16"), examples=3, runs=[RunRef("D2S-R18", run["folder"])]),
    )
    assert png_size(paths["png"]) == (round(3.3 * DPI), round((0.85 * 3 + 0.25) * DPI))
    maps = np.load(paths["npz"])
    data = pd.read_csv(paths["csv"])
    items = {i.name: i for i in load_items("ic9600", str(run["root"]), "test")}
    chosen = [items[n] for n in data["image"]]
    labels = sorted(i.label for i in items.values())
    assert [c.label for c in chosen] == sorted(c.label for c in chosen)  # spread over the range
    assert chosen[0].label <= labels[len(labels) // 2] <= chosen[-1].label
    model, _ = load_model(run["folder"] / "best.pt")
    x = load_images(chosen, 64)
    with torch.no_grad():
        feats = model.forward_features(x)
    assert maps["max"] == pytest.approx(feats.amax(1).numpy(), abs=1e-5)
    assert maps["mean"] == pytest.approx(feats.mean(1).numpy(), abs=1e-5)
    assert maps["gradcam"].shape == (3, 64, 64)
    assert maps["gradcam"].min() >= 0 and maps["gradcam"].max() <= 1 + 1e-6
    # Grad-CAM by hand: ReLU(Σ_c mean(∂score/∂A_c) · A_c) on the 2×2 stage-4 map
    a = model.forward_features(x).detach().requires_grad_(True)
    model.forward_head(a).sum().backward()
    cam = torch.relu((a.grad.mean(dim=(2, 3), keepdim=True) * a).sum(1)).detach().numpy()
    checked = 0
    for i in range(3):
        if np.ptp(cam[i]) > 1e-6 * cam[i].max():
            checked += 1
            coarse = maps["gradcam"][i].reshape(2, 32, 2, 32).mean(axis=(1, 3))
            assert np.unravel_index(coarse.argmax(), (2, 2)) == np.unravel_index(
                cam[i].argmax(), (2, 2)
            )
    assert checked > 0
    assert data["prediction"].tolist() == pytest.approx(
        model(x).detach().numpy().tolist(), abs=1e-5
    )


def _cli(argv):
    from d2s.cli import figure

    parser = argparse.ArgumentParser()
    figure.register(parser.add_subparsers())
    args = parser.parse_args(["figure", *argv])
    return args.func(args)


def test_command_line_features_figures_and_gallery(run, tmp_path):
    folder = str(run["folder"])
    npz = tmp_path / "data" / "alignment.npz"
    assert _cli(["features", "--run", f"D2S={folder}", "--out", str(npz)]) == 0
    assert (
        _cli(
            [
                "fig14",
                "--features",
                str(npz),
                "--out",
                str(tmp_path / "fig14"),
                "--config-name",
                "demo",
                "--run-label",
                "demo",
            ]
        )
        == 0
    )
    assert (
        _cli(
            [
                "fig8",
                "--run",
                f"D2S-R18={folder}",
                "--run",
                f"Vision-only={folder}",
                "--out",
                str(tmp_path / "fig8"),
            ]
        )
        == 0
    )
    record = json.loads((tmp_path / "fig14.json").read_text())
    assert record["config"] == "demo" and record["sources"][0]["run"] == folder
    assert record["features"]["seed"] == 826
    records = [str(tmp_path / "fig14.json"), str(tmp_path / "fig8.json")]
    assert _cli(["gallery", "--records", *records, "--out", str(tmp_path / "all")]) == 0
    page = (tmp_path / "all").read_text()
    assert "](fig14.png)" in page and "](fig8.png)" in page and folder in page
    assert (tmp_path / "index.md").read_text() == page
    from d2s.cli import CLIError

    with pytest.raises(CLIError, match="needs --table"):
        _cli(["fig2", "--out", str(tmp_path / "x")])
