"""IC9600 (Feng et al., TPAMI 2023; GitHub tinglyfeng/IC9600), official on-disk layout.

``ROOT/images/*.jpg``, ``ROOT/train.txt`` and ``ROOT/test.txt`` (6,720 + 2,880 lines: a 7:3 split;
the D2S authors' ``train_blip_caption.txt`` has one line per training image, 6,720, docs/design.md
§1.3), each line ``<name>␠␠<score>``. Scores are already on [0, 1], higher = more complex (multiples of 1/68).
Category = the file-name prefix before the first ``_`` (docs/design.md §3).
"""

from __future__ import annotations

import os
from pathlib import Path

from d2s.data.records import DatasetError, Item, check_range
from d2s.data.splitfile import read_pairs

CATEGORIES = (
    "abstract",
    "advertisement",
    "architecture",
    "objects",
    "paintings",
    "person",
    "scenes",
    "transport",
)
SPLITS = ("train", "test")
#: IC9600 labels are averages of 17 raters' 1-5 grades rescaled to [0,1]: multiples of 1/68.
LABEL_STEP = 1 / 68


def category_of(name: str) -> str:
    """IC9600 category of a file name: the prefix before the first ``_``."""
    return name.split("_", 1)[0]


def load_ic9600(root: str | os.PathLike, split: str | None = None) -> list[Item]:
    """Items of ``train``, ``test`` or (``None`` / ``"all"``) both, in file order."""
    root = Path(root)
    if split in (None, "all"):
        return load_ic9600(root, "train") + load_ic9600(root, "test")
    if split not in SPLITS:
        raise DatasetError(f"IC9600 has splits {SPLITS}, not {split!r}")
    split_file = root / f"{split}.txt"
    images = root / "images"
    items = []
    for name, score, line in read_pairs(split_file):
        check_range(score, 0.0, 1.0, split_file, line)
        path = images / name
        if not path.is_file():
            raise DatasetError(f"{split_file}:{line}: image {name!r} not found at {path}")
        items.append(Item(name=name, path=path, label=score, category=category_of(name)))
    return items
