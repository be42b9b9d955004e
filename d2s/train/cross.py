"""``d2s evaluate``: score a trained model on another dataset (cross-dataset, Table 3)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from torch.utils.data import DataLoader

from d2s.checkpoint import read_any_model
from d2s.core.devices import resolve_device
from d2s.data import load_items
from d2s.data.torch_dataset import ImageDataset
from d2s.data.validate import check_decodable
from d2s.registry import model_spec
from d2s.train.config import TrainConfig
from d2s.train.data import Split, attach_text, image_transform, read_captions
from d2s.train.evaluation import predict, write_outputs
from d2s.train.step import Placement
from d2s.train.tasks import Task


def evaluate_checkpoint(
    checkpoint: str | Path,
    dataset: str,
    root: str | Path,
    out: str | Path,
    split: str | None = None,
    captions: str | None = None,
    device: str = "auto",
    batch_size: int = 64,
) -> dict:
    """Predict every item of ``dataset`` (or one ``split``) with the model in ``checkpoint`` (any
    format :func:`~d2s.checkpoint.read_any_model` reads);
    writes ``predictions.csv`` and ``metrics.json`` to ``out`` and returns the metrics."""
    items = load_items(dataset, root, split)
    check_decodable(items)  # a bad image is named before any model is built
    model, size, name, _, info, data = read_any_model(checkpoint, images_only=False)
    model = model.to(resolve_device(device))
    if data is None:  # a released or the IC9600 authors' checkpoint: no training config inside
        data = {"config": {"model": name, "image_size": size}, "epoch": info.get("epoch")}
    trained = TrainConfig(**{k: v for k, v in data["config"].items() if k in _FIELDS})
    config = dataclasses.replace(
        trained,
        dataset=dataset,
        root=str(root),
        captions=captions if captions is not None else trained.captions,
        device=device,
        eval_batch_size=batch_size,
        split_dir=None,
    )
    placement = Placement.of(config)
    target = Split(split or "all", items)
    if config.text_at_test:
        if not captions:
            raise ValueError(f"model {config.model!r} reads captions at test time: pass --captions")
        attach_text(target, read_captions(captions), config)
    loader = DataLoader(
        ImageDataset(items, image_transform(config.image_size, train=False)), batch_size=batch_size
    )
    predictions, metrics = predict(
        Task(model, model_spec(config.model).inputs), loader, target, placement
    )
    summary = {
        **metrics,
        "model": config.model,
        "checkpoint": str(checkpoint),
        "trained_on": trained.dataset,
        "dataset": dataset,
        "test_split": split or "all",
        "seed": trained.seed,
        "eal_mode": trained.eal_mode_label,
        "select": trained.select,
        "selected_epoch": data.get("epoch"),
        "run_label": trained.run_label,
        "config": config.to_dict(),
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_outputs(out, items, predictions, summary)
    return summary


_FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}
