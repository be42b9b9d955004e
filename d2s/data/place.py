"""Placing user-supplied datasets (IC9600, Nagle4k, VISC-C, VISC-CI) where the workflow reads them.

The user gives a folder or (IC9600) a .zip / .tar(.gz) archive. An archive is unpacked; a folder is
linked, not copied: ``dest`` becomes a real folder whose entries are symbolic links to the user's
files, so the completion marker lands in ``dest`` and the user's folder is never written to. The
set is then verified like a download and the marker written last.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from d2s.data.fetch import assemble, locate, unpack
from d2s.data.records import DatasetError
from d2s.data.registry import get_spec
from d2s.data.user_sets import IMAGES_DIR, LABELS_FILE
from d2s.data.validate import read_marker, verify_complete, write_marker

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


def place_dataset(
    dataset: str,
    src: str | os.PathLike | None,
    dest: str | os.PathLike,
    progress: bool = True,
    strict_count: bool = True,
) -> dict:
    """Verify the user's copy of ``dataset`` at ``src``, link or unpack it to ``dest``, mark it.

    ``strict_count=False`` accepts a subset of the official image count (e.g. the demo set).
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
    src = Path(src).resolve()
    required = REQUIRED[spec.name]
    if src.is_file():
        if not src.name.lower().endswith(ARCHIVE_SUFFIXES):
            raise DatasetError(f"{src}: not a folder or a .zip/.tar archive")
        staging = dest.parent / f".{dest.name}.unpack"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            unpack(src, staging, progress)
            assemble(spec.name, staging, dest, required)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    else:
        found = locate(required, src, f"{src} (expected {spec.layout})")
        if dest.is_symlink() or dest.is_file():
            dest.unlink()
        elif dest.exists():
            if dest.resolve() == src:
                raise DatasetError(f"--src and --dest are the same folder: {src}")
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        for path in found:
            (dest / path.name).symlink_to(path.resolve())
    summary = verify_complete(spec.name, dest, progress=progress, strict_count=strict_count)
    write_marker(spec.name, dest, summary)
    return read_marker(dest) or {}
