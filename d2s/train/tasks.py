"""One adapter per task kind: how a model is built, its training loss, and its prediction.

The engine only talks to a :class:`Task`; which adapter trains a model is its ``task`` in the
model table (:mod:`d2s.registry.models`), and what its forward reads is its ``inputs``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from d2s.method.alignment import momentum_dtype
from d2s.method.objective import D2SObjective
from d2s.registry import build, model_spec
from d2s.registry.models import IMAGES, Inputs, trainable_models
from d2s.train.config import TrainConfig

Batch = dict[str, torch.Tensor]

__all__ = ["TASKS", "Task", "d2s_objective", "make_task", "predict_batch", "trainable_models"]


def predict_batch(model: nn.Module, batch: Batch, inputs: Inputs = IMAGES) -> torch.Tensor:
    """Scores ``(B,)`` of a batch: ``inputs`` (images, caption features, or both) in order."""
    return model(*(batch[key] for key in inputs))


def d2s_objective(model: nn.Module, config: TrainConfig) -> D2SObjective:
    """The D2S objective (Eq. 11) of a run: its switches, coefficients and EAL settings."""
    return D2SObjective(
        model,
        use_eal=config.use_eal,
        use_fal=config.use_fal,
        eal_mode=config.eal_mode,
        eal_weight=config.eal_weight,
        fal_weight=config.fal_weight,
        temperature=config.temperature,
        buffer_size=config.buffer_size,
        momentum=config.momentum,
        refresh_steps=config.refresh_steps,
        momentum_dtype=momentum_dtype(config.momentum_precision_resolved),
    )


class Task(nn.Module):
    """A model plus its training objective; ``inputs`` is what the model's forward reads."""

    def __init__(self, model: nn.Module, inputs: Inputs = IMAGES) -> None:
        super().__init__()
        self.model = model
        self.inputs = inputs

    def loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def predict(self, batch: Batch) -> torch.Tensor:
        return predict_batch(self.model, batch, self.inputs)

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
        self.objective = d2s_objective(model, config)

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
        # decode to about 1/68 and barely move in a short run (docs/design.md §2.2).
        init_label_prior = getattr(self.model, "init_label_prior", None)
        if init_label_prior is not None:
            init_label_prior(targets)


class MSETask(Task):
    """MSE of the model's prediction (Table 7: caption only, image ⊕ caption)."""

    def __init__(self, config: TrainConfig) -> None:
        super().__init__(
            build(
                config.model, pretrained=config.pretrained, pretrained_file=config.pretrained_file
            ),
            model_spec(config.model).inputs,
        )

    def loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        mse = F.mse_loss(self.predict(batch).float(), batch["targets"].float())
        return {"loss": mse, "mse": mse.detach()}


#: The adapter of each task kind of the model table.
TASKS: dict[str, type[Task]] = {"d2s": D2STask, "own-loss": BaselineTask, "mse": MSETask}


def make_task(config: TrainConfig) -> Task:
    spec = model_spec(config.model)
    if spec.task is None:
        raise ValueError(f"model {config.model!r} cannot be trained by d2s train")
    return TASKS[spec.task](config)
