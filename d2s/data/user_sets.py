"""User-supplied complexity sets: Nagle4k and VISC-C / VISC-CI.

No scriptable host was found for these (docs/design.md §3), so the suite defines one documented layout
that other projects use for VISC: ``ROOT/labels.csv`` with columns ``image,score`` and the images
under ``ROOT/images/`` (``image`` is relative to it). Higher score = more complex.

- VISC-C / VISC-CI: scores already on [0, 1] (observed about 0.16-0.85); label = score.
- Nagle4k (Nagle & Lavie 2020, 4,000 PASCAL VOC images): TrueSkill ratings on an arbitrary scale;
  label = min-max over the file, ``(s - min) / (max - min)``.
"""

from __future__ import annotations

import os
from pathlib import Path

from d2s.data.records import (
    DatasetError,
    Item,
    check_range,
    check_unique,
    parse_float,
    read_csv,
)

LABELS_FILE = "labels.csv"
IMAGES_DIR = "images"


def _read_labels(root: Path) -> tuple[Path, list[tuple[str, float, int]]]:
    source = root / LABELS_FILE
    frame = read_csv(source, ("image", "score"))
    rows = []
    for index, (name, raw) in enumerate(zip(frame["image"], frame["score"], strict=True)):
        line = index + 2
        if not name.strip():
            raise DatasetError(f"{source}:{line}: empty image name")
        rows.append((name, parse_float(raw, source, line), line))
    if not rows:
        raise DatasetError(f"{source}: no rows")
    return source, rows


def _to_items(root: Path, source: Path, rows: list[tuple[str, float, int]]) -> list[Item]:
    items = []
    for name, label, line in rows:
        path = root / IMAGES_DIR / name
        if not path.is_file():
            raise DatasetError(f"{source}:{line}: image {name!r} not found at {path}")
        items.append(Item(name=name, path=path, label=label))
    return check_unique(items, source)


def load_visc(root: str | os.PathLike, split: str | None = None) -> list[Item]:
    """VISC-C or VISC-CI in the ``labels.csv`` layout; scores must already lie in [0, 1]."""
    if split not in (None, "all"):
        raise DatasetError(f"VISC has no official split {split!r}; use the whole set")
    root = Path(root)
    source, rows = _read_labels(root)
    rows = [(n, check_range(s, 0.0, 1.0, source, line), line) for n, s, line in rows]
    return _to_items(root, source, rows)


def load_nagle4k(root: str | os.PathLike, split: str | None = None) -> list[Item]:
    """Nagle4k in the ``labels.csv`` layout; TrueSkill scores are min-max mapped to [0, 1]."""
    if split not in (None, "all"):
        raise DatasetError(f"Nagle4k has no official split {split!r}; use the whole set")
    root = Path(root)
    source, rows = _read_labels(root)
    scores = [s for _, s, _ in rows]
    low, high = min(scores), max(scores)
    if high <= low:
        raise DatasetError(f"{source}: all scores equal ({low}); cannot min-max normalise")
    rows = [(n, (s - low) / (high - low), line) for n, s, line in rows]
    return _to_items(root, source, rows)
