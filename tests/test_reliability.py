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
from data_fixtures import write_ic9600

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
    src, _ = user_copy
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
