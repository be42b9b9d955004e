"""`d2s data fetch` from a local mirror shaped like pyiqa's Hugging Face mirror and GitHub
(d2s/ops/rehearsal/archives.py): labels where pyiqa gets them, checked before the archive; a labelled
subset; one-line refusals naming the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from d2s.data import load_items
from d2s.data.fetch import HF_META_REPO, META_FILES, fetch_dataset, hf_url, mirror_path
from d2s.data.records import DatasetError
from d2s.ops.rehearsal.archives import write_pyiqa_archives, write_savoias_archive

IQA = ("kadid10k", "koniq10k", "tid2013")


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    root = tmp_path_factory.mktemp("mirror")
    write_pyiqa_archives(root, 4)
    write_savoias_archive(root, per_category=2)
    return root


@pytest.mark.parametrize("dataset", IQA)
def test_fetch_from_pyiqa_mirror_takes_pyiqa_labels(mirror, tmp_path, monkeypatch, dataset):
    monkeypatch.setenv("D2S_MIRROR", str(mirror))
    dest = tmp_path / dataset
    record = fetch_dataset(dataset, dest, progress=False, strict_count=False)
    assert record["total"] == 4 and record["subset"] is True
    assert (dest / META_FILES[dataset]).is_file()
    items = load_items(dataset, dest)
    assert len(items) == 4 and all(0.0 <= item.label <= 1.0 for item in items)


def test_savoias_from_the_github_branch_archive(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("D2S_MIRROR", str(mirror))
    record = fetch_dataset("savoias", tmp_path / "savoias", progress=False, strict_count=False)
    assert record["total"] == 14 and record["subset"] is True


def test_official_count_is_still_checked_without_the_override(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("D2S_MIRROR", str(mirror))
    with pytest.raises(DatasetError, match="should have 10125 images, found 4"):
        fetch_dataset("kadid10k", tmp_path / "kadid10k", progress=False)


def test_missing_labels_stop_before_the_archive_is_read(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    (archive,) = write_pyiqa_archives(mirror, 2, datasets=("tid2013",), with_labels=False).values()
    monkeypatch.setenv("D2S_MIRROR", str(mirror))
    read = []
    monkeypatch.setattr("d2s.data.fetch.unpack", lambda *a, **k: read.append(a))
    with pytest.raises(DatasetError, match=META_FILES["tid2013"]):
        fetch_dataset("tid2013", tmp_path / "tid2013", progress=False, strict_count=False)
    assert read == [] and archive.is_file()


def test_cli_refuses_a_mirror_without_labels_in_one_line(tmp_path):
    mirror = tmp_path / "mirror"
    write_pyiqa_archives(mirror, 2, datasets=("kadid10k",), with_labels=False)
    env = {**os.environ, "D2S_MIRROR": str(mirror), "HF_HUB_OFFLINE": "1"}
    dest = tmp_path / "kadid10k"
    run = subprocess.run(
        [sys.executable, "-m", "d2s", "data", "fetch", "kadid10k", "--dest", str(dest)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1
    expected = mirror_path(mirror, hf_url(HF_META_REPO, META_FILES["kadid10k"]))
    assert str(expected) in lines[0]
    assert not dest.exists()


def test_cli_subset_is_recorded_in_the_marker(mirror, tmp_path):
    env = {**os.environ, "D2S_MIRROR": str(mirror), "HF_HUB_OFFLINE": "1"}
    dest = tmp_path / "koniq10k"
    run = subprocess.run(
        [sys.executable, "-m", "d2s", "data", "fetch", "koniq10k", "--dest", str(dest)]
        + ["--any-count", "--downloads", str(tmp_path / "dl"), "--delete-archives"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    marker = json.loads((dest / ".d2s-verified.json").read_text())
    assert marker["subset"] is True and marker["total"] == 4 and marker["expected"] == 10073
    assert list(mirror.rglob("koniq10k.tgz"))  # a mirror's copy is never deleted
