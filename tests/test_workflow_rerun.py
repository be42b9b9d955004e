"""A real (tiny) workflow run recovers from a config change: the run is trained afresh."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
RUN = "results/test/runs/demo/official/d2s-r18-gap/no-align/seed42"
#: The demo reduced for tests (the snakemake-workflows layout's .test/config).
TEST_CONFIG = ("workflow/config/demo.yaml", ".test/config/config.yaml")


def _snakemake(cwd: Path, *configs: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--cores",
            "1",
            f"{RUN}/metrics.json",
            "--configfile",
            *TEST_CONFIG,
            *configs,
        ],  # fmt: skip
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        check=False,
        timeout=600,
    )


def test_changed_epochs_rerun_the_run_from_scratch(tmp_path):
    """The issue's reproduction: after ``training.epochs`` changed, Snakemake deleted the old
    metrics.json and ``d2s train`` refused the folder; now the run is trained afresh."""
    shutil.copy(REPO / "Snakefile", tmp_path / "Snakefile")
    shutil.copytree(REPO / "workflow", tmp_path / "workflow")
    shutil.copytree(REPO / ".test", tmp_path / ".test")
    for epochs in (1, 2):
        (tmp_path / "epochs.yaml").write_text(yaml.safe_dump({"training": {"epochs": epochs}}))
        done = _snakemake(tmp_path, "epochs.yaml")
        log_file = tmp_path / "logs/train/demo/official/d2s-r18-gap/no-align/seed42.log"
        log = log_file.read_text() if log_file.exists() else ""
        assert done.returncode == 0, done.stderr[-3000:] + log
        metrics = json.loads((tmp_path / RUN / "metrics.json").read_text())
        assert metrics["epochs"] == epochs
        history = (tmp_path / RUN / "log.csv").read_text().splitlines()
        assert len(history) == 1 + epochs  # header + one row per epoch: nothing of the old run
    assert "discarding the old run" in log


def test_a_training_key_typo_stops_the_dag_build_naming_it(tmp_path):
    """The issue's reproduction: a typo under ``training:`` failed only inside a train job."""
    shutil.copy(REPO / "Snakefile", tmp_path / "Snakefile")
    shutil.copytree(REPO / "workflow", tmp_path / "workflow")
    (tmp_path / "typo.yaml").write_text("training:\n  epochz: 3\nmodels:\n  icnet: {lr: fast}\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "--cores",
            "1",
            f"{RUN}/metrics.json",
            "--configfile",
            "workflow/config/demo.yaml",
            "typo.yaml",
        ],  # fmt: skip
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        check=False,
        timeout=300,
    )
    assert done.returncode != 0
    assert "unknown config key 'epochz' (did you mean 'epochs'?)" in done.stdout + done.stderr
