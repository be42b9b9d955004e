"""Tiny datasets written in each official on-disk layout (docs/design.md §3), for the d2s.data tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

#: IC9600 fixture: (name, score); names with spaces as in the real set (e.g. 'parking meter').
IC9600_TRAIN = [
    ("abstract_0001.jpg", 10 / 68),
    ("objects_parking meter_COCO_train2014_000000451667.jpg", 34 / 68),
    ("person_0002.jpg", 68 / 68),
    ("scenes_open sea view_0003.jpg", 0.0),
    ("transport_0004.jpg", 51 / 68),
    ("paintings_0005.jpg", 20 / 68),
]
IC9600_TEST = [
    ("architecture_0006.jpg", 40 / 68),
    ("advertisement_big sale_0007.jpg", 5 / 68),
]


def write_image(path: Path, seed: int = 0, size: int = 16, fmt: str | None = None) -> Path:
    """A small random RGB image (format from the suffix unless ``fmt`` is given)."""
    rng = np.random.default_rng(seed)
    array = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format=fmt)
    return path


def truncate(path: Path, keep: float = 0.5) -> Path:
    """Cut a file to ``keep`` of its length (a truncated download)."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def write_ic9600(root: Path, train=IC9600_TRAIN, test=IC9600_TEST) -> Path:
    for i, (name, _) in enumerate(train + test):
        write_image(root / "images" / name, seed=i, fmt="JPEG")
    for split, pairs in (("train", train), ("test", test)):
        (root / f"{split}.txt").write_text("".join(f"{n}  {s}\n" for n, s in pairs))
    return root


#: Savoias fixture: category -> scores (0-100) for images 1..n; the extensions vary per image.
SAVOIAS = {
    "Advertisement": [12, 80, 45],
    "Art": [0, 100],
    "Interior Design": [33, 66],
    "Objects": [50, 5],
    "Scenes": [70, 20],
    "Suprematism": [15, 95],
    "Visualizations": [60, 40],
}
SAVOIAS_KEYS = {
    "Advertisement": "ad",
    "Art": "art",
    "Interior Design": "interior_design",
    "Objects": "objects",
    "Scenes": "scenes",
    "Suprematism": "sup",
    "Visualizations": "vis",
}


def savoias_suffix(category: str, number: int) -> str:
    return ".png" if (number + len(category)) % 2 else ".jpg"


def write_savoias(root: Path) -> Path:
    for c, (category, scores) in enumerate(SAVOIAS.items()):
        for number in range(1, len(scores) + 1):
            path = root / "Images" / category / f"{number}{savoias_suffix(category, number)}"
            write_image(path, seed=100 * c + number)
        xlsx = root / "Ground truth" / "xlsx" / f"global_ranking_{SAVOIAS_KEYS[category]}.xlsx"
        xlsx.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"gt": scores}).to_excel(xlsx, index=False)
    return root


KADID = [
    ("I01_01_01.png", "I01.png", 4.57),
    ("I01_01_05.png", "I01.png", 1.0),
    ("I02_10_03.png", "I02.png", 5.0),
    ("I02_10_04.png", "I02.png", 2.2),
]


def write_kadid(root: Path, rows=KADID) -> Path:
    for i, (dist, ref, _) in enumerate(rows):
        write_image(root / "images" / dist, seed=i)
        if not (root / "images" / ref).exists():
            write_image(root / "images" / ref, seed=50 + i)
    frame = pd.DataFrame(
        {
            "dist_img": [r[0] for r in rows],
            "ref_img": [r[1] for r in rows],
            "dmos": [r[2] for r in rows],
            "var": [0.496] * len(rows),
        }
    )
    root.mkdir(parents=True, exist_ok=True)
    frame.to_csv(root / "dmos.csv", index=False)
    return root


#: KonIQ fixture: (image_name, MOS on 1-5, MOS_zscore on 0-100).
KONIQ = [("826373.jpg", 3.2, 55.0), ("10004473376.jpg", 1.5, 10.0), ("2120006.jpg", 4.8, 90.0)]


def write_koniq(root: Path, rows=KONIQ, folder: str = "512x384") -> Path:
    for i, (name, _, _) in enumerate(rows):
        write_image(root / folder / name, seed=i, fmt="JPEG")
    frame = pd.DataFrame(
        {
            "image_name": [r[0] for r in rows],
            "c1": 1,
            "c2": 2,
            "c3": 3,
            "c4": 2,
            "c5": 1,
            "c_total": 9,
            "MOS": [r[1] for r in rows],
            "SD": 0.7,
            "MOS_zscore": [r[2] for r in rows],
        }
    )
    frame.to_csv(root / "koniq10k_scores_and_distributions.csv", index=False)
    return root


#: TID2013 fixture: (mos, name in the file, name on disk) -- the real set mixes i25 / I25.
TID = [
    (5.51429, "i01_01_1.bmp", "i01_01_1.bmp"),
    (0.0, "i02_07_5.bmp", "i02_07_5.bmp"),
    (9.0, "i25_01_1.bmp", "I25_01_1.bmp"),
]


def write_tid2013(root: Path, rows=TID) -> Path:
    for i, (_, _, on_disk) in enumerate(rows):
        write_image(root / "distorted_images" / on_disk, seed=i, fmt="BMP")
    (root / "mos_with_names.txt").write_text("".join(f"{m} {n}\n" for m, n, _ in rows))
    return root


def write_labels_csv(root: Path, rows: list[tuple[str, float]]) -> Path:
    """The user-set layout (Nagle4k, VISC): labels.csv with image,score + images/."""
    for i, (name, _) in enumerate(rows):
        write_image(root / "images" / name, seed=i)
    pd.DataFrame({"image": [r[0] for r in rows], "score": [r[1] for r in rows]}).to_csv(
        root / "labels.csv", index=False
    )
    return root


#: The smallest d2s train run (no text, 32 px, one epoch), for tests of refusals and resumes.
TINY = ["model=d2s-r18-gap", "use_eal=false", "use_fal=false", "image_size=32", "epochs=1",
        "batch_size=4", "pretrained=false", "device=cpu"]  # fmt: skip


def train_cli(root, out, *overrides) -> list[str]:
    """``d2s train`` argv of the tiny run on the dataset at ``root``, written to ``out``."""
    return ["train", "--out", str(out), "--no-progress", f"root={root}", *TINY, *overrides]
