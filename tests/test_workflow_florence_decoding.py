"""`captions.florence_decoding` (released | model-card) reaches `d2s caption` in the workflow."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
TARGET = "resources/captions/ic9600/florence-cap1.tsv"


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    root = tmp_path_factory.mktemp("checkout")
    shutil.copy(REPO / "Snakefile", root / "Snakefile")
    shutil.copytree(REPO / "workflow", root / "workflow")
    (root / "supplied" / "ic9600").mkdir(parents=True)
    placed = {"datasets": {"ic9600": {"path": str(root / "supplied" / "ic9600")}}}
    (root / "placed.yaml").write_text(yaml.safe_dump(placed))
    return root


def _commands(cwd: Path, *config: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "-p", "--cores", "1", TARGET]
        + ["--configfile", "placed.yaml", *config],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize("decoding", [None, "released", "model-card"])
def test_florence_decoding_reaches_the_caption_command(checkout, decoding):
    extra = () if decoding is None else ("--config", f"captions={{florence_decoding: {decoding}}}")
    out = _commands(checkout, *extra)
    caption = [line for line in out.splitlines() if " caption --captioner florence-cap1" in line]
    assert caption, out[-2000:]
    assert f"--florence-decoding {decoding or 'released'}" in caption[0]
