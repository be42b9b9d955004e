"""The model registry: ``build(name, pretrained=False, **kwargs)`` for every model of the table.

Reading the table (:mod:`d2s.registry.models`, e.g. while the workflow builds its DAG) does not
import torch: each entry names its builder as ``"module:function"``, imported when it is built.
"""

from __future__ import annotations

from typing import Any

from d2s.registry.models import ModelSpec, model_names, model_spec, register, trainable_models


def build(name: str, pretrained: bool = False, **kwargs) -> Any:
    """Build a model by name (:mod:`d2s.registry.models`). D2S models are built as inference
    models unless ``proj_dim`` is set."""
    return model_spec(name).build(pretrained=pretrained, **kwargs)


def count_parameters(model: Any) -> int:
    """Number of parameters of the model as built (the inference model for D2S)."""
    return sum(p.numel() for p in model.parameters())


__all__ = [
    "ModelSpec",
    "build",
    "count_parameters",
    "model_names",
    "model_spec",
    "register",
    "trainable_models",
]
