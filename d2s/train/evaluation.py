"""Predicting a split and writing ``predictions.csv`` + ``metrics.json`` (the latter last)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from d2s.core.io import atomic_write_text
from d2s.method.metrics import evaluate
from d2s.train.step import Placement


@torch.no_grad()
def predict(task, loader, split, placement: Placement) -> tuple[np.ndarray, dict]:
    """Predictions for every item of ``split`` (in order) and their metrics.

    Always in fp32, whatever the training precision: a bf16 sigmoid would quantise the scores
    (the released code evaluates in fp32 too). Autocast is switched off explicitly so a caller's
    enclosing autocast region cannot lower it.
    """
    task.eval()
    outputs = []
    for images, targets, ids in loader:
        batch = placement.batch(images, targets, ids, split)
        with torch.autocast(images.device.type if images.is_cuda else "cpu", enabled=False):
            outputs.append(task.predict(batch).float().cpu())
    predictions = torch.cat(outputs).numpy() if outputs else np.zeros(0)
    return predictions, evaluate(predictions, [item.label for item in split.items])


def write_outputs(out: Path, items, predictions: np.ndarray, summary: dict) -> None:
    import pandas as pd

    table = pd.DataFrame(
        {
            "image": [item.name for item in items],
            "target": [item.label for item in items],
            "prediction": predictions,
            "category": [item.category or "" for item in items],
        }
    )
    atomic_write_text(table.to_csv(index=False), out / "predictions.csv")
    atomic_write_text(json.dumps(summary, indent=2, default=str) + "\n", out / "metrics.json")
