"""Checkpoints: plain tensors and primitives only, so they load with ``weights_only=True``.

Two kinds share one envelope ``{"format": FORMAT, "version": VERSION, "kind": ..., ...}``:

- ``model``: the weights of a trained model plus what is needed to rebuild it (model name,
  constructor arguments, training config) — what ``d2s evaluate`` and ``d2s score`` read.
- ``state``: everything needed to resume a run at an epoch boundary (model, optimiser,
  scheduler, EAL buffers and momentum model, history). No RNG state: shuffling and augmentation
  are reseeded from (seed, epoch) at every epoch, which is what makes a resume exact.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from d2s.io import atomic_save

FORMAT = "d2s-suite-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used here; the message names the file and the reason."""


def save_checkpoint(payload: dict[str, Any], path: str | os.PathLike, kind: str) -> None:
    atomic_save({"format": FORMAT, "version": VERSION, "kind": kind, **payload}, path)


def load_error_reason(err: Exception) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, in one complete sentence.

    torch's own text for a refused pickle is several paragraphs about allow-listing globals, the
    wrong advice for a downloaded file; a cut-off version of it is worse. Every other error is
    given in full.
    """
    text = str(err)
    found = re.search(r"(?:Unsupported global: |unsupported )GLOBAL ([\w.]+)", text)
    if "TorchScript" in text:
        return "a TorchScript archive (e.g. from d2s export): open it with torch.jit.load"
    if found:
        return (
            f"it holds pickled Python objects ({found.group(1)}), not plain weights; refused "
            "by weights_only loading, nothing in it was executed"
        )
    if type(err).__name__ == "UnpicklingError" or "Weights only load failed" in text:
        return (
            "not a PyTorch checkpoint of plain tensors (refused by weights_only loading, "
            "nothing in it was executed)"
        )
    if isinstance(err, EOFError) or "unexpected EOF" in text or "failed finding central" in text:
        return f"the file is truncated or corrupt ({type(err).__name__}: {text})"
    return f"not a PyTorch checkpoint ({type(err).__name__}: {text})"


def safe_torch_load(path: str | os.PathLike, what: str = "checkpoint") -> Any:
    """``torch.load(path, weights_only=True)`` on CPU; a refusal or a bad file raises
    :class:`CheckpointError` naming ``path`` and saying why in full (nothing pickled runs)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(f"{path}: cannot load {what}: {load_error_reason(err)}") from None


def read_checkpoint(path: str | os.PathLike, kind: str | None = None) -> dict[str, Any]:
    """Load and check the envelope (never executes pickled code: ``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    data = safe_torch_load(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a d2s-suite checkpoint (no '{FORMAT}' header)")
    if data.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {data.get('version')} is not supported by this suite "
            f"(expects {VERSION})"
        )
    if kind is not None and data.get("kind") != kind:
        raise CheckpointError(f"{path}: holds a {data.get('kind')!r} checkpoint, expected {kind!r}")
    return data


def load_weights(
    model: nn.Module,
    state_dict: dict[str, torch.Tensor],
    source: str,
    may_lack: tuple[str, ...] = (),
) -> None:
    """``load_state_dict`` with a message that says which model the weights do not fit.

    ``may_lack``: key prefixes of ``model`` the weights may leave out (e.g. the projection).
    """
    try:
        result = model.load_state_dict(state_dict, strict=False)
    except RuntimeError as err:  # shape mismatches
        raise CheckpointError(
            f"{source}: weights do not fit {type(model).__name__}: {err}"
        ) from None
    missing = [k for k in result.missing_keys if not (may_lack and k.startswith(may_lack))]
    unexpected = result.unexpected_keys
    if missing or unexpected:
        raise CheckpointError(
            f"{source}: weights do not fit {type(model).__name__} "
            f"(missing {len(missing)} keys, e.g. {missing[:3]}; "
            f"unexpected {len(unexpected)}, e.g. {unexpected[:3]})"
        )


def load_model(
    path: str | os.PathLike, device: str | torch.device = "cpu"
) -> tuple[nn.Module, dict]:
    """Rebuild the trained model stored in a ``model`` checkpoint; returns ``(model, data)``."""
    from d2s.models import build, model_names

    data = read_checkpoint(path, kind="model")
    name = data.get("model_name")
    if name not in model_names():
        raise CheckpointError(f"{path}: unknown model {name!r}")
    model = build(name, pretrained=False, **data.get("model_kwargs", {}))
    load_weights(model, data["state_dict"], str(path))
    return model.to(device).eval(), data
