"""Where a command may write: the one output policy of every ``d2s`` command.

Checked when a command starts, before any work is spent, so a refusal costs nothing and changes
nothing on disk:

- an output that is one of the command's inputs, or lies inside one of its input folders or
  inside a dataset folder, is refused even with ``--force`` (it would destroy what the command
  reads, or a dataset's own files);
- an output that exists and was not made by the suite (no suite envelope or marker, see
  ``ours``) is refused unless ``--force``;
- a folder in which nothing can be written is refused up front (no work is lost at the end).

The writes themselves stay atomic (:mod:`d2s.core.io`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

#: Files that make a folder a dataset: the completion and placement markers of
#: ``d2s data fetch/place``, the demo's marker, and the label files of the supported layouts
#: (docs/design.md §3). An output inside such a folder would change what every run reads.
DATASET_FILES = (
    ".d2s-verified.json",
    ".d2s-placed.json",
    ".d2s-demo.json",
    "train.txt",
    "test.txt",
    "labels.csv",
    "dmos.csv",
    "mos_with_names.txt",
    "koniq10k_scores_and_distributions.csv",
)


class OutputRefused(ValueError):
    """An output the policy refuses; the message names it (one line, exit status 2)."""


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def dataset_folder(path: str | os.PathLike) -> Path | None:
    """The dataset folder ``path`` is in (or is), found by its label files or markers; else None."""
    real = Path(path).resolve()
    for folder in (real, *real.parents):
        if folder.is_dir() and (folder / "images").is_dir():
            if any((folder / name).is_file() for name in DATASET_FILES):
                return folder
        elif folder.is_dir() and any((folder / name).is_file() for name in DATASET_FILES[:3]):
            return folder
    return None


def name_of(path: str | os.PathLike) -> str:
    """``path`` printable on any terminal (a non-UTF-8 name shows its escapes, not a crash)."""
    return str(path).encode("utf-8", "backslashreplace").decode("utf-8")


def check_output(
    path: str | os.PathLike,
    *,
    command: str,
    inputs: Iterable[str | os.PathLike] = (),
    force: bool = False,
    ours: Callable[[Path], bool] | None = None,
    option: str = "--out",
    folder: bool = False,
    hint: str = "Choose a new name, or pass --force to replace it",
) -> Path:
    """Refuse ``path`` as an output of ``command`` (see the module docstring); return it.

    ``inputs``: the files and folders the command reads. ``ours(path)``: whether an existing
    ``path`` carries the envelope or marker of ``command``'s own output (replaced without
    ``--force``). ``folder``: the output is a folder (an empty one is free to use). ``hint``:
    what to do instead, for a refused existing output.
    """
    path = Path(path)
    shown = name_of(path)
    try:
        os.fsencode(path)
        str(path).encode("utf-8")
    except UnicodeError:
        raise OutputRefused(
            f"{option} {shown}: the name is not valid UTF-8; choose a plain name"
        ) from None
    real = path.resolve()
    for given in inputs:
        source = Path(given).resolve()
        if real == source or (source.is_dir() and _inside(real, source)):
            raise OutputRefused(
                f"{option} {shown} is {'inside ' if real != source else ''}an input of "
                f"d2s {command} ({name_of(given)}); nothing was written. Choose another {option}"
            )
    mine = path.exists() and not path.is_symlink() and ours is not None and ours(path)
    dataset = None if mine else dataset_folder(real)
    if dataset is not None:
        where = "is" if dataset == real else "lies inside"
        raise OutputRefused(
            f"{option} {shown} {where} the dataset folder {name_of(dataset)}; nothing was "
            f"written. Outputs never go into a dataset: choose another {option}"
        )
    if path.is_symlink() and not path.exists():
        raise OutputRefused(
            f"{option} {shown} is a broken symbolic link; remove it or choose another"
        )
    if path.exists():
        if folder and not path.is_dir():
            raise OutputRefused(f"{option} {shown} is a file; give a folder")
        if not folder and path.is_dir():
            raise OutputRefused(f"{option} {shown} is a folder; give a file name")
        # empty sub-folders (e.g. those Snakemake makes for a rule's outputs) hold nothing to lose
        empty = folder and not any(files for _, _, files in os.walk(path))
        if not (empty or force or mine):
            raise OutputRefused(
                f"{option} {shown} already exists and was not made by d2s {command}; nothing "
                f"was written. {hint}"
            )
    writable_parent(path if folder and path.is_dir() else path.parent, option, shown)
    return path


def writable_parent(folder: Path, option: str, shown: str) -> None:
    """Refuse when ``folder`` (or the nearest existing folder above it) cannot be written."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputRefused(f"{option} {shown}: {name_of(existing)} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputRefused(
            f"{option} {shown}: cannot write in {name_of(existing)} (permission denied)"
        )


def first_line_is(header: str, prefix: bool = False) -> Callable[[Path], bool]:
    """``ours`` for a text output whose first line is the suite's own header (or, with
    ``prefix``, starts with it)."""

    def check(path: Path) -> bool:
        try:
            with open(path, encoding="utf-8") as handle:
                line = handle.readline().rstrip("\n")
                return line.startswith(header) if prefix else line == header
        except (OSError, UnicodeDecodeError):
            return False

    return check


def has_marker(name: str) -> Callable[[Path], bool]:
    """``ours`` for an output folder that holds the suite's marker file ``name``."""
    return lambda path: (path / name).is_file()
