"""The suite's models as pyiqa metrics: ``d2s-r18``, ``d2s-r50``, ``icnet`` (and ``iccorn``).

Usage (pyiqa >= 0.1.16)::

    import d2s.inference.pyiqa, pyiqa
    d2s.inference.pyiqa.register()  # once per process
    metric = pyiqa.create_metric("d2s-r18", pretrained_model_path="best.pt")
    metric("photo.jpg")  # tensor([[0.43]]); also (B, 3, H, W) tensors RGB in [0, 1]

Why a call and not a packaging entry point: pyiqa's ``create_metric`` first checks the name
against its ``DEFAULT_CONFIGS`` table (``pyiqa/api_helpers.py``) and only then builds the
network, and its entry-point groups (``pyiqa.archs``, ``pyiqa.metrics``, read by
``pyiqa.utils.registry.Registry``) are loaded at the first registry lookup — after that check.
A plugin's entry point therefore cannot make a new name known to ``create_metric``;
:func:`register` adds one ``DEFAULT_CONFIGS`` entry per model and the
:class:`D2SComplexityArch` network to ``ARCH_REGISTRY`` (pyiqa's own registration API).

Scores equal ``d2s score`` on the same files: paths are read by pyiqa (8-bit RGB), and every
image is taken back to 8 bits and resized with PIL's bilinear filter, as ``d2s score`` does.
"""

from __future__ import annotations

import torch
from torch import nn

from d2s.inference.scoring import SCORE_CONVENTION

ARCH_NAME = "D2SComplexityArch"


def metric_names() -> list[str]:
    """The models the registry offers as scorers (d2s-r18, d2s-r50, icnet, iccorn)."""
    from d2s.registry.models import model_specs

    return [s.name for s in model_specs() if s.scorer]


def metric_config(name: str) -> dict:
    return {
        "metric_opts": {"type": ARCH_NAME, "model": name},
        "metric_mode": "NR",
        "lower_better": False,
        "score_range": "0, 1",
        "description": SCORE_CONVENTION,
    }


class D2SComplexityArch(nn.Module):
    __doc__ = (
        "A suite checkpoint as a pyiqa network: ``(B, 3, H, W)`` RGB in [0, 1] → ``(B, 1)``. "
        + SCORE_CONVENTION
    )

    def __init__(self, model: str, pretrained_model_path: str | None = None) -> None:
        super().__init__()
        from d2s.inference.scoring import load

        if pretrained_model_path is None:
            raise ValueError(
                f"metric {model!r} needs pretrained_model_path=CHECKPOINT (best.pt of d2s train, "
                "a released D2S_R18.pth / D2S_R50.pth, or the IC9600 authors' ck.pth)"
            )
        self.scorer = load(pretrained_model_path)
        if self.scorer.name != model:
            raise ValueError(
                f"{pretrained_model_path}: holds model {self.scorer.name!r}, not {model!r}; "
                f"use pyiqa.create_metric({self.scorer.name!r}, ...)"
            )
        self.module = self.scorer.module

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        from torchvision.transforms import functional as TF

        device = self.module.mean.device
        as_bytes = (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu()
        batch = torch.stack([self.scorer.prepare(TF.to_pil_image(img)) for img in as_bytes])
        return self.module(batch.to(device)).reshape(-1, 1)


def register() -> list[str]:
    """Make the suite's metrics known to pyiqa (idempotent); returns their names."""
    from pyiqa.default_model_configs import DEFAULT_CONFIGS
    from pyiqa.utils.registry import ARCH_REGISTRY

    ARCH_REGISTRY.register(D2SComplexityArch, name=ARCH_NAME, override=True)
    names = metric_names()
    for name in names:
        DEFAULT_CONFIGS[name] = metric_config(name)
    return names
