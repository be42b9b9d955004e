"""Building a dataset folder without ever touching what the user made.

``d2s data fetch`` and ``d2s data place`` build the new folder in a staging folder beside the
destination, verify it there, and only then swap it in. What they may replace is limited to a
folder they made themselves: a previous placement of the same dataset (it holds the placement
record :data:`PLACED`, written once its content was verified) or an empty folder. Anything else —
the user's own copy, a folder of another dataset, a file, a symbolic link — is refused with a
message naming it, and nothing is written or deleted.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from d2s.data.records import DatasetError

#: Written into a folder that fetch/place built and verified. Unlike the completion marker
#: (``.d2s-verified.json``, which Snakemake deletes before re-running the rule that makes it),
#: it survives a re-run and tells "ours, safe to replace" from "the user's".
PLACED = ".d2s-placed.json"


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_apart(src: str | os.PathLike, dest: str | os.PathLike, option: str = "--src") -> None:
    """Refuse when ``src`` and ``dest`` are the same, or one lies inside the other.

    Both are resolved first (relative paths, ``..`` and symbolic links), so every spelling of the
    same place is caught. Placing must never write into, or delete, the user's folder.
    """
    real_src, real_dest = Path(src).resolve(), Path(dest).resolve()
    if real_src == real_dest:
        raise DatasetError(
            f"{option} {src} and --dest {dest} are the same folder ({real_src}); nothing was "
            "changed. Give --dest a new folder outside your copy, e.g. resources/datasets/NAME "
            "(or point datasets.NAME.path at your copy and let the workflow place it there)"
        )
    if _inside(real_src, real_dest):
        raise DatasetError(
            f"{option} {src} lies inside --dest {dest}; nothing was changed. Placing replaces "
            "--dest, which would delete your copy: move your copy out of it, or choose another "
            "--dest (in the workflow: datasets.NAME.path must not lie inside "
            "resources/datasets/NAME)"
        )
    if _inside(real_dest, real_src):
        raise DatasetError(
            f"--dest {dest} lies inside {option} {src}; nothing was changed. Your folder is never "
            "written to: choose a --dest outside it"
        )


def placed_dataset(folder: Path) -> str | None:
    """The dataset a previous fetch/place verified in ``folder`` (``None`` if not one of ours)."""
    from d2s.data.validate import read_marker

    for record_file in (PLACED, None):
        try:
            record = (
                json.loads((folder / record_file).read_text(encoding="utf-8"))
                if record_file
                else read_marker(folder)
            )
        except (OSError, ValueError):
            record = None
        if isinstance(record, dict) and isinstance(record.get("dataset"), str):
            return record["dataset"]
    return None


def entries(folder: Path) -> list[str]:
    """Files and links under ``folder`` (links listed, never followed), relative, sorted."""
    found = []
    for parent, dirs, files in os.walk(folder):
        links = [d for d in dirs if os.path.islink(os.path.join(parent, d))]
        found += [os.path.relpath(os.path.join(parent, n), folder) for n in [*files, *links]]
    return sorted(found)


def added_files(folder: Path) -> list[str]:
    """What lies in a placement that the placement did not put there (the user's additions).

    The placement record lists what it made; a record without that list (older suite versions)
    is trusted only for a folder of links and markers, which is all a linked placement holds.
    """
    from d2s.data.validate import MARKER

    try:
        made = json.loads((folder / PLACED).read_text(encoding="utf-8")).get("entries")
    except (OSError, ValueError, AttributeError):
        made = None
    if isinstance(made, list):
        return [name for name in entries(folder) if name not in {*made, PLACED, MARKER}]
    return [
        entry.name
        for entry in folder.iterdir()
        if entry.name not in (PLACED, MARKER) and not entry.is_symlink()
    ]


def check_replaceable(dest: Path, dataset: str) -> None:
    """Refuse a ``dest`` that is not absent, empty, or a previous placement of ``dataset``."""
    if dest.is_symlink():
        raise DatasetError(
            f"--dest {dest} is a symbolic link (to {os.readlink(dest)}); nothing was changed. "
            "Give a real folder path, or remove the link yourself"
        )
    if not dest.exists():
        return
    if not dest.is_dir():
        raise DatasetError(f"--dest {dest} is a file; nothing was changed. Give a folder path")
    if not any(dest.iterdir()):
        return
    owner = placed_dataset(dest)
    added = added_files(dest) if owner == dataset else []
    if added:
        raise DatasetError(
            f"--dest {dest} holds {len(added)} file(s) the placement did not make, e.g. "
            f"{added[0]}; nothing was changed. Move them out of it first"
        )
    if owner == dataset:
        return
    what = f"a placement of {owner}" if owner else "not a folder made by d2s data fetch/place"
    raise DatasetError(
        f"--dest {dest} is not empty and is {what}; nothing was changed. Choose an empty or new "
        "folder, or move its content away yourself if it may go"
    )


def staging_paths(dest: Path) -> tuple[Path, Path]:
    """``(staging, retired)``: hidden folders beside ``dest`` for the new and the replaced copy."""
    return dest.parent / f".{dest.name}.d2s-staging", dest.parent / f".{dest.name}.d2s-old"


def fresh_staging(dest: Path) -> Path:
    """An empty staging folder beside ``dest`` (a leftover of a killed run is ours: removed)."""
    staging, retired = staging_paths(dest)
    for leftover in (staging, retired):
        if leftover.is_symlink() or leftover.is_file():
            leftover.unlink()
        elif leftover.exists():
            shutil.rmtree(leftover)  # never follows links: a linked placement's targets stay
    staging.mkdir(parents=True)
    return staging


def mark_placed(folder: Path, dataset: str, source: str) -> None:
    from d2s.core.io import atomic_write_text

    # what the placement made: a later placement replaces the folder only if nothing was added
    record = {"dataset": dataset, "source": source, "entries": entries(folder)}
    atomic_write_text(json.dumps(record, indent=2) + "\n", folder / PLACED)


def swap_in(staging: Path, dest: Path, dataset: str) -> None:
    """Replace ``dest`` (checked by :func:`check_replaceable`) with the verified ``staging``."""
    check_replaceable(dest, dataset)  # again: the folder may have changed since the first check
    _, retired = staging_paths(dest)
    if dest.exists():
        os.replace(dest, retired)
    os.replace(staging, dest)
    if retired.exists():
        shutil.rmtree(retired)
