"""make-demo: IC9600's exact layout, deterministic bytes, learnable labels, leak-free captions."""

from __future__ import annotations

import filecmp
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from d2s.cli import main
from d2s.data import load_items
from d2s.data.ic9600 import CATEGORIES
from d2s.data.splitfile import read_pairs

SIZE = 64  # a multiple of 32: blocks of eight, every fourth block is test
PX = 40


@pytest.fixture(scope="module")
def data_demo(tmp_path_factory):
    base = tmp_path_factory.mktemp("demo")
    roots = {}
    for key, seed in (("a", 3), ("b", 3), ("c", 4)):
        argv = ["data", "make-demo", str(base / key), "--seed", str(seed)]
        assert main([*argv, "--size", str(SIZE), "--image-size", str(PX)]) == 0
        roots[key] = base / key
    return roots


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_same_seed_gives_identical_files_other_seed_differs(data_demo):
    a, b, c = data_demo["a"], data_demo["b"], data_demo["c"]
    files = _tree(a)
    assert files == _tree(b) and len(files) > SIZE
    _, mismatch, errors = filecmp.cmpfiles(a, b, files, shallow=False)
    assert mismatch == [] and errors == []
    _, mismatch, _ = filecmp.cmpfiles(a, c, files, shallow=False)
    assert "train.txt" in mismatch and any(m.startswith("images/") for m in mismatch)


def test_ic9600_layout_names_and_scores(data_demo):
    root = data_demo["a"]
    raw = (root / "train.txt").read_text()
    assert all(re.fullmatch(r"\S.*\S  \S+", line) for line in raw.splitlines())
    pairs = read_pairs(root / "train.txt") + read_pairs(root / "test.txt")
    names = [n for n, _, _ in pairs]
    assert len(names) == SIZE and len(set(names)) == SIZE
    assert sorted(names) == sorted(p.name for p in (root / "images").glob("*.jpg"))
    assert {n.split("_", 1)[0] for n in names} == set(CATEGORIES)
    assert any(" " in n for n in names)
    assert all(abs(s * 68 - round(s * 68)) < 1e-9 and 0 <= s <= 1 for _, s, _ in pairs)
    test = load_items("ic9600", root, "test")
    assert {i.category for i in test} == set(CATEGORIES)  # every category in both splits
    assert len(test) == SIZE // 4


def test_scores_follow_what_is_drawn(data_demo):
    """The label must be learnable from pixels: it tracks edge density strongly."""
    from PIL import Image
    from scipy.stats import spearmanr

    items = load_items("ic9600", data_demo["a"], None)
    edges = []
    for item in items:
        gray = np.asarray(Image.open(item.path).convert("L"), dtype=np.float32)
        edges.append(np.abs(np.diff(gray, axis=0)).mean() + np.abs(np.diff(gray, axis=1)).mean())
    rho = spearmanr(edges, [i.label for i in items]).statistic
    assert rho > 0.6, rho


def test_captions_template_without_score_or_digits(data_demo):
    root = data_demo["a"]
    lines = (root / "captions.tsv").read_text().splitlines()
    assert lines[0] == "image\tcaption"
    rows = dict(line.split("\t") for line in lines[1:])
    assert set(rows) == {i.name for i in load_items("ic9600", root, None)}
    prompts = (
        "this image shows ",
        "the main objects are ",
        "the background looks ",
        "the overall visual complexity is ",
    )
    for caption in rows.values():
        parts = caption.split(". ")
        assert len(parts) == 4 and all(p.startswith(q) for p, q in zip(parts, prompts, strict=True))
        assert caption == caption.lower()
        assert not re.search(r"\d", caption)
        assert not re.search(r"\b(score|high|low|simple|complex)\b", caption)


def test_companion_sets_load_with_their_official_loaders(data_demo):
    root = data_demo["a"]
    cross = load_items("visc-c", root / "cross")
    assert len(cross) == max(8, SIZE // 4)
    assert all(0.15 <= i.label <= 0.85 for i in cross)
    distorted = load_items("kadid10k", root / "distortion")
    assert len(distorted) == 2 * 3 * 5
    worst = [i for i in distorted if i.name.endswith("_05.png")]
    best = [i for i in distorted if i.name.endswith("_01.png")]
    assert max(i.label for i in worst) < min(i.label for i in best)
    record = json.loads((root / "demo.json").read_text())
    assert record["seed"] == 3 and "round(68*c)/68" in record["complexity"]


def test_inspect_counts_in_process_and_subprocess(data_demo, capsys):
    root = data_demo["a"]
    assert main(["data", "inspect", "ic9600", str(root)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["train"] == SIZE - SIZE // 4 and report["test"] == SIZE // 4
    assert sum(report["categories"]["test"].values()) == SIZE // 4
    assert report["categories"]["train"]["abstract"] == (SIZE - SIZE // 4) // 8
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "d2s", "data", "inspect", "ic9600", str(root), "--no-progress"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == report
    (root / "images" / "abstract_demo_00000.jpg").rename(root / "gone.jpg")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "d2s", "data", "inspect", "ic9600", str(root)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
    finally:
        (root / "gone.jpg").rename(root / "images" / "abstract_demo_00000.jpg")
    assert done.returncode == 2
    assert "train.txt:1: image 'abstract_demo_00000.jpg' not found" in done.stderr
