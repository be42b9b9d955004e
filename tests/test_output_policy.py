"""No command writes over what it did not make (d2s/core/outputs.py), through the real CLI.

Each refusal is exit status 2 and one line naming the path, with the folder's content hashed
before and after (unchanged).
"""

from __future__ import annotations

import shutil

import pytest
from data_fixtures import write_ic9600, write_image
from test_reliability import place, run_cli, snapshot

from d2s.data.staging import PLACED


@pytest.fixture
def dataset(tmp_path):
    root = write_ic9600(tmp_path / "ic")
    return root, snapshot(root)


def refused(code: int, err: str, *named: str) -> None:
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for name in named:
        assert str(name) in err, err


# --- 1. data splits writes only into its own folder -----------------------------------------------


@pytest.mark.parametrize("kind", ["official", "val", "sst"])
@pytest.mark.parametrize("force", [False, True])
def test_splits_never_write_over_the_datasets_label_files(dataset, capsys, kind, force):
    """The issue's reproduction: ``data splits ic9600 demo --out demo --kind val`` rewrote
    ``demo/train.txt`` (40 -> 36 lines)."""
    root, before = dataset
    argv = ["data", "splits", "ic9600", root, "--out", root, "--kind", kind, "--sizes", "10"]
    code, err = run_cli(argv + (["--force"] if force else []), capsys)
    refused(code, err, root)
    assert snapshot(root) == before


def test_splits_inside_the_dataset_are_refused(dataset, capsys):
    root, before = dataset
    code, err = run_cli(["data", "splits", "ic9600", root, "--out", root / "splits", "--kind",
                         "val"], capsys)  # fmt: skip
    refused(code, err, "dataset")
    assert snapshot(root) == before


def test_splits_replace_their_own_folder_but_not_a_users(dataset, tmp_path, capsys):
    root, _ = dataset
    out = tmp_path / "splits"
    argv = ["data", "splits", "ic9600", root, "--out", out, "--kind", "val"]
    assert run_cli(argv, capsys)[0] == 0
    assert run_cli(argv, capsys)[0] == 0  # its own: replaced
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "train.txt").write_text("my own list\n")
    code, err = run_cli([*argv[:5], mine, "--kind", "val"], capsys)
    refused(code, err, mine, "--force")
    assert (mine / "train.txt").read_text() == "my own list\n"


@pytest.mark.parametrize(
    "extra, named",
    [
        (["--kind", "val", "--val-fraction", "1.5"], "1.5"),
        (["--kind", "sst", "--sizes", "15"], "15"),
        (["--kind", "sst", "--sizes", "-10"], "-10"),
        (["--kind", "sst", "--sizes", "0"], "0"),
    ],
)
def test_splits_bad_values_are_named_before_anything_is_written(
    dataset, tmp_path, capsys, extra, named
):
    root, _ = dataset
    out = tmp_path / "splits"
    code, err = run_cli(["data", "splits", "ic9600", root, "--out", out, *extra], capsys)
    refused(code, err, named)
    assert not out.exists()


def test_splits_out_a_file_is_refused(dataset, tmp_path, capsys):
    root, _ = dataset
    out = tmp_path / "notes.txt"
    out.write_text("mine")
    code, err = run_cli(["data", "splits", "ic9600", root, "--out", out, "--kind", "val"], capsys)
    refused(code, err, out)
    assert out.read_text() == "mine"


# --- 2. --out never replaces one of the command's inputs ----------------------------------------


def test_export_over_its_own_checkpoint_is_refused(untrained_checkpoint, tmp_path, capsys):
    ckpt = tmp_path / "run" / "best.pt"
    ckpt.parent.mkdir()
    shutil.copy(untrained_checkpoint, ckpt)
    data = ckpt.read_bytes()
    for force in ([], ["--force"]):
        code, err = run_cli(["export", ckpt, "--format", "torchscript", "--out", ckpt, *force],
                            capsys)  # fmt: skip
        refused(code, err, ckpt, "input")
        assert ckpt.read_bytes() == data


def test_score_over_an_input_image_or_dataset_labels_is_refused(
    untrained_checkpoint, dataset, tmp_path, capsys
):
    root, before = dataset
    photo = write_image(tmp_path / "photo.jpg", size=40)
    data = photo.read_bytes()
    cases = [
        (["score", photo, "-c", untrained_checkpoint, "--out", photo], photo),
        (["score", root / "images", "-c", untrained_checkpoint, "--out", root / "train.txt"],
         root / "train.txt"),
    ]  # fmt: skip
    for argv, named in cases:
        for force in ([], ["--force"]):
            code, err = run_cli([*argv, *force], capsys)
            refused(code, err, named)
    assert photo.read_bytes() == data and snapshot(root) == before


def test_score_replaces_its_own_csv_and_a_users_file_only_with_force(
    untrained_checkpoint, tmp_path, capsys
):
    photo = write_image(tmp_path / "in" / "photo.jpg", size=40)
    csv = tmp_path / "scores.csv"
    argv = ["score", photo, "-c", untrained_checkpoint, "--out", csv]
    assert run_cli(argv, capsys)[0] == 0
    assert run_cli(argv, capsys)[0] == 0  # its own CSV: replaced
    notes = tmp_path / "notes.csv"
    notes.write_text("my,notes\n")
    code, err = run_cli([*argv[:-1], notes], capsys)
    refused(code, err, notes, "--force")
    assert notes.read_text() == "my,notes\n"
    assert run_cli([*argv[:-1], notes, "--force"], capsys)[0] == 0
    assert notes.read_text().startswith("# d2s score v1;")


