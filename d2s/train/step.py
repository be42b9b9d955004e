"""The public training step, shared by the engine, evaluation,
cross-dataset scoring and the tests.

:class:`Placement` says where and how batches run: the device, the training forward's precision
(fp32 as the released code trains D2S; bf16 autocast on CUDA only with ``precision: bf16``) and
the memory format (channels-last on CUDA). :func:`train_step` is one optimiser step of a task.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from d2s.core.devices import cpu_fallback_reason, gpu_required, resolve_device
from d2s.train.checks import ConfigError

if TYPE_CHECKING:
    from d2s.train.config import TrainConfig
    from d2s.train.data import Split
    from d2s.train.tasks import Batch, Task


class TrainingDiverged(ValueError):
    """The run cannot go on: the loss became non-finite, or every epoch's predictions were
    constant (a saturated score head); the message names the run folder and what to change."""


def refuse_silent_cpu(device_key: str, run_label: str, what: str = "config key 'device'") -> None:
    """Stop a paper run whose ``auto`` device resolved to the CPU (``device=cpu`` says "I mean
    it"); raises :class:`d2s.train.config.ConfigError` naming the reason and the fixes."""
    if device_key != "auto" or not gpu_required(device_key, run_label) or torch.cuda.is_available():
        return
    raise ConfigError(
        f"{what} is auto but {cpu_fallback_reason()}; a paper run would train on the CPU for "
        "days. Run `d2s doctor` for the fix, or set device=cpu to train on the CPU anyway"
    )


@dataclass(frozen=True)
class Placement:
    """Where batches and models go, and in which precision the training forward runs.

    Args:
        device: the device of the run.
        precision: ``fp32`` or ``bf16`` (autocast of the training forward, CUDA only).
        channels_last: channels-last images and model on CUDA (faster convolutions).
    """

    device: torch.device
    precision: str
    channels_last: bool

    @classmethod
    def of(cls, config: TrainConfig) -> Placement:
        return cls(resolve_device(config.device), config.precision, config.channels_last)

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def synchronize(self) -> None:
        """Wait for the work queued on the device (nothing to wait for on the CPU)."""
        if self.cuda:
            torch.cuda.synchronize(self.device)

    @property
    def _channels_last(self) -> bool:
        return self.cuda and self.channels_last

    def batch(
        self, images: torch.Tensor, targets: torch.Tensor, ids: torch.Tensor, split: Split
    ) -> Batch:
        """A loader batch on the device, with the split's caption features of its ``ids``."""
        batch = {
            "images": images.to(self.device, non_blocking=True),
            "targets": targets.to(self.device, non_blocking=True),
            "ids": ids,
        }
        if self._channels_last:
            batch["images"] = batch["images"].contiguous(memory_format=torch.channels_last)
        if split.text_features is not None:
            batch["text_features"] = split.text_features[ids].to(self.device)
            batch["text_entropy"] = split.text_entropy[ids].to(self.device)
        return batch

    def place(self, task: Task) -> Task:
        """``task`` on the device, its model in the run's memory format."""
        task = task.to(self.device)
        if self._channels_last:
            task.model.to(memory_format=torch.channels_last)
        return task

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """The training forward's autocast dtype: bf16 on CUDA only with ``precision: bf16``."""
        return torch.bfloat16 if self.cuda and self.precision == "bf16" else None

    def autocast(self) -> contextlib.AbstractContextManager:
        """The training forward's precision (:attr:`autocast_dtype`; none: the weights' dtype)."""
        dtype = self.autocast_dtype
        return torch.autocast("cuda", dtype=dtype or torch.bfloat16, enabled=dtype is not None)


def train_step(
    task: Task,
    batch: Batch,
    optimizer: torch.optim.Optimizer,
    placement: Placement,
    where: str = "training",
) -> dict[str, torch.Tensor]:
    """One optimiser step: the task's loss (in the placement's precision), backward, step.

    Returns the loss and its parts; a non-finite loss stops the run (``where`` names the epoch in
    the message) before any gradient of it is applied. The scheduler and ``task.after_step``
    (EAL's momentum update and buffer refresh) are the caller's.
    """
    with placement.autocast():
        parts = task.loss(batch)
    loss = parts["loss"]
    if not torch.isfinite(loss):
        raise TrainingDiverged(f"{where}: the training loss became {loss.item()}")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return parts
