"""NR-IQA sets in their official layouts: KADID-10K, KonIQ-10K, TID2013.

Labels go to [0, 1] with higher = better quality, by the affine map of each set's published scale
(below). Each set's labels come from its official label file or, for a copy fetched from pyiqa's
mirror, from pyiqa's meta-info CSV (:data:`META_INFO`), which the fetch places beside the images;
the official file wins when both are present. For NR-IQA training docs/design.md §3 asks for min-max normalised MOS: that is done when the split
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


#: pyiqa's label file of each set (repository ``chaofengc/IQA-PyTorch-Datasets-metainfo``;
#: pyiqa 0.1.16 ``default_dataset_configs.yml``): file, name column, score column, score range.
#: Same scales as the official files (KonIQ-10K: the 0-100 MOS that pyiqa reports).
META_INFO = {
    "kadid10k": ("meta_info_KADID10kDataset.csv", "dist_name", "dmos", 1.0, 5.0),
    "koniq10k": ("meta_info_KonIQ10kDataset.csv", "img_name", "mos", 0.0, 100.0),
    "tid2013": ("meta_info_TID2013Dataset.csv", "dist_name", "mos", 0.0, 9.0),
}


def _meta_rows(dataset: str, root: Path) -> tuple[Path, list[tuple[str, str, int]]] | None:
    """``(file, rows)`` from pyiqa's meta-info CSV in ``root``, or ``None`` when it is absent."""
    name, name_column, score_column, _, _ = META_INFO[dataset]
    source = root / name
    if not source.is_file():
        return None
    frame = read_csv(source, (name_column, score_column))
    pairs = zip(frame[name_column], frame[score_column], strict=True)
    return source, [(n, s, i + 2) for i, (n, s) in enumerate(pairs)]


def load_kadid10k(root: str | os.PathLike, split: str | None = None) -> list[Item]:
    """KADID-10K (Lin, Hosu & Saupe 2019): ``ROOT/dmos.csv`` + ``ROOT/images/``.

    ``dmos.csv`` columns ``dist_img,ref_img,dmos,var`` (e.g. ``I01_01_01.png,I01.png,4.57,0.496``);
    despite its name the score is a MOS on 1-5, higher = better. Label = ``(dmos - 1) / 4``.
    10,125 distorted images (81 references x 25 distortions x 5 levels). Without ``dmos.csv``,
    pyiqa's ``meta_info_KADID10kDataset.csv`` (``ref_name,dist_name,dmos,std``, same scale).
    """
    _no_split("KADID-10K", split)
    root = Path(root)
    source = root / "dmos.csv"
    meta = None if source.is_file() else _meta_rows("kadid10k", root)
    if meta is not None:
        return _items(meta[1], root / "images", meta[0], 1.0, 5.0)
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
    higher = better. 10,073 images. Without an official score file, pyiqa's
    ``meta_info_KonIQ10kDataset.csv`` (``img_name,mos,...``, MOS on 0-100): label = ``mos / 100``.
    """
    _no_split("KonIQ-10K", split)
    root = Path(root)
    source = next((root / f for f in KONIQ_SCORE_FILES if (root / f).is_file()), None)
    meta = None if source is not None else _meta_rows("koniq10k", root)
    if source is None and meta is None:
        raise DatasetError(
            f"{root}: missing KonIQ-10K score file (one of {KONIQ_SCORE_FILES}, or pyiqa's "
            f"{META_INFO['koniq10k'][0]})"
        )
    images = next((root / d for d in KONIQ_IMAGE_DIRS if (root / d).is_dir()), None)
    if images is None:
        raise DatasetError(f"{root}: missing KonIQ-10K image folder (one of {KONIQ_IMAGE_DIRS})")
    if meta is not None:
        return _items(meta[1], images, meta[0], 0.0, 100.0)
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
    regard to case when the exact name is absent. 3,000 distorted images. Without
    ``mos_with_names.txt``, pyiqa's ``meta_info_TID2013Dataset.csv`` (``ref_name,dist_name,mos,std``).
    """
    _no_split("TID2013", split)
    root = Path(root)
    source = root / "mos_with_names.txt"
    meta = None if source.is_file() else _meta_rows("tid2013", root)
    if not source.is_file() and meta is None:
        raise DatasetError(f"{source}: missing label file (or pyiqa's {META_INFO['tid2013'][0]})")
    images = root / "distorted_images"
    if not images.is_dir():
        raise DatasetError(f"{images}: missing image folder")
    by_lower = {p.name.lower(): p.name for p in images.iterdir()}
    if meta is not None:
        rows = [
            (n if (images / n).is_file() else by_lower.get(n.lower(), n), score, line)
            for n, score, line in meta[1]
        ]
        return _items(rows, images, meta[0], 0.0, 9.0)
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
