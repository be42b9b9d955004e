"""``d2s train``'s run folder: the suite's or nobody's, locked, and matched to the data it read.

Through the real CLI on the tiny run of ``data_fixtures``; each refusal is exit status 2 and one
line, with the folder's content hashed before and after.
"""

from __future__ import annotations

import fcntl
import json

import pytest
from data_fixtures import train_cli, write_ic9600
from test_output_policy import refused
from test_reliability import run_cli, snapshot


@pytest.fixture
def run(tmp_path, one_thread):
    """A complete tiny run and its dataset."""
    from d2s.cli import main

    root = write_ic9600(tmp_path / "ic")
    assert main([str(a) for a in train_cli(root, tmp_path / "run")]) == 0
    return root, tmp_path / "run"


def _argv(root, out, *extra):
    return train_cli(root, out, *extra)


def test_a_users_folder_is_refused_and_its_part_files_kept(tmp_path, capsys):
    """The issue's reproduction: a user's metrics.json, log.csv, predictions.csv were overwritten
    and a hidden ``.thesis.docx.part`` deleted."""
    root = write_ic9600(tmp_path / "ic")
    out = tmp_path / "U"
    out.mkdir()
    for name in ("metrics.json", "log.csv", "predictions.csv", ".thesis.docx.part"):
        (out / name).write_text("the user's own, not JSON")
    before = snapshot(out)
    code, err = run_cli(_argv(root, out), capsys)
    refused(code, err, out)
    assert snapshot(out) == before


def test_changed_test_labels_are_not_reported_as_complete(run, capsys):
    """The issue's reproduction: after a complete run, changed test labels gave "run already
    complete" and the stale metrics."""
    root, out = run
    (root / "test.txt").write_text((root / "test.txt").read_text().replace("  0.", "  0.9"))
    before = snapshot(out)
    code, err = run_cli(_argv(root, out), capsys)
    refused(code, err, "test.txt", "--restart")
    assert snapshot(out) == before


def test_changed_train_labels_are_never_resumed_across(run, capsys):
    """The issue's reproduction: kill after an epoch, edit train.txt, resume — the result mixed
    old and new labels. Here the run stopped before metrics.json (last.pt and best.pt kept)."""
    root, out = run
    (out / "metrics.json").unlink()
    (out / "predictions.csv").unlink()
    (root / "train.txt").write_text((root / "train.txt").read_text().replace("  0.", "  0.5"))
    before = snapshot(out)
    code, err = run_cli(_argv(root, out), capsys)
    refused(code, err, "train.txt")
    assert snapshot(out) == before
    assert run_cli([*_argv(root, out), "--restart"], capsys)[0] == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["inputs"]["data"]["train split"]
    assert len((out / "log.csv").read_text().splitlines()) == 2  # one fresh epoch, no old rows


def test_a_resolved_momentum_precision_change_is_named(run, capsys, monkeypatch):
    """``auto`` is recorded as the precision it resolved to; another machine's is a change."""
    import d2s.method.alignment

    root, out = run
    marker = json.loads((out / ".d2s-run.json").read_text())
    marker["momentum_precision"] = "bf16"  # as an EAL run resolved on a bf16 machine
    (out / ".d2s-run.json").write_text(json.dumps(marker))
    monkeypatch.setattr(d2s.method.alignment, "resolve_momentum_precision", lambda *a: "fp32")
    code, err = run_cli(_argv(root, out), capsys)
    refused(code, err, "momentum precision")


def test_identity_records_the_resolved_momentum_precision_not_auto(tmp_path):
    from d2s.train.config_file import load_config
    from d2s.train.run_folder import run_inputs

    captions = tmp_path / "c.tsv"
    captions.write_text("image\tcaption\n")
    config = load_config(overrides={"root": "x", "captions": str(captions), "device": "cpu"})
    assert config.momentum_precision == "auto"
    assert run_inputs(config, {})["momentum_precision"] in ("fp32", "bf16", "fp16")


