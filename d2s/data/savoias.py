"""Savoias (Saraee, Jalal & Betke 2020; GitHub esaraee/Savoias-Dataset), official layout.

``ROOT/Images/<Category>/<i>.jpg|png`` and ``ROOT/Ground truth/xlsx/global_ranking_<key>.xlsx``,
one column ``gt``; data row i (1-based, under the header) holds the score of image ``i``. The
extension varies within a category, so images are matched on their numeric stem. Folders in the
repository start at ``1``; a category that has an image ``0`` is read 0-based instead (older
copies of the repository). 1,420 images in 7 categories. Scores are 0-100 (Bradley-Terry scores
rescaled by the authors), higher = more complex; mapped to [0, 1] by ``/100``.
"""

from __future__ import annotations

import os
from pathlib import Path

from d2s.data.records import DatasetError, Item, check_range

#: Image folder -> ground-truth file key, as named in the repository.
CATEGORIES = {
    "Advertisement": "ad",
    "Art": "art",
    "Interior Design": "interior_design",
    "Objects": "objects",
    "Scenes": "scenes",
    "Suprematism": "sup",
    "Visualizations": "vis",
}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
EXPECTED_COUNT = 1420


def ground_truth_path(root: Path, category: str) -> Path:
    return root / "Ground truth" / "xlsx" / f"global_ranking_{CATEGORIES[category]}.xlsx"


def _read_scores(xlsx: Path) -> list[float]:
    import pandas as pd  # pandas import is slow; only when a Savoias set is read

    if not xlsx.is_file():
        raise DatasetError(f"{xlsx}: missing Savoias ground-truth file")
    try:
        frame = pd.read_excel(xlsx, engine="openpyxl")
    except Exception as err:  # openpyxl raises several unrelated types for a broken file
        raise DatasetError(f"{xlsx}: cannot read as xlsx ({err})") from err
    if "gt" not in frame.columns:
        raise DatasetError(f"{xlsx}: no column 'gt' (columns: {list(frame.columns)})")
    scores = []
    for index, value in enumerate(frame["gt"].tolist()):
        row = index + 2  # spreadsheet row: 1-based, after the header
        try:
            score = float(value)
        except (TypeError, ValueError):
            raise DatasetError(f"{xlsx}: row {row}: score {value!r} is not a number") from None
        if score != score:  # NaN: an empty cell
            raise DatasetError(f"{xlsx}: row {row}: empty score")
        scores.append(check_range(score, 0.0, 100.0, f"{xlsx}: row {row}"))
    return scores


def load_savoias(root: str | os.PathLike, split: str | None = None) -> list[Item]:
    """All 1,420 items (Savoias has no official split: only ``None`` / ``"all"``)."""
    if split not in (None, "all"):
        raise DatasetError(f"Savoias has no official split {split!r}; use the whole set")
    root = Path(root)
    items: list[Item] = []
    for category in CATEGORIES:
        folder = root / "Images" / category
        if not folder.is_dir():
            raise DatasetError(f"{folder}: missing Savoias image folder")
        xlsx = ground_truth_path(root, category)
        scores = _read_scores(xlsx)
        by_stem: dict[int, Path] = {}
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES or path.name.startswith("."):
                continue
            if not path.stem.isdigit():
                raise DatasetError(f"{path}: Savoias image names must be numbers")
            stem = int(path.stem)
            if stem in by_stem:
                raise DatasetError(f"{path}: duplicates image {by_stem[stem].name} (same number)")
            by_stem[stem] = path
        offset = 0 if 0 in by_stem else 1
        if len(by_stem) != len(scores):
            raise DatasetError(
                f"{xlsx}: {len(scores)} scores but {len(by_stem)} images in {folder}"
            )
        for stem, path in sorted(by_stem.items()):
            row = stem - offset
            if not 0 <= row < len(scores):
                raise DatasetError(f"{path}: no row for image {stem} in {xlsx}")
            items.append(
                Item(
                    name=f"{category}/{path.name}",
                    path=path,
                    label=scores[row] / 100.0,
                    category=category,
                )
            )
    return items
