"""``d2s export``: a trained model as TorchScript or ONNX, for fast inference elsewhere.

The exported graph is :class:`~d2s.inference.scoring.ScoringModule`: ImageNet normalisation is **inside**.

- input ``images``: ``(B, 3, N, N)`` float32, RGB in [0, 1], already resized to ``N``² (``N`` =
  the training resolution unless ``--image-size``; bilinear, as ``d2s score`` does with PIL —
  :meth:`d2s.inference.scoring.Scorer.prepare_batch` does exactly this preprocessing); ``B`` is free;
- output ``scores``: ``(B,)`` float32 complexity in [0, 1].

TorchScript files carry ``d2s.json`` (model, image size, input convention) as an extra file
(``torch.jit.load(path, _extra_files={"d2s.json": ""})``); ONNX files carry the same keys as
metadata properties. Every output is written atomically.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from d2s.core.io import atomic_path
from d2s.inference.scoring import IMAGENET_MEAN, IMAGENET_STD, Scorer, load

FORMATS = ("torchscript", "onnx")

#: PyPI packages the ONNX export needs (the exporter of torch ≥ 2.9 is built on onnxscript).
ONNX_PACKAGES = ("onnx", "onnxscript")


class ExportError(RuntimeError):
    """An export that cannot be done here (e.g. a missing package); the message says why."""


def metadata(scorer: Scorer, image_size: int, fmt: str) -> dict[str, Any]:
    return {
        "producer": "d2s export",
        "format": fmt,
        "model": scorer.name,
        "source": scorer.source,
        "image_size": image_size,
        "input": f"images: float32 (B, 3, {image_size}, {image_size}), RGB in [0, 1], "
        "resized (bilinear); normalisation is inside the model",
        "output": "scores: float32 (B,), complexity in [0, 1]",
        "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD),
    }


def _example(scorer: Scorer, image_size: int, batch: int = 2) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    example = torch.rand(batch, 3, image_size, image_size, generator=generator)
    return example.to(scorer.device)


def export_torchscript(scorer: Scorer, out: str | os.PathLike, image_size: int) -> dict:
    """Trace ``scorer.module`` at ``image_size`` and save it (with ``d2s.json``) to ``out``."""
    module = scorer.module.eval()
    example = _example(scorer, image_size)
    meta = metadata(scorer, image_size, "torchscript")
    # torch.jit is deprecated in favour of torch.export but still the portable C++/Python format
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace(module, example)
        with atomic_path(out) as tmp:
            torch.jit.save(traced, str(tmp), _extra_files={"d2s.json": json.dumps(meta)})
    return meta


def onnx_available() -> tuple[bool, str]:
    """``(True, "")`` when the ONNX exporter can run here, else ``(False, reason)``."""
    import importlib.util

    missing = [name for name in ONNX_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        return False, (
            f"ONNX export needs the Python package(s) {', '.join(missing)} "
            f"(pip install {' '.join(ONNX_PACKAGES)})"
        )
    return True, ""


def export_onnx(scorer: Scorer, out: str | os.PathLike, image_size: int) -> dict:
    """Export ``scorer.module`` to ONNX (dynamic batch, one self-contained file) at ``out``."""
    ok, reason = onnx_available()
    if not ok:
        raise ExportError(reason)
    import onnx

    module = scorer.module.eval()
    example = _example(scorer, image_size)
    meta = metadata(scorer, image_size, "onnx")
    with atomic_path(out) as tmp:
        batch = torch.export.Dim("batch", min=1)
        program = torch.onnx.export(
            module,
            (example,),
            input_names=["images"],
            output_names=["scores"],
            dynamic_shapes={"images": {0: batch}},
            dynamo=True,
            external_data=False,
            verbose=False,
        )
        program.save(str(tmp), external_data=False)
        model = onnx.load(str(tmp))
        for key, value in meta.items():
            entry = model.metadata_props.add()
            entry.key = key
            entry.value = value if isinstance(value, str) else json.dumps(value)
        onnx.save(model, str(tmp))
    return meta


def export(
    checkpoint: str | os.PathLike,
    out: str | os.PathLike,
    fmt: str = "torchscript",
    image_size: int | None = None,
    device: str = "cpu",
) -> dict:
    """Load ``checkpoint`` (any format :func:`d2s.inference.scoring.load` reads) and export it."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if fmt == "onnx":
        ok, reason = onnx_available()
        if not ok:  # say so before loading the weights
            raise ExportError(reason)
    scorer = load(checkpoint, device=device, image_size=image_size)
    size = scorer.image_size
    out = Path(out)
    if fmt == "torchscript":
        return export_torchscript(scorer, out, size)
    return export_onnx(scorer, out, size)
