"""D2S losses: feature entropy (Eq. 12), energy distance (Eq. 7), InfoNCE (Eq. 10), total (Eq. 11).

Equation numbers refer to the D2S paper ("Describe-to-Score", see ``shared/paper``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

ENTROPY_EPS = 1e-8


def entropy(z: torch.Tensor) -> torch.Tensor:
    """Shannon entropy of ``softmax(z)`` along the last dimension (Eq. 12).

    ``H = -Σ_k p_k log(p_k + 1e-8)`` with ``p = softmax(z)`` at temperature 1; the feature is not
    L2-normalised first.

    Args:
        z: features, shape ``(..., D)``.
    Returns:
        entropies, shape ``(...)``.
    """
    p = z.softmax(dim=-1)
    return -(p * torch.log(p + ENTROPY_EPS)).sum(dim=-1)


def _pairwise_abs_sum(x: torch.Tensor) -> torch.Tensor:
    """``Σ_{i<j} |x_i - x_j|`` in O(n log n): for sorted x, element k (0-based) appears with
    sign + in k pairs and with sign − in n-1-k pairs."""
    n = x.numel()
    sorted_x, _ = torch.sort(x)
    weights = 2 * torch.arange(n, device=x.device, dtype=x.dtype) - (n - 1)
    return (sorted_x * weights).sum()


def energy_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Energy distance between two 1-D samples (Székely & Rizzo, 2013; D2S Eq. 6–7).

    ``2·mean_{i,j}|x_i − y_j| − mean_{i≠i'}|x_i − x_i'| − mean_{j≠j'}|y_j − y_j'|``, with the
    diagonals excluded from the within-sample means (divisors n(n−1) and m(m−1)). The paper's
    printed Eq. 7 has a sign slip inside the bracket; this is Eq. 6, the definition it cites.

    The pairwise sums are computed by sorting, so the cost is O((n+m) log(n+m)) rather than
    O(nm); the result is differentiable in both inputs.

    Args:
        x: first sample, shape ``(n,)``, n ≥ 2.
        y: second sample, shape ``(m,)``, m ≥ 2.
    Returns:
        scalar tensor.
    """
    x, y = x.reshape(-1), y.reshape(-1)
    n, m = x.numel(), y.numel()
    if n < 2 or m < 2:
        raise ValueError(f"energy_distance needs at least 2 values per sample, got {n} and {m}")
    within_x = _pairwise_abs_sum(x)
    within_y = _pairwise_abs_sum(y)
    cross = _pairwise_abs_sum(torch.cat([x, y])) - within_x - within_y
    return 2 * cross / (n * m) - 2 * within_x / (n * (n - 1)) - 2 * within_y / (m * (m - 1))


def info_nce(v: torch.Tensor, t: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric CLIP-style InfoNCE between paired visual and text features (Eq. 10).

    Both are L2-normalised; ``logits = v·tᵀ / temperature`` (fixed temperature, not learnt);
    cross-entropy with the diagonal as target in the image→text and text→image directions,
    averaged.

    Args:
        v: projected visual features, shape ``(B, D)``.
        t: text features, shape ``(B, D)``; row i describes image i.
        temperature: τ, 0.07 in the paper.
    Returns:
        scalar tensor.
    """
    if v.shape != t.shape:
        raise ValueError(f"visual {tuple(v.shape)} and text {tuple(t.shape)} shapes differ")
    logits = F.normalize(v, dim=-1) @ F.normalize(t, dim=-1).T / temperature
    target = torch.arange(v.shape[0], device=v.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def total_loss(
    mse: torch.Tensor, eal: torch.Tensor, fal: torch.Tensor, eal_weight: float, fal_weight: float
) -> torch.Tensor:
    """The D2S objective of Eq. 11: ``L = L_mse + λ·L_eal + γ·L_fal``.

    Args:
        mse: the score's mean squared error, scalar.
        eal: the entropy alignment loss (Eq. 7), scalar.
        fal: the feature alignment loss (Eq. 10), scalar.
        eal_weight: λ.
        fal_weight: γ.
    Returns:
        scalar tensor.
    """
    return mse + eal_weight * eal + fal_weight * fal
