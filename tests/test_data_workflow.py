"""The acquisition rules: a dry run on a fresh checkout says what to fetch and what to place."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def data_checkout(tmp_path):
    """A fresh checkout: the Snakefile and workflow/ only, no resources/, default config."""
    if shutil.which("snakemake", path=str(Path(sys.executable).parent)) is None:
        pytest.importorskip("snakemake")
    shutil.copy(REPO / "Snakefile", tmp_path / "Snakefile")
    shutil.copytree(REPO / "workflow", tmp_path / "workflow")
    return tmp_path


def _dry_run(cwd: Path, *targets: str, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "-p", "--cores", "1", *targets, *extra],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )


def test_dry_run_says_where_to_get_and_put_ic9600(data_checkout):
    done = _dry_run(data_checkout, "resources/datasets/ic9600/.d2s-verified.json")
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "IC9600 is missing" in out
    assert "https://github.com/tinglyfeng/IC9600" in out and "academic use" in out
    assert "datasets.ic9600.path in workflow/config/config.yaml" in out
    assert "images/*.jpg, train.txt, test.txt" in out


def test_dry_run_of_public_sets_plans_downloads_and_user_sets_stop(data_checkout):
    done = _dry_run(data_checkout, "data_public")
    assert done.returncode == 0, done.stderr
    assert "data_fetch" in done.stdout
    for name in ("savoias", "kadid10k", "koniq10k", "tid2013"):
        assert f"fetch {name} --dest resources/datasets/{name}" in done.stdout
    done = _dry_run(data_checkout, "data_user")
    assert done.returncode != 0 and "is missing" in done.stdout + done.stderr


def test_config_path_that_does_not_exist_and_unknown_key(data_checkout):
    done = _dry_run(
        data_checkout,
        "resources/datasets/visc-c/.d2s-verified.json",
        extra=("--config", "datasets={'visc-c': {'path': '/no/such/visc'}}"),
    )
    out = done.stdout + done.stderr
    assert done.returncode != 0 and "'/no/such/visc' does not exist" in out
    assert "VISC-C is missing" in out and "labels.csv" in out
    done = _dry_run(data_checkout, "data_public", extra=("--config", "colour=blue"))
    assert done.returncode != 0
    assert "('colour' was unexpected)" in done.stdout + done.stderr


def test_fetched_set_subset_passes_any_count(data_checkout):
    """`subset: true` on a fetched set (the rehearsal's small mirror) reaches `d2s data fetch`."""
    target = "resources/datasets/kadid10k/.d2s-verified.json"
    (data_checkout / "subset.yaml").write_text("datasets: {kadid10k: {subset: true}}\n")
    done = _dry_run(data_checkout, target, extra=("--configfile", "subset.yaml"))
    assert done.returncode == 0, done.stderr
    assert "fetch kadid10k" in done.stdout and "--any-count" in done.stdout
    done = _dry_run(data_checkout, target)
    assert done.returncode == 0 and "--any-count" not in done.stdout
