"""Whole-dataset checks: every image decodes, counts match, and the completion marker.

A dataset folder counts as complete only when it holds the marker file, which is written last,
after every check has passed; a download or unpack interrupted before that is never taken for a
complete one.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

from d2s.data.records import DatasetError, Item

MARKER = ".d2s-verified.json"


def check_image(path: Path) -> None:
    """Decode ``path`` fully; raise :class:`DatasetError` naming it if it is missing or broken.

    ``Image.open`` reads only the header, so ``load()`` forces a full decode: a truncated JPEG
    fails here (Pillow's ``LOAD_TRUNCATED_IMAGES`` is left off on purpose).
    """
    from PIL import Image

    if not path.is_file():
        raise DatasetError(f"{path}: image file missing")
    try:
        with Image.open(path) as image:
            image.load()
    except Exception as err:  # Pillow raises OSError, SyntaxError, ValueError... for bad files
        raise DatasetError(f"{path}: cannot decode image ({type(err).__name__}: {err})") from err


def check_decodable(items: list[Item], progress: bool = False, desc: str = "decode") -> None:
    """Decode every item's image (the slow, thorough check)."""
    from tqdm import tqdm

    for item in tqdm(items, desc=desc, unit="img", disable=not progress, leave=False):
        check_image(item.path)


def check_disjoint(splits: dict[str, list[Item]], where: str | os.PathLike) -> None:
    """Refuse an image listed twice: in two splits (a test image seen in training) or one twice.

    Shared by ``d2s data inspect`` and ``d2s train``, so both say the same thing.
    """
    seen: dict[str, str] = {}
    for split, items in splits.items():
        for item in items:
            if item.name in seen:
                raise DatasetError(
                    f"{where}: image {item.name!r} is in both {seen[item.name]} and {split}"
                )
            seen[item.name] = split


def summarize(dataset: str, root: str | os.PathLike, decode: bool = True, progress: bool = False):
    """Validate ``root`` as ``dataset`` and return ``{split: count, ...}``.

    For IC9600 the result also holds ``"categories": {split: {category: count}}``. Raises
    :class:`DatasetError` on the first problem found.
    """
    from d2s.data.registry import get_spec, load_items

    spec = get_spec(dataset)
    splits = spec.splits or ("all",)
    summary: dict = {}
    categories: dict[str, dict[str, int]] = {}
    by_split = {split: load_items(spec.name, root, split) for split in splits}
    check_disjoint(by_split, root)
    for split, items in by_split.items():
        if decode:
            check_decodable(items, progress=progress, desc=f"{spec.name} {split}")
        summary[split] = len(items)
        if spec.name == "ic9600":
            categories[split] = dict(sorted(Counter(i.category for i in items).items()))
    if categories:
        summary["categories"] = categories
    return summary


def total(summary: dict) -> int:
    return sum(v for k, v in summary.items() if isinstance(v, int))


def verify_complete(
    dataset: str, root: str | os.PathLike, progress: bool = False, strict_count: bool = True
) -> dict:
    """Full check of a finished download/placement, including (``strict_count``) the image count."""
    from d2s.data.registry import get_spec

    spec = get_spec(dataset)
    summary = summarize(spec.name, root, decode=True, progress=progress)
    if strict_count and spec.expected is not None and total(summary) != spec.expected:
        raise DatasetError(
            f"{root}: {spec.title} should have {spec.expected} images, found {total(summary)} "
            "(incomplete or wrong version)"
        )
    return summary


def write_marker(
    dataset: str, root: str | os.PathLike, summary: dict, subset: bool = False
) -> Path:
    """Record a verified dataset; call this last.

    ``subset``: the image count was not checked against the official one (recorded with that
    count, so every later output can tell a trial subset from the full set).
    """
    from d2s.core.io import atomic_write_text
    from d2s.data.registry import get_spec

    path = Path(root) / MARKER
    record = {
        "dataset": dataset,
        "counts": summary,
        "total": total(summary),
        "subset": bool(subset),
        "expected": get_spec(dataset).expected,
    }
    atomic_write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", path)
    return path


def read_marker(root: str | os.PathLike) -> dict | None:
    """The marker's record, or ``None`` when the folder was never verified."""
    path = Path(root) / MARKER
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))
