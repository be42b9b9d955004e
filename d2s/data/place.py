"""Placing user-supplied datasets (IC9600, Nagle4k, VISC-C, VISC-CI) where the workflow reads them.

The user gives a folder or (IC9600) a .zip / .tar(.gz) archive. An archive is unpacked; a folder is
linked, not copied: ``dest`` becomes a real folder whose entries are symbolic links to the user's
files, so the completion marker lands in ``dest`` and the user's folder is never written to. The
new folder is built and verified in a staging folder beside ``dest`` and swapped in only then
(:mod:`d2s.data.staging`): ``dest`` may be replaced only when it is empty or a verified previous
placement of the same dataset, and ``--src`` and ``--dest`` may not overlap in any way.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from d2s.data.fetch import assemble, locate
from d2s.data.records import DatasetError
from d2s.data.registry import get_spec, load_items
from d2s.data.staging import (
    PLACED,
    check_apart,
    check_replaceable,
    fresh_staging,
    mark_placed,
    swap_in,
)
from d2s.data.unpack import unpack
from d2s.data.user_sets import IMAGES_DIR, LABELS_FILE
from d2s.data.validate import MARKER, read_marker, verify_complete, write_marker

REQUIRED: dict[str, list[tuple[str, ...]]] = {
    "ic9600": [("images",), ("train.txt",), ("test.txt",)],
    "nagle4k": [(LABELS_FILE,), (IMAGES_DIR,)],
    "visc-c": [(LABELS_FILE,), (IMAGES_DIR,)],
    "visc-ci": [(LABELS_FILE,), (IMAGES_DIR,)],
}
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tgz", ".tar.gz")


def missing_message(dataset: str, dest: str | os.PathLike | None = None) -> str:
    """What a user reads when a user-supplied dataset is absent: where to get it, where to put it."""
    spec = get_spec(dataset)
    return (
        f"{spec.title} is missing. {spec.how_to_get}. Expected layout: {spec.layout}. Then set "
        f"datasets.{spec.name}.path in workflow/config/config.yaml to that folder, or run "
        f"'d2s data place {spec.name} --src PATH --dest {dest or 'DIR'}'."
    )


def unnamed_files(dataset: str, root: Path) -> list[Path]:
    """Files under ``root`` that the dataset's layout does not name (no item lists them)."""
    spec = get_spec(dataset)
    named = {
        item.path.resolve()
        for split in spec.splits or (None,)
        for item in load_items(spec.name, root, split)
    }
    extra = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.parent != root and path.resolve() not in named:
            extra.append(path)
    return extra


def place_dataset(
    dataset: str,
    src: str | os.PathLike | None,
    dest: str | os.PathLike,
    progress: bool = True,
    strict_count: bool = True,
) -> dict:
    """Verify the user's copy of ``dataset`` at ``src``, link or unpack it to ``dest``, mark it.

    ``strict_count=False`` accepts a subset of the official image count (e.g. the demo set).
    Raises :class:`DatasetError` (and changes nothing) when ``src`` and ``dest`` overlap, when
    ``dest`` holds anything but a previous placement of ``dataset``, or when the copy fails a check.
    """
    spec = get_spec(dataset)
    if spec.name not in REQUIRED:
        raise DatasetError(
            f"{spec.title} is downloaded, not placed: 'd2s data fetch {spec.name} --dest DIR'"
        )
    dest = Path(dest)
    if src is None or not Path(src).exists():
        given = f" (not found: {src})" if src is not None else ""
        raise DatasetError(missing_message(spec.name, dest) + given)
    check_apart(src, dest)
    check_replaceable(dest, spec.name)
    src = Path(src).resolve()
    required = REQUIRED[spec.name]
    if src.is_file() and not src.name.lower().endswith(ARCHIVE_SUFFIXES):
        raise DatasetError(f"{src}: not a folder or a .zip/.tar archive")
    staging = fresh_staging(dest)
    try:
        if src.is_file():
            unpacked = dest.parent / f".{dest.name}.unpack"
            shutil.rmtree(unpacked, ignore_errors=True)
            try:
                unpack(src, unpacked, progress)
                assemble(spec.name, unpacked, staging, required)
            finally:
                shutil.rmtree(unpacked, ignore_errors=True)
        else:
            for path in locate(required, src, f"{src} (expected {spec.layout})"):
                check_apart(path, dest)  # e.g. src/images a link into dest
                (staging / path.name).symlink_to(path.resolve())
        try:
            summary = verify_complete(
                spec.name, staging, progress=progress, strict_count=strict_count
            )
            extra = unnamed_files(spec.name, staging) if src.is_file() else []
        except DatasetError as err:
            raise DatasetError(f"{err} [checked in {staging}; {dest} was left as it was]") from err
        if extra:
            shown = ", ".join(str(p.relative_to(staging)) for p in extra[:3])
            raise DatasetError(
                f"{src}: {len(extra)} file(s) that the {spec.title} layout ({spec.layout}) does "
                f"not name, e.g. {shown}; nothing was placed. Remove them from the archive, or "
                "unpack it yourself and place the folder (a folder is linked, extras are ignored)"
            )
        write_marker(spec.name, staging, summary, subset=not strict_count)
        mark_placed(staging, spec.name, str(src))
        swap_in(staging, dest, spec.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # links only: never the user's files
    return read_marker(dest) or {}


__all__ = ["MARKER", "PLACED", "REQUIRED", "missing_message", "place_dataset", "unnamed_files"]
