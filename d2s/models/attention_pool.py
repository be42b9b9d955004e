"""CLIP-style attention pooling without positional embedding (D2S's "AttnPool")."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class AttentionPool2d(nn.Module):
    """Pool a ``(B, C, H, W)`` map to ``(B, out_dim)`` with one attention query.

    Follows the attention pooling of CLIP's ModifiedResNet (Radford et al., 2021) minus the
    positional embedding, so it works at any input size: the token set is the mean of the HW
    tokens followed by the HW tokens; the mean token alone is the query; keys and values come
    from every token. Separate q/k/v ``Linear(C, C)`` with bias, ``num_heads`` heads, and an
    output projection ``Linear(C, out_dim)``.
    """

    def __init__(self, in_dim: int, out_dim: int = 1024, num_heads: int = 16) -> None:
        super().__init__()
        if in_dim % num_heads:
            raise ValueError(f"in_dim={in_dim} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.q_proj = nn.Linear(in_dim, in_dim)
        self.k_proj = nn.Linear(in_dim, in_dim)
        self.v_proj = nn.Linear(in_dim, in_dim)
        self.c_proj = nn.Linear(in_dim, out_dim)
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = x.flatten(2).transpose(1, 2)  # (B, HW, C)
        tokens = torch.cat([tokens.mean(dim=1, keepdim=True), tokens], dim=1)  # (B, 1+HW, C)
        batch, length, channels = tokens.shape
        head_dim = channels // self.num_heads

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, -1, self.num_heads, head_dim).transpose(1, 2)

        q = heads(self.q_proj(tokens[:, :1]))  # (B, h, 1, d)
        k = heads(self.k_proj(tokens))  # (B, h, L, d)
        v = heads(self.v_proj(tokens))
        pooled = F.scaled_dot_product_attention(q, k, v)  # (B, h, 1, d)
        pooled = pooled.transpose(1, 2).reshape(batch, channels)
        return self.c_proj(pooled)


class GlobalAvgPool(nn.Module):
    """Global average pooling; the ablation's case (a) replacement for AttnPool."""

    def __init__(self, in_dim: int) -> None:
        super().__init__()
        self.out_dim = in_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))