def test_a_second_train_on_a_folder_in_use_is_refused_naming_the_holder(run, capsys):
    root, out = run
    (out / "metrics.json").unlink()
    with open(out / ".d2s-run.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("pid 4242 on elsewhere\n")
        held.flush()
        before = snapshot(out)
        code, err = run_cli(_argv(root, out), capsys)
    refused(code, err, "pid 4242 on elsewhere")
    assert snapshot(out) == before


def test_a_corrupt_metrics_json_of_its_own_run_is_rewritten(run, capsys):
    root, out = run
    (out / "metrics.json").write_text("{not json")
    assert run_cli(_argv(root, out), capsys)[0] == 0
    assert json.loads((out / "metrics.json").read_text())["srcc"] is not None


def test_only_the_runs_own_temporaries_are_cleaned(run, capsys):
    root, out = run
    (out / ".last.pt.abc123.part").write_bytes(b"half a checkpoint")
    assert run_cli(_argv(root, out), capsys)[0] == 0  # "run already complete"
    assert not (out / ".last.pt.abc123.part").exists()


def test_disk_full_during_a_checkpoint_names_the_device_and_the_size(tmp_path, capsys, monkeypatch):
    """torch's own error for a full disk is ``RuntimeError: ... unexpected pos``."""
    import collections
    import shutil

    import torch

    root = write_ic9600(tmp_path / "ic")

    def full(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:778] . unexpected pos 64 vs 0")

    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(torch, "save", full)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9, 0))
    code, err = run_cli(_argv(root, tmp_path / "run"), capsys)
    refused(code, err, "no space left on", "needs about", "MB")


# --- messages: one line, named, before any work ----------------------------------------------


@pytest.mark.parametrize(
    "extra, named",
    [
        (["num_workers=-1"], "num_workers"),
        (["threads=-3"], "threads"),
        (["select=val", "val_fraction=0.1"], "val_fraction"),
    ],
)
def test_bad_values_are_named_before_training(tmp_path, capsys, extra, named):
    root = write_ic9600(tmp_path / "ic")
    out = tmp_path / "run"
    code, err = run_cli(_argv(root, out, *extra), capsys)
    refused(code, err, named)
    assert not (out / "last.pt").exists()


def test_root_that_is_a_file_is_named_as_a_file(tmp_path, capsys):
    root = write_ic9600(tmp_path / "ic")
    code, err = run_cli(_argv(root / "train.txt", tmp_path / "run"), capsys)
    refused(code, err, "train.txt", "a file, not a folder")


def test_overrides_after_an_option_are_read(run, capsys):
    root, out = run
    argv = [
        "train",
        "--no-progress",
        f"root={root}",
        "epochs=1",
        "--out",
        out,
        *_argv(root, out)[4:],
    ]
    code, err = run_cli(argv, capsys)
    assert code == 0, err


@pytest.mark.parametrize(
    "content, named",
    [
        ("\ufeffimage\tcaption\n", "byte-order mark"),
        (
            "image\tcaption\nabstract_0001.jpg\t \n",
            ":2: the caption of 'abstract_0001.jpg' is empty",
        ),
    ],
)
def test_caption_file_problems_are_named(tmp_path, capsys, content, named):
    root = write_ic9600(tmp_path / "ic")
    captions = tmp_path / "captions.tsv"
    captions.write_text(content, encoding="utf-8")
    argv = _argv(root, tmp_path / "run", "use_eal=true", f"captions={captions}",
                 "clip_weights=random")  # fmt: skip
    code, err = run_cli(argv, capsys)
    refused(code, err, named)


def test_score_image_size_has_an_upper_bound(untrained_checkpoint, tmp_path, capsys, monkeypatch):
    from data_fixtures import write_image

    import d2s.inference.scoring

    def refuse_to_score(*args, **kwargs):  # without the bound, 100000² pixels end in the OOM killer
        raise AssertionError("scoring started at --image-size 100000")

    monkeypatch.setattr(d2s.inference.scoring.Scorer, "score_paths", refuse_to_score)
    photo = write_image(tmp_path / "photo.jpg", size=40)
    code, err = run_cli(["score", photo, "-c", untrained_checkpoint, "--image-size", "100000"],
                        capsys)  # fmt: skip
    refused(code, err, "--image-size", "100000")
