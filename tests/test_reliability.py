"""Hostile and careless input: nothing the user made is lost, every bad value gets a message.

Each case runs the real CLI (``d2s.cli.main``) where a user would meet it and asserts exit status 2
and the named key or file in the message (no traceback). The data-loss cases come first.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest
from data_fixtures import train_cli, write_ic9600

from d2s.cli import main
from d2s.data.validate import MARKER, read_marker


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (links not followed) → sha256: a folder's content, comparable."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() or path.is_symlink():
            data = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
            out[str(path.relative_to(root))] = hashlib.sha256(data).hexdigest()
    return out


def place(src, dest, *extra) -> list[str]:
    return ["data", "place", "ic9600", "--src", str(src), "--dest", str(dest), "--any-count",
            "--no-progress", *extra]  # fmt: skip


def run_cli(argv, capsys) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


@pytest.fixture
def user_copy(tmp_path):
    """The user's own IC9600 folder, and its content before anything ran."""
    src = write_ic9600(tmp_path / "X" / "ic9600")
    return src, snapshot(src)


# --- 1. the user's folder is never written to or deleted, whatever the two paths are -------------


def test_src_inside_dest_keeps_the_users_copy(user_copy, capsys):
    """The issue's reproduction: ``--src X/ic9600 --dest X`` used to delete X/ic9600."""
    src, before = user_copy
    code, err = run_cli(place(src, src.parent), capsys)
    assert code == 2 and "lies inside --dest" in err and str(src) in err
    assert "Traceback" not in err
    assert snapshot(src) == before and not (src.parent / MARKER).exists()


def test_workflow_layout_raw_inside_dest_keeps_the_users_copy(tmp_path, capsys):
    """``datasets.ic9600.path: resources/datasets/ic9600/raw`` (dest resources/datasets/ic9600)."""
    raw = write_ic9600(tmp_path / "resources" / "datasets" / "ic9600" / "raw")
    before = snapshot(raw)
    code, err = run_cli(place(raw, raw.parent), capsys)
    assert code == 2 and "datasets.NAME.path must not lie inside" in err
    assert snapshot(raw) == before


@pytest.mark.parametrize("relation", ["same", "dest-inside-src", "dest-link-to-src", "relative"])
def test_every_overlap_of_src_and_dest_is_refused(
    user_copy, tmp_path, monkeypatch, capsys, relation
):
    src, before = user_copy
    if relation == "same":
        argv = place(src, src)
    elif relation == "dest-inside-src":
        argv = place(src, src / "placed")
    elif relation == "dest-link-to-src":
        link = tmp_path / "link"
        link.symlink_to(src)
        argv = place(src, link)
    else:  # relative src, absolute dest spelled with '..': the same folder
        monkeypatch.chdir(src.parent)
        argv = place("ic9600", src / ".." / "ic9600")
    code, err = run_cli(argv, capsys)
    assert code == 2 and "nothing was changed" in err, err
    assert snapshot(src) == before
    assert not (src / "placed").exists()


def test_src_given_through_a_symlink_inside_dest_is_refused(tmp_path, capsys):
    real = write_ic9600(tmp_path / "dest" / "mine")
    before = snapshot(real)
    link = tmp_path / "alias"
    link.symlink_to(real)
    code, err = run_cli(place(link, tmp_path / "dest"), capsys)
    assert code == 2 and "lies inside --dest" in err
    assert snapshot(real) == before


def test_archive_inside_dest_is_refused(tmp_path, capsys):
    dest = tmp_path / "dest"
    archive = _ic9600_zip(tmp_path, dest / "IC9600.zip")
    data = archive.read_bytes()
    code, err = run_cli(place(archive, dest), capsys)
    assert code == 2 and "lies inside --dest" in err and archive.read_bytes() == data


# --- 2. a non-empty destination is replaced only when it is a verified placement ------------------


def test_non_empty_destination_that_is_not_a_placement_is_refused(user_copy, tmp_path, capsys):
    src, _ = user_copy
    dest = tmp_path / "theirs"
    (dest / "notes").mkdir(parents=True)
    (dest / "notes" / "thesis.tex").write_text("years of work")
    code, err = run_cli(place(src, dest), capsys)
    assert code == 2 and str(dest) in err and "not a folder made by d2s" in err
    assert (dest / "notes" / "thesis.tex").read_text() == "years of work"


