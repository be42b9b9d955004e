"""NR-IQA sets in their official layouts: KADID-10K, KonIQ-10K, TID2013.

Labels go to [0, 1] with higher = better quality, by the affine map of each set's published scale
(below). For NR-IQA training docs/design.md §3 asks for min-max normalised MOS: that is done when the split
files are written (:func:`d2s.data.splits.nriqa_splits`), not here, so loaders stay a fixed map.
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


def _items(
    rows: list[tuple[str, str, int]], images: Path, source: Path, low: float, high: float
) -> list[Item]:
    """``(name, raw score, line)`` rows -> items with labels ``(x - low) / (high - low)``."""
    items = []
    for name, raw, line in rows:
        score = check_range(parse_float(raw, source, line), low, high, source, line)
        path = images / name
        if not path.is_file():
            raise DatasetError(f"{source}:{line}: image {name!r} not found at {path}")
        items.append(Item(name=name, path=path, label=(score - low) / (high - low)))
    return check_unique(items, source)


def _no_split(dataset: str, split: str | None) -> None:
    if split not in (None, "all"):
        raise DatasetError(
            f"{dataset} has no official split {split!r}; write seeded 6:2:2 splits with "
            "'d2s data splits ... --kind nriqa'"
        )


def load_kadid10k(root: str | os.PathLike, split: str | None = None) -> list[Item]:
    """KADID-10K (Lin, Hosu & Saupe 2019): ``ROOT/dmos.csv`` + ``ROOT/images/``.

    ``dmos.csv`` columns ``dist_img,ref_img,dmos,var`` (e.g. ``I01_01_01.png,I01.png,4.57,0.496``);
    despite its name the score is a MOS on 1-5, higher = better. Label = ``(dmos - 1) / 4``.
    10,125 distorted images (81 references x 25 distortions x 5 levels).
    """
    _no_split("KADID-10K", split)
    root = Path(root)
    source = root / "dmos.csv"
    frame = read_csv(source, ("dist_img", "dmos"))
    rows = [
        (n, s, i + 2) for i, (n, s) in enumerate(zip(frame["dist_img"], frame["dmos"], strict=True))
    ]
    return _items(rows, root / "images", source, 1.0, 5.0)


#: KonIQ-10K score files, in the order they are looked for. The first is the official metadata
#: file (KonIQ-10K site, ``koniq10k_scores_and_distributions.zip``); the second ships with the
#: official split information and has the same score columns.
KONIQ_SCORE_FILES = ("koniq10k_scores_and_distributions.csv", "koniq10k_distributions_sets.csv")
#: Image folders, in order of preference: the 512x384 release is what IQA training uses (and what
#: pyiqa's loader reads); the 1024x768 release is used when it is the only one present.
KONIQ_IMAGE_DIRS = ("512x384", "1024x768")


def load_koniq10k(root: str | os.PathLike, split: str | None = None) -> list[Item]:
    """KonIQ-10K (Hosu et al. 2020): score CSV + ``ROOT/512x384/`` (or ``ROOT/1024x768/``).

    Official CSV columns: ``image_name,c1..c5,c_total,MOS,SD,MOS_zscore``. ``MOS`` is the mean
    of 1-5 ratings; ``MOS_zscore`` is the same on the 0-100 scale that papers (and pyiqa) report.
    Label = ``MOS_zscore / 100`` when that column is present, else ``(MOS - 1) / 4``; either way
    higher = better. 10,073 images.
    """
    _no_split("KonIQ-10K", split)
    root = Path(root)
    source = next((root / f for f in KONIQ_SCORE_FILES if (root / f).is_file()), None)
    if source is None:
        raise DatasetError(f"{root}: missing KonIQ-10K score file (one of {KONIQ_SCORE_FILES})")
    images = next((root / d for d in KONIQ_IMAGE_DIRS if (root / d).is_dir()), None)
    if images is None:
        raise DatasetError(f"{root}: missing KonIQ-10K image folder (one of {KONIQ_IMAGE_DIRS})")
    frame = read_csv(source, ("image_name",))
    if "MOS_zscore" in frame.columns:
        column, low, high = "MOS_zscore", 0.0, 100.0
    elif "MOS" in frame.columns:
        column, low, high = "MOS", 1.0, 5.0
    else:
        raise DatasetError(f"{source}: no 'MOS_zscore' or 'MOS' column")
    names = frame["image_name"]
    rows = [(n, s, i + 2) for i, (n, s) in enumerate(zip(names, frame[column], strict=True))]
    return _items(rows, images, source, low, high)


def load_tid2013(root: str | os.PathLike, split: str | None = None) -> list[Item]:
    """TID2013 (Ponomarenko et al. 2015): ``ROOT/mos_with_names.txt`` + ``ROOT/distorted_images/``.

    Each line ``<mos> <name>`` (e.g. ``5.51429 i01_01_1.bmp``); MOS on the 0-9 scale of the
    experiment (observed range about 0.2-7.2), higher = better. Label = ``mos / 9``. The archive
    mixes upper- and lower-case file names (``i25`` / ``I25``), so names are matched without
    regard to case when the exact name is absent. 3,000 distorted images.
    """
    _no_split("TID2013", split)
    root = Path(root)
    source = root / "mos_with_names.txt"
    if not source.is_file():
        raise DatasetError(f"{source}: missing label file")
    images = root / "distorted_images"
    if not images.is_dir():
        raise DatasetError(f"{images}: missing image folder")
    by_lower = {p.name.lower(): p.name for p in images.iterdir()}
    rows = []
    with source.open(encoding="utf-8", errors="replace") as handle:
        for line_no, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 2:
                raise DatasetError(
                    f"{source}:{line_no}: malformed line {line!r}: expected '<mos> <name>'"
                )
            mos, name = parts
            if not (images / name).is_file():
                name = by_lower.get(name.lower(), name)
            rows.append((name, mos, line_no))
    return _items(rows, images, source, 0.0, 9.0)
