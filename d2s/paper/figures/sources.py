"""Loaders: result files (tables, run folders, caption caches) → the frames the plots take.

A *run reference* is ``LABEL=FOLDER`` (a training run folder, see :mod:`d2s.paper.runs`); the
same label given for several folders means several seeds of one method.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd


class FigureError(ValueError):
    """A result file a figure needs is missing or malformed; the message names the file."""


@dataclass(frozen=True)
class RunRef:
    label: str
    folder: Path

    def metrics(self) -> dict[str, Any]:
        path = self.folder / "metrics.json"
        if not path.is_file():
            raise FigureError(f"{path}: run result missing (the run has not finished)")
        return json.loads(path.read_text())


def parse_runs(words: list[str] | None) -> list[RunRef]:
    """``["D2S-R18=results/runs/…/seed42", …]`` → run references (order kept)."""
    refs = []
    for word in words or []:
        label, sep, folder = word.partition("=")
        if not sep or not label or not folder:
            raise FigureError(f"--run {word!r}: expected LABEL=RUN_FOLDER")
        refs.append(RunRef(label, Path(folder)))
    return refs


def read_table(path: str | Path) -> pd.DataFrame:
    """A long table CSV of :mod:`d2s.paper.tables` (``row`` and ``group`` kept as strings)."""
    path = Path(path)
    if not path.is_file():
        raise FigureError(f"{path}: table missing")
    frame = pd.read_csv(path, keep_default_na=False, dtype={"row": str, "group": str})
    for column in ("mean", "std", "paper", "paper_std"):
        if column in frame:
            frame[column] = pd.to_numeric(frame[column].replace("", float("nan")))
    return frame


def read_predictions(runs: list[RunRef]) -> pd.DataFrame:
    """``predictions.csv`` of every run, long: label, seed, run, image, target, prediction,
    category."""
    parts = []
    for ref in runs:
        path = ref.folder / "predictions.csv"
        if not path.is_file():
            raise FigureError(f"{path}: predictions missing (the run has not finished)")
        frame = pd.read_csv(path, keep_default_na=False, dtype={"image": str, "category": str})
        missing = {"image", "target", "prediction", "category"} - set(frame.columns)
        if missing:
            raise FigureError(f"{path}: lacks column(s) {sorted(missing)}")
        seed = ref.metrics().get("seed") if (ref.folder / "metrics.json").is_file() else None
        frame.insert(0, "run", str(ref.folder))
        frame.insert(0, "seed", seed if seed is not None else len(parts))
        frame.insert(0, "label", ref.label)
        parts.append(frame)
    if not parts:
        raise FigureError("no runs given")
    return pd.concat(parts, ignore_index=True)


def run_sources(runs: list[RunRef]) -> list[dict[str, Any]]:
    """What each run was (for the figure's JSON record)."""
    out = []
    for ref in runs:
        record: dict[str, Any] = {"label": ref.label, "run": str(ref.folder)}
        path = ref.folder / "metrics.json"
        if path.is_file():
            data = json.loads(path.read_text())
            for key in ("model", "dataset", "seed", "eal_mode", "select", "run_label"):
                record[key] = data.get(key)
            record["fingerprint"] = data.get("fingerprint")
        out.append(record)
    return out


def run_config(folder: str | Path):
    """The :class:`~d2s.train.config.TrainConfig` a run was trained with (from best.pt)."""
    from d2s.checkpoint import read_checkpoint
    from d2s.train.config import TrainConfig

    data = read_checkpoint(Path(folder) / "best.pt", kind="model")
    return TrainConfig(**data["config"])


def split_items(config, root: str | None = None):
    """The items of the run's test split (``root`` overrides the recorded dataset folder)."""
    from dataclasses import replace

    from d2s.train.data import load_split_items

    if root:
        config = replace(config, root=str(root))
    return load_split_items(config, config.test_split)


def load_images(items, size: int):
    """Test images as one normalised batch ``(N, 3, size, size)`` (the evaluation transform)."""
    import torch
    from PIL import Image

    from d2s.train.data import image_transform

    transform = image_transform(size, train=False)
    tensors = []
    for item in items:
        with Image.open(item.path) as image:
            tensors.append(transform(image.convert("RGB")))
    return torch.stack(tensors)


def batched(fn, images, batch_size: int = 64):
    """``fn`` applied to ``images`` in batches, outputs concatenated (no gradient)."""
    import torch

    outs = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            outs.append(fn(images[start : start + batch_size]))
    return torch.cat(outs)