def test_destination_file_or_symlink_is_refused(user_copy, tmp_path, capsys):
    src, _ = user_copy
    afile = tmp_path / "afile"
    afile.write_text("keep")
    code, err = run_cli(place(src, afile), capsys)
    assert code == 2 and "is a file" in err and afile.read_text() == "keep"
    other = tmp_path / "other"
    other.mkdir()
    link = tmp_path / "link"
    link.symlink_to(other)
    code, err = run_cli(place(src, link), capsys)
    assert code == 2 and "symbolic link" in err and link.is_symlink()


def test_a_previous_placement_is_replaced_and_kept_when_the_new_copy_is_bad(
    user_copy, tmp_path, capsys
):
    src, before = user_copy
    dest = tmp_path / "resources" / "ic9600"
    assert run_cli(place(src, dest), capsys)[0] == 0
    # Snakemake deletes the completion marker before re-running the rule: still ours.
    (dest / MARKER).unlink()
    assert run_cli(place(src, dest), capsys)[0] == 0 and read_marker(dest)["total"] == 8
    placed = snapshot(dest)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    code, err = run_cli(place(broken, dest), capsys)
    assert code == 2 and "broken.zip" in err and "re-download" in err
    assert snapshot(dest) == placed  # the verified copy survives a corrupt replacement
    code, err = run_cli(place(src, tmp_path / "resources" / "other"), capsys)
    assert code == 0
    code, err = run_cli(
        ["data", "place", "nagle4k", "--src", src, "--dest", dest, "--no-progress"], capsys
    )
    assert code == 2 and "a placement of ic9600" in err and snapshot(dest) == placed
    assert not list(dest.parent.glob(".*d2s-*"))  # no staging folder left behind
    assert snapshot(src) == before  # replacing a linked placement removes links, not targets


def test_fetch_refuses_a_users_folder_before_downloading(tmp_path, capsys):
    dest = tmp_path / "kadid"
    dest.mkdir()
    (dest / "mine.txt").write_text("keep")
    code, err = run_cli(["data", "fetch", "kadid10k", "--dest", dest, "--no-progress"], capsys)
    assert code == 2 and str(dest) in err and (dest / "mine.txt").read_text() == "keep"


# --- archives: unsafe members, padding, files the layout does not name ----------------------------


def _ic9600_zip(tmp_path: Path, into: Path, extra: dict[str, bytes] | None = None) -> Path:
    tree = write_ic9600(tmp_path / "tree" / "IC9600")
    into.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(into, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(tree.rglob("*")):
            if path.is_file():
                zf.write(path, f"IC9600/{path.relative_to(tree)}")
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return into


def test_tar_with_an_unsafe_member_is_refused_naming_the_archive(tmp_path, capsys):
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tf:
        info = tarfile.TarInfo("IC9600/../../escaped.txt")
        info.size = 4
        tf.addfile(info, io.BytesIO(b"evil"))
    code, err = run_cli(place(archive, tmp_path / "dest"), capsys)
    assert code == 2 and "evil.tar" in err and "unsafe member" in err and "Traceback" not in err
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "dest").exists()


def test_archive_padded_far_beyond_its_size_is_refused(tmp_path, capsys):
    padding = {"IC9600/images/padding.bin": bytes(40 << 20)}  # 40 MB of zeros, ~40 kB zipped
    archive = _ic9600_zip(tmp_path, tmp_path / "padded.zip", padding)
    assert archive.stat().st_size < 1 << 20
    code, err = run_cli(place(archive, tmp_path / "dest"), capsys)
    assert code == 2 and "padded.zip" in err and "decompression bomb" in err
    assert not (tmp_path / "dest").exists()


def test_archive_with_files_the_layout_does_not_name_is_refused(tmp_path, capsys):
    archive = _ic9600_zip(tmp_path, tmp_path / "extra.zip", {"IC9600/images/stow.bin": b"x" * 99})
    code, err = run_cli(place(archive, tmp_path / "dest"), capsys)
    assert code == 2 and "images/stow.bin" in err and "does not name" in err
    assert not (tmp_path / "dest").exists()
    # entries beside the layout are simply not moved
    archive = _ic9600_zip(tmp_path, tmp_path / "readme.zip", {"IC9600/README.md": b"hello"})
    assert run_cli(place(archive, tmp_path / "dest"), capsys)[0] == 0
    assert not (tmp_path / "dest" / "README.md").exists()


