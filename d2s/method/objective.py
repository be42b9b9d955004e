"""The D2S training objective (Eq. 11) for one mini-batch, with the ablation switches of Table 5."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from d2s.method.alignment import EalMode, EntropyAlignment
from d2s.method.losses import LossWeights, entropy, info_nce, total_loss


@dataclass(frozen=True)
class ObjectiveConfig:
    """Switches and coefficients of the D2S objective; the paper's values are the defaults of
    :class:`d2s.train.config.TrainConfig` (``d2s.train.tasks.objective_config``)."""

    use_eal: bool
    use_fal: bool
    eal_mode: EalMode
    weights: LossWeights
    temperature: float
    buffer_size: int
    momentum: float
    refresh_steps: int
    # autocast dtype of the momentum model's forward (None: fp32); resolved from
    # ``momentum_precision`` for the run's device
    momentum_dtype: torch.dtype | None


class D2SObjective(nn.Module):
    """``MSE + λ·EAL + γ·FAL`` for a D2S model built with a projection.

    The text side is read from caches: ``text_features`` ``(B, 512)`` and ``text_entropy``
    ``(B,)``, so no text encoder runs here. ``ids`` ``(B,)`` identify the training images so the
    momentum model can re-read them when it refreshes its buffer entries.
    """

    def __init__(self, model: nn.Module, config: ObjectiveConfig) -> None:
        super().__init__()
        self.config = config
        self.alignment = (
            EntropyAlignment(
                model,
                config.buffer_size,
                config.momentum,
                config.refresh_steps,
                config.eal_mode,
                config.momentum_dtype,
            )
            if config.use_eal
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
        cfg = self.config
        zero = torch.zeros((), device=images.device)
        if not (cfg.use_eal or cfg.use_fal):
            pred = model(images)
            mse, eal, fal = F.mse_loss(pred.float(), targets.float()), zero, zero
        else:
            pred, projected = model.forward_train(images)
            mse = F.mse_loss(pred.float(), targets.float())
            fal = (
                info_nce(projected.float(), text_features.float(), cfg.temperature)
                if cfg.use_fal
                else zero
            )
            if self.alignment is not None:
                self.alignment.observe(images, ids, text_entropy)
                online = entropy(projected.float()) if cfg.eal_mode == "online" else None
                eal = self.alignment.loss(online)
            else:
                eal = zero
        loss = total_loss(mse, eal, fal, cfg.weights)
        return {"loss": loss, "mse": mse.detach(), "eal": eal.detach(), "fal": fal.detach()}

    def after_step(
        self, model: nn.Module, fetch_images: Callable[[torch.Tensor], torch.Tensor] | None
    ) -> int:
        """Call after ``optimizer.step()``: EMA update and buffer refresh (no-op without EAL)."""
        if self.alignment is None:
            return 0
        return self.alignment.after_step(model, fetch_images)
