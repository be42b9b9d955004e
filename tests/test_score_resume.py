"""``d2s score --resume``: killed halfway over 500 images and run again, every image is scored
exactly once and the CSV equals an uninterrupted run's; a CSV of another model or not written by
the suite is never appended to."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from PIL import Image
from scoring_helpers import pattern, save

from d2s.cli import main

N_IMAGES = 500

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("many")
    for i in range(N_IMAGES):
        save(root / f"{i:03d}.png", Image.fromarray(pattern(24, 32, seed=i)))
    return root


def rows_of(path) -> list[str]:
    """Complete data rows (what a resumed run keeps)."""
    text = path.read_text(encoding="utf-8")
    return [line for line in text[: text.rfind("\n") + 1].splitlines()[2:]]


def test_killed_halfway_then_resumed_equals_an_uninterrupted_run(
    folder, untrained_checkpoint, tmp_path, capsys
):
    whole = tmp_path / "whole.csv"
    argv = ["score", str(folder), "-c", str(untrained_checkpoint), "--device", "cpu"]
    assert main([*argv, "--batch-size", "20", "--workers", "0", "--out", str(whole)]) == 0
    capsys.readouterr()

    out = tmp_path / "resumed.csv"
    partial = out.with_name(out.name + ".partial")
    cmd = [sys.executable, "-m", "d2s", *argv, "--batch-size", "20", "--out", str(out), "--resume"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if partial.exists() and len(rows_of(partial)) >= N_IMAGES // 2:
            os.killpg(proc.pid, signal.SIGKILL)  # the run and its decoding workers
            break
        time.sleep(0.005)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not out.exists()  # nothing under the final name looks complete
    kept = rows_of(partial)
    assert N_IMAGES // 2 <= len(kept) < N_IMAGES

    code = main([*argv, "--batch-size", "20", "--out", str(out), "--resume"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"({N_IMAGES - len(kept)} now, {len(kept)} kept from the earlier run)" in err
    assert out.read_text() == whole.read_text()  # same header, same rows, same order
    paths = [line.split(",")[0] for line in rows_of(out)]
    assert len(paths) == len(set(paths)) == N_IMAGES
    assert not partial.exists()
    # resuming a complete CSV scores nothing and leaves it as it was
    assert main([*argv, "--out", str(out), "--resume"]) == 0
    assert f"(0 now, {N_IMAGES} kept" in capsys.readouterr().err
    assert out.read_text() == whole.read_text()


def test_resume_never_appends_to_a_foreign_csv_or_another_models(
    folder, untrained_checkpoint, tmp_path, capsys
):
    images = [str(folder / "000.png"), str(folder / "001.png")]
    out = tmp_path / "scores.csv"
    out.write_text("path,score\nold.png,0.5\n")
    code = main(["score", *images, "-c", str(untrained_checkpoint), "-o", str(out), "--resume"])
    assert code == 2 and "was not made by d2s score" in capsys.readouterr().err
    assert out.read_text() == "path,score\nold.png,0.5\n"

    out.unlink()
    assert main(["score", images[0], "-c", str(untrained_checkpoint), "-o", str(out)]) == 0
    before = out.read_text()
    other = tmp_path / "other.pt"
    data = torch.load(untrained_checkpoint, weights_only=True)
    data["epoch"] = 2  # same model, other file: another hash
    torch.save(data, other)
    capsys.readouterr()
    assert main(["score", *images, "-c", str(other), "-o", str(out), "--resume"]) == 2
    assert "checkpoint_sha256" in capsys.readouterr().err
    assert out.read_text() == before
    assert main(["score", *images, "-c", str(untrained_checkpoint), "--resume"]) == 2
    assert "--resume needs --out" in capsys.readouterr().err


def test_auto_workers_split_the_cores(monkeypatch):
    import d2s.inference.batch as batch_scoring

    monkeypatch.setattr(batch_scoring, "usable_cores", lambda: 16)
    assert batch_scoring.auto_workers(10_000, 32, "cuda") == 16  # the model is elsewhere
    assert batch_scoring.auto_workers(10_000, 32, "cpu") == 8
    assert batch_scoring.model_threads(8) == 8 and batch_scoring.model_threads(16) == 1
    assert batch_scoring.auto_workers(96, 32, "cuda") == 3  # never more than batches
    assert batch_scoring.auto_workers(32, 32, "cuda") == 0  # one batch: no process to start