def test_score_out_with_a_non_utf8_name_is_refused_up_front(untrained_checkpoint, tmp_path, capsys):
    import os

    photo = write_image(tmp_path / "photo.jpg", size=40)
    out = os.fsdecode(bytes(tmp_path) + b"/scores\xff.csv")
    code, err = run_cli(["score", photo, "-c", untrained_checkpoint, "--out", out], capsys)
    refused(code, err, "UTF-8")


def test_text_features_over_its_captions_is_refused(tmp_path, capsys):
    captions = tmp_path / "captions.tsv"
    captions.write_text("image\tcaption\na.jpg\ta red square\n")
    data = captions.read_bytes()
    code, err = run_cli(["text-features", "--captions", captions, "--out", captions,
                         "--clip-weights", "random", "--force"], capsys)  # fmt: skip
    refused(code, err, captions)
    assert captions.read_bytes() == data


# --- 3. make-demo never writes into a dataset -----------------------------------------------------


@pytest.mark.parametrize("force", [False, True])
def test_make_demo_into_an_existing_dataset_is_refused(dataset, capsys, force):
    root, before = dataset
    argv = ["data", "make-demo", root, "--size", "8", "--image-size", "32"]
    code, err = run_cli(argv + (["--force"] if force else []), capsys)
    refused(code, err, root)
    assert snapshot(root) == before


def test_make_demo_replaces_its_own_demo(tmp_path, capsys):
    root = tmp_path / "demo"
    argv = ["data", "make-demo", root, "--size", "16", "--image-size", "32"]
    assert run_cli(argv, capsys)[0] == 0
    assert run_cli([*argv[:4], "8", *argv[5:]], capsys)[0] == 0  # smaller: nothing stale left
    assert len(list((root / "images").iterdir())) == 8


# --- 5. re-placing never deletes what the user added ---------------------------------------------


def test_replacing_a_placement_keeps_files_the_user_added(dataset, tmp_path, capsys):
    src, _ = dataset
    dest = tmp_path / "placed"
    assert run_cli(place(src, dest), capsys)[0] == 0
    (dest / "notes.txt").write_text("years of work")
    code, err = run_cli(place(src, dest), capsys)
    refused(code, err, "notes.txt")
    assert (dest / "notes.txt").read_text() == "years of work"


def test_a_copied_placement_record_does_not_make_a_folder_replaceable(dataset, tmp_path, capsys):
    src, _ = dataset
    dest = tmp_path / "placed"
    assert run_cli(place(src, dest), capsys)[0] == 0
    mine = tmp_path / "mine"
    (mine / "chapter").mkdir(parents=True)
    (mine / "chapter" / "thesis.tex").write_text("years of work")
    shutil.copy(dest / PLACED, mine / PLACED)
    before = snapshot(mine)
    code, err = run_cli(place(src, mine), capsys)
    refused(code, err, "thesis.tex")
    assert snapshot(mine) == before


def test_score_into_a_folder_it_cannot_write_is_refused_before_scoring(
    untrained_checkpoint, tmp_path, capsys, monkeypatch
):
    """The issue's reproduction: the scores were computed, then lost to a PermissionError. (The
    folder's permission is simulated: the tests may run as root, who may write anywhere.)"""
    import os

    import d2s.inference.scoring

    photo = write_image(tmp_path / "photo.jpg", size=40)
    locked = tmp_path / "read-only"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: real_access(p, mode) and p != locked)
    monkeypatch.setattr(d2s.inference.scoring.Scorer, "score_paths", lambda *a, **k: iter(()))
    code, err = run_cli(["score", photo, "-c", untrained_checkpoint, "--out", locked / "s.csv"],
                        capsys)  # fmt: skip
    refused(code, err, locked, "permission denied")


def test_a_corrupt_tar_gz_is_refused_in_one_line(tmp_path, capsys):
    archive = tmp_path / "IC9600.tar.gz"
    archive.write_bytes(b"\x00not an archive" * 200)
    code, err = run_cli(place(archive, tmp_path / "dest"), capsys)
    refused(code, err, archive, "corrupt")


@pytest.mark.parametrize(
    "argv",
    [["bench", "run", "--json"], ["bench", "gpu", "--device", "cpu", "--out"]],
    ids=["bench-run", "bench-gpu"],
)
def test_benchmark_outputs_never_replace_a_users_file(argv, tmp_path, capsys):
    mine = tmp_path / "results.json"
    mine.write_text('{"mine": 1}')
    code, err = run_cli([*argv, str(mine)], capsys)
    refused(code, err, str(mine), "--force")
    assert mine.read_text() == '{"mine": 1}'


def test_benchmark_outputs_know_their_own_json(tmp_path):
    from d2s.cli.bench import json_with

    theirs, ours = tmp_path / "a.json", tmp_path / "b.json"
    theirs.write_text('{"runtime": {}}')
    ours.write_text('{"runtime": {}, "profile": "tiny"}')
    recognise = json_with("runtime", "profile")
    assert recognise(ours) and not recognise(theirs) and not recognise(tmp_path / "none.json")
    beside = json_with("runtime", "profile", source=ours)  # a .md is ours with its JSON
    assert beside(tmp_path / "b.md")
