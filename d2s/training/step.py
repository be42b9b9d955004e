"""The public training step and the device helper, shared by the engine, evaluation,
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

if TYPE_CHECKING:
    from .config import TrainConfig
    from .data import Split
    from .tasks import Batch, Task


class TrainingDiverged(ValueError):
    """The run cannot go on: the loss became non-finite, or every epoch's predictions were
    constant (a saturated score head); the message names the run folder and what to change."""


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when there is one, else the CPU; any other name as torch reads it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


#: The ``run_label`` of the paper configuration (workflow/config/config.yaml): runs that take
#: hours on a GPU and days on a CPU, so ``device: auto`` must not quietly become the CPU.
PAPER_LABEL = "paper"


def cpu_fallback_reason() -> str:
    """Why torch sees no usable CUDA device here (build, driver, visible devices)."""
    import os

    if torch.version.cuda is None:
        return f"this torch ({torch.__version__}) is a CPU-only build"
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and not visible.strip():
        return "CUDA_VISIBLE_DEVICES is empty"
    return (
        f"torch {torch.__version__} (built for CUDA {torch.version.cuda}) finds no usable GPU "
        "(no GPU passed to this machine or container, or a driver older than that CUDA)"
    )


def gpu_required(device_key: str, run_label: str | None) -> bool:
    """Whether a run must find a GPU: an explicit CUDA device, or ``auto`` in a paper run (any
    other run with ``auto``, e.g. the rehearsal, uses the GPU when there is one, else the CPU)."""
    return device_key != "cpu" and (device_key != "auto" or run_label == PAPER_LABEL)


def refuse_silent_cpu(device_key: str, run_label: str, what: str = "config key 'device'") -> None:
    """Stop a paper run whose ``auto`` device resolved to the CPU (``device=cpu`` says "I mean
    it"); raises :class:`d2s.training.config.ConfigError` naming the reason and the fixes."""
    if device_key != "auto" or not gpu_required(device_key, run_label) or torch.cuda.is_available():
        return
    from .config import ConfigError

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
