"""Runs that fit the card: the device memory of one training step, known before the first step.

:func:`step_memory` measures it on the device itself: one forward + backward of a copy of the
task on a synthetic batch of 1 and of 2 images (CUDA's peak allocator statistics), which gives the
per-image activations and the fixed part (weights' gradients, workspaces); the optimiser's state
is added from the parameter count (AdamW: two moments; SGD with momentum: one). :func:`fit_step`
compares the step at the run's batch with the device's free memory; when it does not fit it turns
on gradient checkpointing of the backbone (timm's ``set_grad_checkpointing``: activations are
recomputed in the backward pass instead of kept; same loss and gradients) or stops naming the
model, the batch, the memory needed and free, and the options.

Recomputation runs the backbone's BatchNorm layers a second time; :func:`guard_batchnorm`
restores their running statistics after that second pass, so the checkpointed run updates them
once per step exactly as the plain run does (same model at every epoch, not only same gradients).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import torch
from torch import nn

from d2s.train.checks import ConfigError
from d2s.train.recipes import RECIPES

if TYPE_CHECKING:
    from d2s.train.config import TrainConfig
    from d2s.train.step import Placement
    from d2s.train.tasks import Task

GIB = 1024**3
#: Share of the free memory a step may plan on (allocator fragmentation, cuDNN workspaces,
#: the momentum model's refresh forward).
HEADROOM = 0.9
#: Caption feature width of the synthetic batch (CLIP ViT-B/32 text features).
TEXT_DIM = 512


class StepDoesNotFit(ConfigError):
    """The training step needs more device memory than is free; the message lists the options."""


def checkpointable(model: nn.Module) -> list[nn.Module]:
    """The model's timm backbones (the modules that offer ``set_grad_checkpointing``)."""
    return [m for m in model.modules() if m is not model and hasattr(m, "set_grad_checkpointing")]


def _in_backward() -> bool:
    # checkpoint recomputation runs inside the autograd engine's backward pass (a graph task)
    return torch._C._current_graph_task_id() != -1


def guard_batchnorm(model: nn.Module) -> None:
    """Keep BatchNorm running statistics of ``model`` unchanged by checkpoint recomputation."""
    for module in model.modules():
        if not isinstance(module, nn.modules.batchnorm._BatchNorm) or hasattr(module, "_d2s_guard"):
            continue

        def before(mod, _args):
            if mod.training and _in_backward():
                mod._d2s_saved = [b.detach().clone() for b in mod.buffers()]

        def after(mod, _args, _out):
            saved = mod.__dict__.pop("_d2s_saved", None)
            if saved is not None:
                with torch.no_grad():
                    for buffer, value in zip(mod.buffers(), saved, strict=True):
                        buffer.copy_(value)

        module._d2s_guard = (
            module.register_forward_pre_hook(before),
            module.register_forward_hook(after),
        )


def _full_recompute(backbone: nn.Module) -> None:
    """Recompute each checkpointed module to its end (torch stops early by default, which would
    skip :func:`guard_batchnorm`'s restore): the setting is read while the forward runs."""
    if hasattr(backbone, "_d2s_full_recompute"):
        return
    from torch.utils.checkpoint import set_checkpoint_early_stop

    def enter(mod, _args):
        mod.__dict__["_d2s_early_stop"] = set_checkpoint_early_stop(False)
        mod.__dict__["_d2s_early_stop"].__enter__()

    def leave(mod, _args, _out):
        mod.__dict__.pop("_d2s_early_stop").__exit__(None, None, None)

    backbone._d2s_full_recompute = (
        backbone.register_forward_pre_hook(enter),
        backbone.register_forward_hook(leave),
    )


def set_grad_checkpointing(model: nn.Module, enable: bool = True) -> bool:
    """Turn checkpointing of the model's backbones on or off; False when it has none."""
    backbones = checkpointable(model)
    for backbone in backbones:
        backbone.set_grad_checkpointing(enable)
        if enable:
            guard_batchnorm(backbone)
            _full_recompute(backbone)
    return bool(backbones)


