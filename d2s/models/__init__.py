"""Model factory: ``build(name, pretrained=False, **kwargs)`` for every model of the table.

The model classes are imported on first use, so reading the model table
(:mod:`d2s.models.table`, e.g. while the workflow builds its DAG) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .table import ModelSpec, model_names, model_spec, register, trainable_models

if TYPE_CHECKING:
    from torch import nn

    from .attention_pool import AttentionPool2d, GlobalAvgPool
    from .d2s import D2S

_LAZY = {
    "AttentionPool2d": ".attention_pool",
    "GlobalAvgPool": ".attention_pool",
    "D2S": ".d2s",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build(name: str, pretrained: bool = False, **kwargs) -> nn.Module:
    """Build a model by name (:mod:`d2s.models.table`). D2S models are built as inference models
    unless ``proj_dim`` is set."""
    return model_spec(name).build(pretrained=pretrained, **kwargs)


def count_parameters(model: nn.Module) -> int:
    """Number of parameters of the model as built (the inference model for D2S)."""
    return sum(p.numel() for p in model.parameters())


__all__ = [
    "AttentionPool2d",
    "D2S",
    "GlobalAvgPool",
    "ModelSpec",
    "build",
    "count_parameters",
    "model_names",
    "model_spec",
    "register",
    "trainable_models",
]
