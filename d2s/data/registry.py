"""Which datasets exist, how each is loaded, and where a user gets it (docs/design.md §3)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from d2s.data.ic9600 import load_ic9600
from d2s.data.iqa import load_kadid10k, load_koniq10k, load_tid2013
from d2s.data.records import DatasetError, Item
from d2s.data.savoias import load_savoias
from d2s.data.user_sets import LABELS_FILE, load_nagle4k, load_visc

Loader = Callable[[Path, "str | None"], list[Item]]


@dataclass(frozen=True)
class DatasetSpec:
    """Facts about one dataset.

    ``kind`` is ``"ica"`` (image complexity) or ``"iqa"`` (quality); ``splits`` are the official
    splits (empty: the set is used whole); ``expected`` is the image count of a complete official
    copy (``None`` where the suite cannot know it); ``fetch`` says whether ``d2s data fetch`` can
    download it (else the user places it with ``d2s data place``); ``how_to_get`` is shown when it
    is missing.
    """

    name: str
    title: str
    kind: str
    loader: Loader
    how_to_get: str
    splits: tuple[str, ...] = ()
    expected: int | None = None
    fetch: bool = False
    layout: str = ""
    aliases: tuple[str, ...] = field(default=())


_USER_LAYOUT = (
    f"a folder with {LABELS_FILE} (columns image,score; image relative to images/) and images/"
)

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            "ic9600",
            "IC9600",
            "ica",
            load_ic9600,
            "IC9600 is granted by application only: request it from the IC9600 authors "
            "(https://github.com/tinglyfeng/IC9600, academic use), download the archive from the "
            "Google Drive folder they share, and give its path (folder, .zip or .tar)",
            splits=("train", "test"),
            expected=9600,
            layout="images/*.jpg, train.txt, test.txt ('<name>  <score>', two spaces)",
        ),
        DatasetSpec(
            "savoias",
            "Savoias",
            "ica",
            load_savoias,
            "Savoias is public: 'd2s data fetch savoias --dest DIR' downloads "
            "https://github.com/esaraee/Savoias-Dataset",
            expected=1420,
            fetch=True,
            layout="Images/<Category>/<i>.jpg|png, Ground truth/xlsx/global_ranking_<cat>.xlsx",
        ),
        DatasetSpec(
            "nagle4k",
            "Nagle4k",
            "ica",
            load_nagle4k,
            "Nagle4k (Nagle & Lavie 2020, 4,000 PASCAL VOC images with TrueSkill complexity "
            "scores) has no scriptable host: obtain it from its authors and arrange it as "
            + _USER_LAYOUT,
            expected=None,
            layout=_USER_LAYOUT,
        ),
        DatasetSpec(
            "visc-c",
            "VISC-C",
            "ica",
            load_visc,
            "VISC-C has no scriptable host: obtain it from the VISC authors and arrange it as "
            + _USER_LAYOUT
            + " (scores already in [0, 1])",
            layout=_USER_LAYOUT,
        ),
        DatasetSpec(
            "visc-ci",
            "VISC-CI",
            "ica",
            load_visc,
            "VISC-CI has no scriptable host: obtain it from the VISC authors and arrange it as "
            + _USER_LAYOUT
            + " (scores already in [0, 1])",
            layout=_USER_LAYOUT,
        ),
        DatasetSpec(
            "kadid10k",
            "KADID-10K",
            "iqa",
            load_kadid10k,
            "KADID-10K is public: 'd2s data fetch kadid10k --dest DIR' (pyiqa's Hugging Face "
            "mirror, or --source official)",
            expected=10125,
            fetch=True,
            layout="dmos.csv, images/",
        ),
        DatasetSpec(
            "koniq10k",
            "KonIQ-10K",
            "iqa",
            load_koniq10k,
            "KonIQ-10K is public: 'd2s data fetch koniq10k --dest DIR' (pyiqa's Hugging Face "
            "mirror, or --source official)",
            expected=10073,
            fetch=True,
            layout="koniq10k_scores_and_distributions.csv, 512x384/ (or 1024x768/)",
        ),
        DatasetSpec(
            "tid2013",
            "TID2013",
            "iqa",
            load_tid2013,
            "TID2013 is public: 'd2s data fetch tid2013 --dest DIR' (pyiqa's Hugging Face "
            "mirror, or --source official)",
            expected=3000,
            fetch=True,
            layout="mos_with_names.txt, distorted_images/",
        ),
    )
}


def get_spec(dataset: str) -> DatasetSpec:
    """The spec of ``dataset`` (case-insensitive; ``-`` and ``_`` are interchangeable)."""
    key = dataset.lower().replace("_", "-")
    key = {"kadid-10k": "kadid10k", "koniq-10k": "koniq10k", "visc": "visc-c"}.get(key, key)
    if key not in DATASETS:
        raise DatasetError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
    return DATASETS[key]


def load_items(
    dataset: str,
    root: str | os.PathLike,
    split: str | None = None,
    split_dir: str | os.PathLike | None = None,
) -> list[Item]:
    """The single entry point: items of ``dataset`` at ``root`` (its official layout).

    ``split`` names an official split (IC9600 ``train``/``test``) or ``None`` / ``"all"`` for the
    whole set. With ``split_dir``, ``split`` names a split file ``<split_dir>/<split>.txt`` written
    by :mod:`d2s.data.splits` instead: its names are looked up in the dataset (keeping paths and
    categories) and its labels, which may be re-normalised (NR-IQA min-max), replace the loader's.
    Images are checked to exist, not decoded (see :func:`d2s.data.validate.check_decodable`).
    """
    spec = get_spec(dataset)
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise DatasetError(f"{root}: a file, not a folder; give the {spec.title} dataset folder")
    if not root.is_dir():
        raise DatasetError(f"{root}: {spec.title} folder not found. {spec.how_to_get}")
    if split_dir is None:
        return spec.loader(root, split)
    if split in (None, "all"):
        raise DatasetError("a split name is needed with split_dir")
    from d2s.data.splitfile import read_pairs

    split_file = Path(split_dir) / f"{split}.txt"
    by_name = {item.name: item for item in spec.loader(root, None)}
    items = []
    for name, label, line in read_pairs(split_file):
        if name not in by_name:
            raise DatasetError(f"{split_file}:{line}: {name!r} is not an item of {spec.title}")
        if not 0.0 <= label <= 1.0:
            raise DatasetError(f"{split_file}:{line}: label {label!r} out of range [0, 1]")
        base = by_name[name]
        items.append(Item(name=name, path=base.path, label=label, category=base.category))
    return items
