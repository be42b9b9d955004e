"""Training recipes: the config defaults a recipe sets and its optimiser with lr schedule.

A model's recipe is its ``recipe`` in the model table (:mod:`d2s.registry.models`); a run may
name another with the ``recipe`` key. Each recipe is one entry of :data:`RECIPES`:

- ``d2s`` (docs/design.md §1): :class:`~d2s.train.config.TrainConfig`'s own values; AdamW with one
  lr for all parameters, cosine annealing per epoch down to ``min_lr``.
- ``icnet`` (Feng et al., 2022; docs/design.md §2): ICNet's published recipe
  (:data:`d2s.baselines.icnet.ICNET_RECIPE`, its one statement) with no alignment; SGD with
  momentum, a linear warm-up and step decay, stepped per iteration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import torch

from d2s.baselines.icnet import ICNET_RECIPE, icnet_lr_lambda

if TYPE_CHECKING:
    from d2s.train.config import TrainConfig
    from d2s.train.tasks import Task


@dataclass
class Schedule:
    """The lr scheduler of a run and when it steps: after every optimiser step
    (``per_iteration``) or after the last optimiser step of each epoch."""

    scheduler: torch.optim.lr_scheduler.LRScheduler
    per_iteration: bool
    steps_per_epoch: int

    def after_step(self, index: int) -> None:
        """Call after optimiser step ``index`` (0-based) of an epoch."""
        if self.per_iteration or index == self.steps_per_epoch - 1:
            self.scheduler.step()


Params = list[torch.nn.Parameter]
Optimizer = Callable[["TrainConfig", Params, int], tuple[torch.optim.Optimizer, Schedule]]


def adamw_cosine(config: TrainConfig, params: Params, steps_per_epoch: int):
    """AdamW, one lr for all parameters, cosine annealing per epoch to ``min_lr`` (the paper)."""
    # foreach: the multi-tensor update, torch's default on CUDA, on every device (on CPU torch
    # would loop per tensor, about 2x slower per step for the same update rule)
    optimizer = torch.optim.AdamW(
        params, lr=config.lr, weight_decay=config.weight_decay, foreach=True
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=config.epochs, eta_min=config.min_lr
    )
    return optimizer, Schedule(scheduler, False, steps_per_epoch)


def icnet_sgd(config: TrainConfig, params: Params, steps_per_epoch: int):
    """ICNet's SGD with momentum and its per-iteration warm-up and step decay."""
    optimizer = torch.optim.SGD(
        params, lr=config.lr, momentum=ICNET_RECIPE.momentum, weight_decay=config.weight_decay
    )
    lr_lambda = icnet_lr_lambda(ICNET_RECIPE, steps_per_epoch)
    return optimizer, Schedule(
        torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda), True, steps_per_epoch
    )


@dataclass(frozen=True)
class Recipe:
    """A training recipe.

    Args:
        defaults: config keys it sets below the config file and the overrides.
        optimizer: ``(config, trainable parameters, steps per epoch) → (optimizer, schedule)``.
        state_copies: optimiser state tensors per parameter (the memory estimate of
            :mod:`d2s.train.memory`): AdamW's two moments, SGD's one momentum buffer.
    """

    defaults: Mapping[str, Any]
    optimizer: Optimizer
    state_copies: int


RECIPES: dict[str, Recipe] = {
    "d2s": Recipe(MappingProxyType({}), adamw_cosine, state_copies=2),
    "icnet": Recipe(
        MappingProxyType(
            dict(
                recipe="icnet",
                lr=ICNET_RECIPE.lr,
                batch_size=ICNET_RECIPE.batch_size,
                epochs=ICNET_RECIPE.epochs,
                weight_decay=ICNET_RECIPE.weight_decay,
                image_size=ICNET_RECIPE.img_size,
                hflip=ICNET_RECIPE.hflip,
                use_eal=False,
                use_fal=False,
            )
        ),
        icnet_sgd,
        state_copies=1,
    ),
}


def recipe_defaults(recipe: str) -> dict[str, Any]:
    """The config keys ``recipe`` sets below the config file and the overrides."""
    return dict(RECIPES[recipe].defaults)


def make_optimizer(config: TrainConfig, task: Task, steps_per_epoch: int):
    """``(optimizer, schedule)`` of the run's recipe for the task model's trainable parameters."""
    params = [p for p in task.model.parameters() if p.requires_grad]
    return RECIPES[config.recipe].optimizer(config, params, steps_per_epoch)
