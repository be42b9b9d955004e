"""The record every loader returns, and the error every loader raises.

Kept free of torch so that ``d2s data inspect`` starts quickly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path


class DatasetError(ValueError):
    """A dataset on disk is missing, incomplete or malformed. The message names the file (and line)."""


@dataclass(frozen=True)
class Item:
    """One labelled image.

    ``name`` is the key written to split files (relative to the dataset's image folder, so it may
    contain spaces or a ``/``); ``path`` is the image on disk; ``label`` is on the [0, 1] scale,
    higher = more complex (ICA) or better quality (IQA); ``category`` is the dataset's own grouping
    (IC9600 / Savoias category) or ``None``.
    """

    name: str
    path: Path
    label: float
    category: str | None = None


def where(path: Path | str, line: int | None = None) -> str:
    """``file`` or ``file:line`` for error messages (lines are 1-based, as editors count them)."""
    return f"{path}:{line}" if line is not None else str(path)


def parse_float(text: str, path: Path | str, line: int | None = None) -> float:
    """``float(text)`` that raises :class:`DatasetError` naming the file and line."""
    try:
        value = float(text)
    except ValueError:
        raise DatasetError(f"{where(path, line)}: score {text!r} is not a number") from None
    if not math.isfinite(value):
        raise DatasetError(f"{where(path, line)}: score {text!r} is not finite")
    return value


def check_range(
    value: float, low: float, high: float, path: Path | str, line: int | None = None
) -> float:
    """Return ``value`` if ``low <= value <= high``, else raise naming the file and line."""
    if not low <= value <= high:
        raise DatasetError(f"{where(path, line)}: label {value!r} out of range [{low:g}, {high:g}]")
    return value


def check_unique(items: list[Item], source: Path | str) -> list[Item]:
    """Raise if two items share a name (a duplicated line would count an image twice)."""
    seen: set[str] = set()
    for item in items:
        if item.name in seen:
            raise DatasetError(f"{source}: image {item.name!r} is listed more than once")
        seen.add(item.name)
    return items


def require_file(path: Path, what: str) -> Path:
    """Return ``path`` if it is a file, else raise saying what was expected there."""
    if not path.is_file():
        raise DatasetError(f"{path}: missing {what}")
    return path


def require_images_exist(items: list[Item], source: Path | str) -> list[Item]:
    """Raise on the first item whose image file is absent (cheap: no decoding)."""
    for item in items:
        if not item.path.is_file():
            raise DatasetError(f"{source}: image {item.name!r} listed but missing: {item.path}")
    return items


def read_csv(path: Path, columns: tuple[str, ...]):
    """Read a CSV as strings (so a bad score is reported by line, not coerced), checking columns."""
    import pandas as pd

    if not path.is_file():
        raise DatasetError(f"{path}: missing label file")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as err:  # pandas raises several parser error types
        raise DatasetError(f"{path}: cannot parse as CSV ({err})") from err
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DatasetError(f"{path}: missing column(s) {missing} (has {list(frame.columns)})")
    return frame