def synthetic_batch(batch: int, size: int, placement: Placement) -> dict[str, torch.Tensor]:
    """A training batch of random images, labels and caption features on the device."""
    device = placement.device
    text = nn.functional.normalize(torch.randn(batch, TEXT_DIM, device=device), dim=-1)
    images = torch.randn(batch, 3, size, size, device=device)
    if placement.cuda and placement.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return {
        "images": images,
        "targets": torch.rand(batch, device=device),
        "ids": torch.arange(batch),
        "text_features": text,
        "text_entropy": torch.rand(batch, device=device) + 5,
    }


def _peak_bytes(task: Task, batch: int, size: int, placement: Placement) -> int:
    """Bytes one forward + backward of a copy of ``task`` allocates beyond the weights."""
    device = placement.device
    probe = copy.deepcopy(task).train()
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    with torch.random.fork_rng(devices=[device]), placement.autocast():  # the run's RNG untouched
        loss = probe.loss(synthetic_batch(batch, size, placement))["loss"]
    loss.backward()
    peak = torch.cuda.max_memory_allocated(device) - base
    del probe, loss
    torch.cuda.empty_cache()
    return int(peak)


def optimizer_bytes(task: Task, recipe: str) -> int:
    """The optimiser's state: the recipe's state copies of every trainable parameter."""
    params = sum(p.numel() * p.element_size() for p in task.model.parameters() if p.requires_grad)
    return params * RECIPES[recipe].state_copies


def step_memory(task: Task, config: TrainConfig, placement: Placement) -> dict[str, int]:
    """``per_image``, ``fixed`` and ``need`` (bytes at the run's batch, optimiser state included)."""
    one = _peak_bytes(task, 1, config.image_size, placement)
    two = _peak_bytes(task, 2, config.image_size, placement)
    per_image = max(0, two - one)
    fixed = max(0, one - per_image) + optimizer_bytes(task, config.recipe)
    return {"per_image": per_image, "fixed": fixed, "need": fixed + per_image * config.batch_size}


def free_bytes(device: torch.device) -> int:
    return int(torch.cuda.mem_get_info(device)[0])


def _gib(n: float) -> str:
    return f"{n / GIB:.1f} GiB"


def fit_step(task: Task, config: TrainConfig, placement: Placement, where: str) -> dict:
    """Decide, before the first step, how the step fits the device (CUDA only; see the module).

    Returns the record written to ``metrics.json``: ``grad_checkpointing`` (whether it is on),
    and on CUDA the bytes needed and free. ``grad_checkpointing: always`` turns it on on any
    device; ``never`` leaves it off (and stops when the step does not fit).
    """
    mode = config.grad_checkpointing
    if mode == "always" and not set_grad_checkpointing(task.model):
        raise ConfigError(
            f"config key 'grad_checkpointing': always, but model {config.model!r} has no timm "
            "backbone to checkpoint (set grad_checkpointing=auto)"
        )
    record: dict = {"grad_checkpointing": mode == "always"}
    if not placement.cuda:
        return record
    memory = step_memory(task, config, placement)
    free = free_bytes(placement.device)
    record.update(step_bytes=memory["need"], free_bytes=free)
    if memory["need"] <= HEADROOM * free:
        return record
    options = []
    if mode == "auto" and set_grad_checkpointing(task.model):
        plain, memory = memory["need"], step_memory(task, config, placement)
        record.update(grad_checkpointing=True, step_bytes=memory["need"], step_bytes_plain=plain)
        if memory["need"] <= HEADROOM * free:
            return record
    elif not record["grad_checkpointing"] and checkpointable(task.model):
        options.append("grad_checkpointing=auto (same results, slower)")
    largest = int((HEADROOM * free - memory["fixed"]) // max(1, memory["per_image"]))
    if 0 < largest < config.batch_size:
        options.insert(0, f"batch_size={largest} (changes the recipe)")
    if config.precision == "fp32":
        options.append("precision=bf16")
    options.append("a GPU with more memory")
    state = "on" if record["grad_checkpointing"] else "off"
    raise StepDoesNotFit(
        f"{where}: model {config.model} at batch {config.batch_size}, {config.image_size} px needs "
        f"about {_gib(memory['need'])} of device memory per training step (grad checkpointing "
        f"{state}); {_gib(free)} is free on {placement.device}. Options: " + ", ".join(options)
    )
