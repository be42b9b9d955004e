"""Table 7's text-input models: caption features alone, and image ⊕ caption concatenation.

Unlike D2S these read caption features at test time too (docs/design.md §1.2, §2).
"""

from __future__ import annotations

import torch
from torch import nn

from d2s.method.model import D2S


def _regression_head(in_dim: int, hidden: int = 512) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 1), nn.Sigmoid()
    )


class CaptionOnly(nn.Module):
    """Score from the frozen text feature alone: ``(B, 512)`` → ``(B,)``."""

    def __init__(self, text_dim: int = 512, hidden: int = 512) -> None:
        super().__init__()
        self.head = _regression_head(text_dim, hidden)

    def forward(self, text_features: torch.Tensor) -> torch.Tensor:
        return self.head(text_features).squeeze(-1)


class ConcatD2S(nn.Module):
    """D2S image feature (pooled, 1024-d) concatenated with the text feature, then the head."""

    def __init__(
        self, backbone: str = "resnet18", pretrained: bool = False, text_dim: int = 512, **kwargs
    ) -> None:
        super().__init__()
        self.image = D2S(backbone, pretrained=pretrained, **kwargs)
        self.image.head = nn.Identity()  # replaced by the joint head below
        self.head = _regression_head(self.image.num_features + text_dim)

    def forward(self, images: torch.Tensor, text_features: torch.Tensor) -> torch.Tensor:
        pooled = self.image.forward_head(self.image.forward_features(images), pre_logits=True)
        return self.head(torch.cat([pooled, text_features.to(pooled.dtype)], dim=-1)).squeeze(-1)


def caption_only(
    pretrained: bool = False, pretrained_file: str | None = None, **kwargs
) -> CaptionOnly:
    """The head reads frozen text features: there are no pretrained weights to load."""
    return CaptionOnly(**kwargs)


def concat_r18(pretrained: bool = False, **kwargs) -> ConcatD2S:
    return ConcatD2S("resnet18", pretrained=pretrained, **kwargs)


def concat_r50(pretrained: bool = False, **kwargs) -> ConcatD2S:
    return ConcatD2S("resnet50", pretrained=pretrained, **kwargs)
