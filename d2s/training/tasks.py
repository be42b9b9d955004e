"""One adapter per model family: how it is built, its training loss, and its prediction.

The engine only talks to a :class:`Task`; adding a model family means adding an adapter here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from d2s.losses import LossWeights
from d2s.models import D2S_VARIANTS, build
from d2s.models.text_heads import CaptionOnly, ConcatD2S
from d2s.objective import D2SObjective, ObjectiveConfig

from .config import TrainConfig

Batch = dict[str, torch.Tensor]


def predict_batch(model: nn.Module, batch: Batch) -> torch.Tensor:
    """Scores ``(B,)`` of a batch: images, caption features, or both, as the model reads them."""
    if isinstance(model, CaptionOnly):
        return model(batch["text_features"])
    if isinstance(model, ConcatD2S):
        return model(batch["images"], batch["text_features"])
    return model(batch["images"])


class Task(nn.Module):
    """A model plus its training objective."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def predict(self, batch: Batch) -> torch.Tensor:
        return predict_batch(self.model, batch)

    def after_step(self, fetch_images: Callable[[torch.Tensor], torch.Tensor] | None) -> None:
        """Called after each optimiser step."""

    def refresh_buffer(self):
        """The EAL visual buffer whose entries ``after_step`` re-reads (None: no refresh)."""
        return None

    def init_from_labels(self, targets: torch.Tensor) -> None:
        """Called once on a fresh model with the training labels ``(N,)`` (before any resume)."""

    def inference_state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()


class D2STask(Task):
    """D2S and its ablations (Table 5) with MSE + λ·EAL + γ·FAL (Eq. 11)."""

    def __init__(self, config: TrainConfig) -> None:
        aligned = config.use_eal or config.use_fal
        model = build(
            config.model,
            pretrained=config.pretrained,
            pretrained_file=config.pretrained_file,
            proj_dim=512 if aligned else None,
        )
        super().__init__(model)
        self.objective = D2SObjective(
            model,
            ObjectiveConfig(
                use_eal=config.use_eal,
                use_fal=config.use_fal,
                eal_mode=config.eal_mode,
                weights=LossWeights(eal=config.eal_weight, fal=config.fal_weight),
                temperature=config.temperature,
                buffer_size=config.buffer_size,
                momentum=config.momentum,
                refresh_steps=config.refresh_steps,
            ),
        )

    def loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        return self.objective(
            self.model,
            batch["images"],
            batch["targets"],
            batch.get("text_features"),
            batch.get("text_entropy"),
            batch["ids"],
        )

    def after_step(self, fetch_images) -> None:
        self.objective.after_step(self.model, fetch_images)

    def refresh_buffer(self):
        alignment = self.objective.alignment
        return alignment.visual if alignment is not None else None

    def inference_state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.inference_state_dict()


class BaselineTask(Task):
    """ICNet / ICCORN: the model defines its own loss (``model.loss(images, targets)``)."""

    def __init__(self, config: TrainConfig) -> None:
        super().__init__(build(config.model, pretrained=config.pretrained))

    def loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        return self.model.loss(batch["images"], batch["targets"])

    def init_from_labels(self, targets: torch.Tensor) -> None:
        # ICCORN starts from the training labels' prior instead of all-zero CORN logits, which
        # decode to about 1/68 and barely move in a short run (see README, "ICCORN").
        init_label_prior = getattr(self.model, "init_label_prior", None)
        if init_label_prior is not None:
            init_label_prior(targets)


class CaptionOnlyTask(Task):
    """Table 7, caption only: MSE of an MLP on the caption feature."""

    def __init__(self, config: TrainConfig) -> None:
        super().__init__(build(config.model))

    def predict(self, batch: Batch) -> torch.Tensor:
        return self.model(batch["text_features"])

    def loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        mse = F.mse_loss(self.predict(batch).float(), batch["targets"].float())
        return {"loss": mse, "mse": mse.detach()}


class ConcatTask(Task):
    """Table 7, image ⊕ caption: MSE of the joint head."""

    def __init__(self, config: TrainConfig) -> None:
        super().__init__(
            build(
                config.model, pretrained=config.pretrained, pretrained_file=config.pretrained_file
            )
        )

    def predict(self, batch: Batch) -> torch.Tensor:
        return self.model(batch["images"], batch["text_features"])

    def loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        mse = F.mse_loss(self.predict(batch).float(), batch["targets"].float())
        return {"loss": mse, "mse": mse.detach()}


def task_class(model: str) -> type[Task] | None:
    """The adapter that trains ``model``, or None for models ``d2s train`` cannot train."""
    if model in D2S_VARIANTS:
        return D2STask
    if model in ("icnet", "iccorn"):
        return BaselineTask
    if model == "caption-only":
        return CaptionOnlyTask
    if model.startswith("concat"):
        return ConcatTask
    return None


def trainable_models() -> list[str]:
    """Every model name ``d2s train`` accepts (the rest, e.g. HyperIQA/TOPIQ, are latency rows)."""
    from d2s.models import model_names

    return [name for name in model_names() if task_class(name) is not None]


def make_task(config: TrainConfig) -> Task:
    adapter = task_class(config.model)
    if adapter is None:
        raise ValueError(f"model {config.model!r} cannot be trained by d2s train")
    return adapter(config)