def test_zip_traversal_members_stay_inside(tmp_path, capsys):
    archive = _ic9600_zip(tmp_path, tmp_path / "trav.zip", {"../../escaped.txt": b"evil"})
    code, _ = run_cli(place(archive, tmp_path / "d" / "dest"), capsys)
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "d" / "escaped.txt").exists()
    assert code == 0  # zipfile strips '..'; the stray file is not part of the layout, not moved
    assert snapshot(tmp_path / "d" / "dest").keys() >= {"train.txt", "test.txt"}


# --- 3. split integrity in d2s train --------------------------------------------------------------


def test_an_image_in_train_and_test_is_refused_as_inspect_does(tmp_path, capsys):
    from data_fixtures import IC9600_TEST, IC9600_TRAIN

    root = write_ic9600(tmp_path / "ic", test=[*IC9600_TEST, IC9600_TRAIN[0]])
    code, inspect_err = run_cli(["data", "inspect", "ic9600", root, "--no-decode"], capsys)
    assert code == 2
    message = inspect_err.split("error: ", 1)[1].strip()
    assert "is in both train and test" in message
    code, err = run_cli(train_cli(root, tmp_path / "run"), capsys)
    assert code == 2 and message in err
    assert not (tmp_path / "run" / "metrics.json").exists()


@pytest.mark.parametrize("split", ["train", "test"])
def test_an_empty_split_is_refused_up_front_naming_the_file(tmp_path, capsys, split):
    root = write_ic9600(tmp_path / "ic")
    (root / f"{split}.txt").write_text("")
    code, err = run_cli(train_cli(root, tmp_path / "run"), capsys)
    assert code == 2 and f"{root / f'{split}.txt'}: the {split} split is empty" in err
    assert not (tmp_path / "run" / "last.pt").exists()


# --- 4. a message, not a traceback, for every bad value -------------------------------------------


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("lr=0", "'lr' must be a finite number > 0, got 0.0"),
        ("lr=-0.1", "'lr' must be a finite number > 0"),
        ("lr=.nan", "'lr' must be a finite number > 0, got nan"),
        ("lr=nan", "'lr' must be a finite number > 0, got nan"),
        ("buffer_size=1", "'buffer_size' must be at least 2"),
        ("image_size=7", "'image_size' must be at least 32 pixels"),
        ("image_size=1", "'image_size' must be at least 32 pixels"),
        ("device=gpu", "'device': 'gpu' is not a device"),
        ("lr=[", "override 'lr=[': the value is not a valid YAML scalar"),
        ("text_features=/nowhere/f.pt", "'text_features': file /nowhere/f.pt not found"),
    ],
)
def test_bad_values_are_named_with_their_range(tmp_path, capsys, override, expected):
    code, err = run_cli(train_cli(tmp_path, tmp_path / "run", override), capsys)
    assert code == 2 and expected in err and "Traceback" not in err, err


