"""The D2S training objective (Eq. 11) for one mini-batch, with the ablation switches of Table 5."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from d2s.method.alignment import EalMode, EntropyAlignment
from d2s.method.losses import entropy, info_nce, total_loss


class D2SObjective(nn.Module):
    """``L = L_mse + λ·L_eal + γ·L_fal`` (Eq. 11) for a D2S model built with a projection.

    The text side is read from caches: ``text_features`` ``(B, 512)`` and ``text_entropy``
    ``(B,)``, so no text encoder runs here. ``ids`` ``(B,)`` identify the training images so the
    momentum model can re-read them when it refreshes its buffer entries. The defaults are the
    paper's (Table 1's caption: λ = 5, γ = 0.01, M = 2048, refresh step 50, momentum 0.995).

    Args:
        model: the online model; its copy becomes the momentum model (with ``use_eal``).
        use_eal: the entropy alignment term L_eal (Eq. 7; Table 5's switch).
        use_fal: the feature alignment term L_fal, the symmetric InfoNCE (Eq. 10; Table 5).
        eal_mode: ``released`` or ``online`` (:class:`~d2s.method.alignment.EntropyAlignment`).
        eal_weight: λ of Eq. 11.
        fal_weight: γ of Eq. 11.
        temperature: τ of Eq. 10 (fixed, not learnt).
        buffer_size: M, the capacity of each entropy buffer (Table 6).
        momentum: m of the momentum model's EMA (Table 6).
        refresh_steps: ``len // refresh_steps`` buffer entries re-read per step (Table 6).
        momentum_dtype: autocast dtype of the momentum model's forward (None: fp32).
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        use_eal: bool = True,
        use_fal: bool = True,
        eal_mode: EalMode = "released",
        eal_weight: float = 5.0,
        fal_weight: float = 0.01,
        temperature: float = 0.07,
        buffer_size: int = 2048,
        momentum: float = 0.995,
        refresh_steps: int = 50,
        momentum_dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.use_fal = use_fal
        self.eal_mode = eal_mode
        self.eal_weight, self.fal_weight = eal_weight, fal_weight
        self.temperature = temperature
        self.alignment = (
            EntropyAlignment(model, buffer_size, momentum, refresh_steps, eal_mode, momentum_dtype)
            if use_eal
            else None
        )

    def forward(
        self,
        model: nn.Module,
        images: torch.Tensor,
        targets: torch.Tensor,
        text_features: torch.Tensor | None = None,
        text_entropy: torch.Tensor | None = None,
        ids: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Returns ``loss`` (to backpropagate) and its parts ``mse``, ``eal``, ``fal`` (detached)."""
        zero = torch.zeros((), device=images.device)
        if self.alignment is None and not self.use_fal:
            pred = model(images)
            mse, eal, fal = F.mse_loss(pred.float(), targets.float()), zero, zero
        else:
            pred, projected = model.forward_train(images)
            mse = F.mse_loss(pred.float(), targets.float())
            fal = (
                info_nce(projected.float(), text_features.float(), self.temperature)
                if self.use_fal
                else zero
            )
            if self.alignment is not None:
                self.alignment.observe(images, ids, text_entropy)
                online = entropy(projected.float()) if self.eal_mode == "online" else None
                eal = self.alignment.loss(online)
            else:
                eal = zero
        loss = total_loss(mse, eal, fal, self.eal_weight, self.fal_weight)
        return {"loss": loss, "mse": mse.detach(), "eal": eal.detach(), "fal": fal.detach()}

    def after_step(
        self, model: nn.Module, fetch_images: Callable[[torch.Tensor], torch.Tensor] | None
    ) -> int:
        """Call after ``optimizer.step()``: EMA update and buffer refresh (no-op without EAL)."""
        if self.alignment is None:
            return 0
        return self.alignment.after_step(model, fetch_images)
