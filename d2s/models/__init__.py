"""Model factory: ``build(name, pretrained=False, **kwargs)`` for every named model."""

from __future__ import annotations

import importlib

from torch import nn

from .attention_pool import AttentionPool2d, GlobalAvgPool
from .d2s import D2S

#: Named D2S variants → constructor arguments. ``-gap`` is ablation case (a).
D2S_VARIANTS: dict[str, dict] = {
    "d2s-r18": dict(backbone="resnet18", pool="attn"),
    "d2s-r50": dict(backbone="resnet50", pool="attn"),
    "d2s-r18-gap": dict(backbone="resnet18", pool="gap"),
    "d2s-r50-gap": dict(backbone="resnet50", pool="gap"),
}

#: Other model families: ``name -> "module:function"``, imported on first use so that building a
#: D2S never imports the baselines (or pyiqa). Each function takes ``pretrained=False, **kw``.
EXTRA_BUILDERS: dict[str, str] = {
    "icnet": "baselines.icnet:icnet",
    "iccorn": "baselines.iccorn:iccorn",
    "hyperiqa": "baselines.iqa:hyperiqa",
    "topiq": "baselines.iqa:topiq",
    "caption-only": "d2s.models.text_heads:caption_only",
    "concat-r18": "d2s.models.text_heads:concat_r18",
    "concat-r50": "d2s.models.text_heads:concat_r50",
}


def model_names() -> list[str]:
    return sorted([*D2S_VARIANTS, *EXTRA_BUILDERS])


def build(name: str, pretrained: bool = False, **kwargs) -> nn.Module:
    """Build a model by name. D2S models are built as inference models unless ``proj_dim`` is set."""
    if name in D2S_VARIANTS:
        return D2S(pretrained=pretrained, **{**D2S_VARIANTS[name], **kwargs})
    if name in EXTRA_BUILDERS:
        module, function = EXTRA_BUILDERS[name].split(":")
        return getattr(importlib.import_module(module), function)(pretrained=pretrained, **kwargs)
    raise KeyError(f"unknown model {name!r}; known models: {', '.join(model_names())}")


def count_parameters(model: nn.Module) -> int:
    """Number of parameters of the model as built (the inference model for D2S)."""
    return sum(p.numel() for p in model.parameters())


__all__ = [
    "AttentionPool2d",
    "D2S",
    "D2S_VARIANTS",
    "EXTRA_BUILDERS",
    "GlobalAvgPool",
    "build",
    "count_parameters",
    "model_names",
]