def test_cuda_without_a_gpu_is_refused(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    code, err = run_cli(train_cli(tmp_path, tmp_path / "run", "device=cuda"), capsys)
    assert code == 2 and "'device': 'cuda' asked for" in err and "0 usable CUDA GPU" in err


def test_yaml_syntax_error_names_file_and_line(tmp_path, capsys):
    path = tmp_path / "run.yaml"
    path.write_text("model: d2s-r18\nroot: /data\nepochs: [3\nlr: 0.1\n")
    code, err = run_cli(["train", "--config", path, "--out", tmp_path / "run"], capsys)
    assert code == 2 and f"{path}:4: YAML syntax error" in err and "Traceback" not in err


def test_training_and_scoring_share_the_image_size_rule(tmp_path, capsys):
    from d2s.checkpoint import save_checkpoint
    from d2s.registry import build
    from d2s.train.checks import MIN_IMAGE_SIZE

    model = build("d2s-r18-gap")
    checkpoint = tmp_path / "best.pt"
    payload = {"model_name": "d2s-r18-gap", "model_kwargs": {}, "image_size": 32, "epoch": 1}
    save_checkpoint({**payload, "state_dict": model.state_dict()}, checkpoint, kind="model")
    image = write_ic9600(tmp_path / "ic") / "images" / "abstract_0001.jpg"
    small = MIN_IMAGE_SIZE - 1
    code, score_err = run_cli(
        ["score", image, "--checkpoint", checkpoint, "--image-size", small, "--device", "cpu"],
        capsys,
    )
    code_train, train_err = run_cli(
        train_cli(tmp_path, tmp_path / "r", f"image_size={small}"), capsys
    )
    rule = f"must be at least {MIN_IMAGE_SIZE} pixels (the models downsample 32x), got {small}"
    assert (code, code_train) == (2, 2) and rule in score_err and rule in train_err
    assert run_cli(["score", image, "--checkpoint", checkpoint, "--image-size", 32], capsys)[0] == 0


class Poison:
    """Unpickling this would create ``target``: proof that a loader ran code from a file."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def test_text_features_wrong_format_or_unsafe_are_refused(tmp_path, capsys):
    import torch

    root = write_ic9600(tmp_path / "ic")
    wrong = tmp_path / "wrong.pt"
    torch.save({"features": torch.zeros(2, 512)}, wrong)
    args = ["model=d2s-r18", "use_eal=true", "use_fal=true", "buffer_size=4"]
    code, err = run_cli(train_cli(root, tmp_path / "r", *args, f"text_features={wrong}"), capsys)
    assert code == 2 and f"{wrong}: not a d2s text-feature file" in err
    sentinel = tmp_path / "ran"
    unsafe = tmp_path / "unsafe.pt"
    torch.save({"format": "d2s-text-features/1", "names": Poison(sentinel)}, unsafe)
    code, err = run_cli(train_cli(root, tmp_path / "r", *args, f"text_features={unsafe}"), capsys)
    assert code == 2 and f"{unsafe}: cannot load text features" in err
    assert "nothing in it was executed" in err and not sentinel.exists()
    truncated = tmp_path / "cut.pt"
    good = {"format": "d2s-text-features/1", "names": ["a"], "features": torch.zeros(1, 512)}
    torch.save({**good, "entropy": torch.zeros(1)}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    code, err = run_cli(
        train_cli(root, tmp_path / "r", *args, f"text_features={truncated}"), capsys
    )
    assert code == 2 and f"{truncated}: cannot load text features" in err and "Traceback" not in err


def test_corrupt_text_feature_cache_entry_is_recomputed(tmp_path, text_encoder, capsys):
    from d2s.text.clip import _cache_path, cached_text_features, captions_key

    captions = ["a red square", "a busy street market"]
    fresh = cached_text_features(captions, text_encoder, tmp_path / "a", progress=False)
    entry = _cache_path(tmp_path / "b", captions_key(captions, text_encoder.encoder_id))
    entry.parent.mkdir()
    entry.write_bytes(b"\x80\x02 truncated garbage")
    again = cached_text_features(captions, text_encoder, tmp_path / "b", progress=False)
    assert f"{entry}: unreadable text-feature cache entry" in capsys.readouterr().err
    assert again["features"].equal(fresh["features"])
    assert cached_text_features(captions, text_encoder, tmp_path / "b")["entropy"].equal(
        fresh["entropy"]
    )


def test_poisoned_checkpoints_run_nothing_through_every_loader(tmp_path, capsys):
    """score, export, evaluate and train's resume all load with weights_only and say why, in full."""
    import torch

    sentinel = tmp_path / "ran"
    poisoned = tmp_path / "poisoned.pt"
    torch.save({"format": "d2s-suite-checkpoint", "payload": Poison(sentinel)}, poisoned)
    root = write_ic9600(tmp_path / "ic")
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.pt").write_bytes(poisoned.read_bytes())
    commands = [
        ["score", root / "images", "--checkpoint", poisoned],
        ["export", poisoned, "--format", "torchscript", "--out", tmp_path / "m.pt"],
        ["evaluate", poisoned, "--dataset", "ic9600", "--root", root],
        train_cli(root, run),
    ]
    for argv in commands:
        code, err = run_cli(argv, capsys)
        assert code == 2, (argv, err)
        assert "holds pickled Python objects (posix.system)" in err, err
        assert err.rstrip().endswith("nothing in it was executed"), err  # complete, not cut
    assert not sentinel.exists()
