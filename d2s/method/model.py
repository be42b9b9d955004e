"""The D2S image branch: ResNet trunk, pooling, regression head, optional text projection."""

from __future__ import annotations

import timm
import torch
from torch import nn

from d2s.method.pool import AttentionPool2d, GlobalAvgPool


def weights_source(backbone: nn.Module, pretrained: bool, pretrained_file: str | None) -> str:
    """``hf-hub:<id>`` of the timm weights loaded, the local file, or ``random``."""
    if not pretrained:
        return "random"
    if pretrained_file:
        return f"file:{pretrained_file}"
    return f"hf-hub:{backbone.pretrained_cfg['hf_hub_id']}"


class D2S(nn.Module):
    """D2S complexity regressor (the inference model, plus the training-only projection).

    Args:
        backbone: timm ResNet name (``resnet18`` or ``resnet50``); only its last stage is used.
        pretrained: load timm's default ImageNet weights (``<backbone>.a1_in1k``) through timm.
        pool: ``"attn"`` (AttnPool, the paper) or ``"gap"`` (ablation case a).
        embed_dim: output width of AttnPool (1024 for both backbones).
        num_heads: AttnPool heads.
        head_hidden: hidden width of the regression MLP.
        proj_dim: width of the vision→text projection used by FAL and the visual entropy during
            training; ``None`` builds the inference model, which has no projection.
        pretrained_file: local copy of the pretrained backbone weights (for machines without hub
            access); loaded through timm's own pretrained path, so key adaptation is timm's.
    """

    def __init__(
        self,
        backbone: str = "resnet18",
        pretrained: bool = False,
        pool: str = "attn",
        embed_dim: int = 1024,
        num_heads: int = 16,
        head_hidden: int = 512,
        proj_dim: int | None = None,
        pretrained_file: str | None = None,
    ) -> None:
        super().__init__()
        self.backbone_name = backbone
        overlay = {"file": str(pretrained_file)} if pretrained_file else None
        self.backbone = timm.create_model(
            backbone,
            pretrained=pretrained,
            pretrained_cfg_overlay=overlay,
            features_only=True,
            out_indices=(-1,),
        )
        # where the trunk's weights came from, recorded by every run (metrics.json ``loaded``)
        self.weights_source = weights_source(self.backbone, pretrained, pretrained_file)
        channels = self.backbone.feature_info.channels()[-1]
        if pool == "attn":
            self.pool: nn.Module = AttentionPool2d(channels, embed_dim, num_heads)
        elif pool == "gap":
            self.pool = GlobalAvgPool(channels)
        else:
            raise ValueError(f"unknown pool {pool!r}; expected 'attn' or 'gap'")
        self.num_features = self.pool.out_dim
        self.head = nn.Sequential(
            nn.Linear(self.num_features, head_hidden),
            nn.ReLU(inplace=True),
            nn.Linear(head_hidden, 1),
            nn.Sigmoid(),
        )
        self.proj = nn.Linear(self.num_features, proj_dim) if proj_dim else None

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` image → last-stage map ``(B, C, H/32, W/32)``."""
        return self.backbone(x)[-1]

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Feature map → pooled feature ``(B, D)`` if ``pre_logits`` else score ``(B,)``."""
        pooled = self.pool(x)
        if pre_logits:
            return pooled
        return self.head(pooled).squeeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Complexity score in [0, 1], shape ``(B,)`` (also for B = 1)."""
        return self.forward_head(self.forward_features(x))

    def forward_train(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Score ``(B,)`` and projected feature ``(B, proj_dim)`` for the alignment losses."""
        if self.proj is None:
            raise RuntimeError("this D2S has no projection; build it with proj_dim=512 to train")
        pooled = self.forward_head(self.forward_features(x), pre_logits=True)
        return self.head(pooled).squeeze(-1), self.proj(pooled)

    def inference_state_dict(self) -> dict[str, torch.Tensor]:
        """State dict without the training-only projection."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("proj.")}
