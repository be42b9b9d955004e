"""CLIP-style attention pooling without positional embedding (D2S's "AttnPool")."""

from __future__ import annotations

import torch
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
        """Same function as ``softmax(q·Kᵀ/√d)·V`` per head, computed for the single query.

        With one query per head, the key projection folds into the query
        (``q_h·(W_k,h t + b_k,h) = (W_k,hᵀ q_h)·t + const``; the constant cancels in the
        softmax) and, since the weights sum to one, the value projection applies once to the
        attention-weighted token mean. Cost: O(C² + heads·HW·C) instead of O(HW·C²) for
        projecting every token — the same parameters and outputs, a fraction of the work.
        """
        tokens = x.flatten(2).transpose(1, 2)  # (B, HW, C)
        tokens = torch.cat([tokens.mean(dim=1, keepdim=True), tokens], dim=1)  # (B, 1+HW, C)
        batch, _, channels = tokens.shape
        heads, head_dim = self.num_heads, channels // self.num_heads
        q = self.q_proj(tokens[:, 0]).view(batch, heads, head_dim)  # (B, h, d)
        w_k = self.k_proj.weight.view(heads, head_dim, channels)  # (h, d, C)
        w_v = self.v_proj.weight.view(heads, head_dim, channels)
        query_in_token_space = torch.einsum("bhd,hdc->bhc", q, w_k)  # (B, h, C)
        # q_h·b_k,h shifts every score of a head equally (no effect on the softmax); it is kept
        # so the key bias stays in the graph (zero gradient, weight decay applies as before).
        key_bias = (q * self.k_proj.bias.view(heads, head_dim)).sum(-1, keepdim=True)
        scores = torch.einsum("bhc,blc->bhl", query_in_token_space, tokens) + key_bias
        scores = scores / head_dim**0.5
        weights = scores.softmax(dim=-1)  # (B, h, L)
        mixed = torch.einsum("bhl,blc->bhc", weights, tokens)  # (B, h, C)
        pooled = torch.einsum("bhc,hdc->bhd", mixed, w_v) + self.v_proj.bias.view(heads, head_dim)
        return self.c_proj(pooled.reshape(batch, channels))


class GlobalAvgPool(nn.Module):
    """Global average pooling; the ablation's case (a) replacement for AttnPool."""

    def __init__(self, in_dim: int) -> None:
        super().__init__()
        self.out_dim = in_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))
