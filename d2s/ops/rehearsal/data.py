"""Real-shaped datasets for the rehearsal: the layouts users supply, with synthetic pictures.

- IC9600 in its official layout (:mod:`d2s.data.ic9600`): ``images/<category>_<n>.jpg`` at the
  dataset's typical 1024x768, ``train.txt`` / ``test.txt`` lines ``<name>␠␠<score>`` with
  scores on IC9600's grid (multiples of 1/68);
- Nagle4k, VISC-C and VISC-CI in the suite's user layout (:mod:`d2s.data.user_sets`):
  ``labels.csv`` (``image,score``) + ``images/``; Nagle4k's scores on a TrueSkill-like scale,
  VISC's on [0, 1], PASCAL-VOC-sized JPEGs (500x375).

Each picture draws a number of rectangles that grows with its label, so the labels are learnable
(the rehearsal tests the path, not the numbers). Deterministic from ``seed``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from d2s.core.io import atomic_path, atomic_write_text
from d2s.data.ic9600 import CATEGORIES, LABEL_STEP

IC9600_SIZE = (1024, 768)
USER_SIZE = (500, 375)
#: The user-supplied sets and the score range of each one's labels.csv.
USER_SETS = {"nagle4k": (15.0, 35.0), "visc-c": (0.16, 0.85), "visc-ci": (0.16, 0.85)}


def _picture(rng: np.random.Generator, complexity: float, size: tuple[int, int]) -> Image.Image:
    width, height = size
    ramp = np.linspace(0, 1, width)[None, :, None] * rng.uniform(0, 255, 3)
    base = np.broadcast_to(ramp, (height, width, 3)) + rng.normal(0, 4, (height, width, 3))
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(2 + 120 * complexity)):
        x, y = rng.integers(0, width), rng.integers(0, height)
        w, h = rng.integers(8, width // 3), rng.integers(8, height // 3)
        draw.rectangle((x, y, x + w, y + h), fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    return image


def _save_jpeg(image: Image.Image, path: Path) -> None:
    with atomic_path(path) as tmp:
        image.save(tmp, format="JPEG", quality=90)


def _fresh(root: Path) -> Path:
    """``root`` emptied, when the rehearsal made it (never a folder it did not make)."""
    marker = root / ".d2s-rehearsal"
    if root.exists():
        if not marker.exists():
            raise FileExistsError(f"{root} exists and was not made by d2s rehearse; choose another")
        shutil.rmtree(root)
    (root / "images").mkdir(parents=True)
    marker.write_text("made by d2s rehearse data\n")
    return root


def write_ic9600(root: str | os.PathLike, n_train: int, n_test: int, seed: int = 0) -> Path:
    root = _fresh(Path(root))
    rng = np.random.default_rng(seed)
    for split, count in (("train", n_train), ("test", n_test)):
        lines = []
        for i in range(count):
            name = f"{CATEGORIES[i % len(CATEGORIES)]}_{split}{i:04d}.jpg"
            label = int(rng.integers(0, 69)) * LABEL_STEP
            _save_jpeg(_picture(rng, label, IC9600_SIZE), root / "images" / name)
            lines.append(f"{name}  {label}")
        atomic_write_text("\n".join(lines) + "\n", root / f"{split}.txt")
    return root


def write_user_set(root: str | os.PathLike, name: str, count: int, seed: int = 0) -> Path:
    low, high = USER_SETS[name]
    root = _fresh(Path(root))
    rng = np.random.default_rng([seed, len(name)])
    rows = ["image,score"]
    for i in range(count):
        fraction = float(rng.uniform())
        image = f"{name}_{i:04d}.jpg"
        _save_jpeg(_picture(rng, fraction, USER_SIZE), root / "images" / image)
        rows.append(f"{image},{low + (high - low) * fraction:.4f}")
    atomic_write_text("\n".join(rows) + "\n", root / "labels.csv")
    return root


def write_data(root: str | os.PathLike, n_train: int, n_test: int, n_user: int) -> dict[str, str]:
    """Every user-supplied dataset of the paper path under ``root/<name>``; returns name -> path."""
    root = Path(root)
    written = {"ic9600": str(write_ic9600(root / "ic9600", n_train, n_test))}
    for name in USER_SETS:
        written[name] = str(write_user_set(root / name, name, n_user))
    return written
