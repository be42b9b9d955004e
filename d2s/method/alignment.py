"""Entropy-distribution alignment (EAL) machinery: FIFO entropy buffers and the momentum model.

Paper: D2S §3.2 and Algorithm 1 (Appendix A.2). The momentum update follows MoCo (He et al., 2020).
State that must survive a checkpoint (buffer contents, pointers, the momentum weights) lives in
registered buffers and sub-modules, so ``state_dict()`` captures it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Literal

import torch
from torch import nn

from d2s.method.losses import energy_distance, entropy

EalMode = Literal["released", "online"]
EAL_MODES: tuple[str, ...] = ("released", "online")

#: Precisions of the momentum model's forward (``momentum_precision``): ``fp16`` autocast as the
#: released code runs it, ``bf16`` autocast, plain ``fp32``; ``auto`` picks per device
#: (:func:`resolve_momentum_precision`).
_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": None}
MOMENTUM_PRECISIONS: tuple[str, ...] = ("auto", *_DTYPES)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX), so bf16 convolutions are
    faster than fp32 here rather than emulated."""
    cpu = torch.cpu
    return any(
        getattr(cpu, probe, lambda: False)()
        for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    )


def resolve_momentum_precision(setting: str, device: torch.device) -> str:
    """``momentum_precision`` as it runs on ``device``: ``auto`` → ``fp16`` on CUDA (the released
    code's autocast, docs/design.md §1), ``bf16`` on a CPU with native bf16 (CPU fp16 kernels are
    slow: measured 107 ms vs fp32 88 ms vs bf16 29 ms per 512² ResNet-18 image on an AMX Xeon),
    else ``fp32``. Any other value is returned as is."""
    if setting != "auto":
        return setting
    if device.type == "cuda":
        return "fp16"
    return "bf16" if device.type == "cpu" and cpu_has_native_bf16() else "fp32"


def momentum_dtype(precision: str) -> torch.dtype | None:
    """The autocast dtype of a resolved ``momentum_precision`` (None: plain fp32)."""
    return _DTYPES[precision]


class EntropyBuffer(nn.Module):
    """Fixed-capacity FIFO of scalar entropies, each tagged with the id of its training image.

    Stored as a ring: ``push`` overwrites the oldest entries once full. ``ordered()`` lists the
    entries oldest first. ``next_refresh_slots`` hands out ``len // refresh_steps`` slots per
    call, walking cyclically through the filled slots so every entry is refreshed in turn.
    """

    def __init__(self, capacity: int) -> None:
        super().__init__()
        if capacity < 2:
            raise ValueError(f"buffer capacity must be at least 2, got {capacity}")
        self.capacity = capacity
        self.register_buffer("values", torch.zeros(capacity))
        self.register_buffer("ids", torch.full((capacity,), -1, dtype=torch.long))
        self.register_buffer("write_pos", torch.zeros((), dtype=torch.long))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))
        self.register_buffer("refresh_pos", torch.zeros((), dtype=torch.long))

    def __len__(self) -> int:
        return int(self.count)

    def is_ready(self) -> bool:
        """EAL starts once the buffer holds at least half its capacity."""
        return len(self) >= self.capacity // 2

    @torch.no_grad()
    def push(self, values: torch.Tensor, ids: torch.Tensor) -> None:
        values = values.detach().reshape(-1).to(self.values)
        ids = ids.reshape(-1).to(self.ids)
        if values.numel() != ids.numel():
            raise ValueError(f"{values.numel()} values but {ids.numel()} ids")
        if values.numel() > self.capacity:  # only the newest fit
            values, ids = values[-self.capacity :], ids[-self.capacity :]
        n = values.numel()
        slots = (int(self.write_pos) + torch.arange(n, device=self.values.device)) % self.capacity
        self.values[slots] = values
        self.ids[slots] = ids
        self.write_pos.fill_((int(self.write_pos) + n) % self.capacity)
        self.count.fill_(min(len(self) + n, self.capacity))

    def _order(self) -> torch.Tensor:
        n = len(self)
        if n < self.capacity:
            return torch.arange(n, device=self.values.device)
        return (int(self.write_pos) + torch.arange(n, device=self.values.device)) % self.capacity

    def ordered(self) -> torch.Tensor:
        """Stored values, oldest first, shape ``(len,)``."""
        return self.values[self._order()]

    def ordered_ids(self) -> torch.Tensor:
        return self.ids[self._order()]

    @torch.no_grad()
    def next_refresh_slots(self, refresh_steps: int) -> torch.Tensor:
        """The next ``len // refresh_steps`` slots to recompute, cycling through the buffer."""
        n = len(self)
        k = n // refresh_steps if refresh_steps > 0 else 0
        if k == 0:
            return torch.zeros(0, dtype=torch.long, device=self.values.device)
        start = int(self.refresh_pos) % n
        slots = (start + torch.arange(k, device=self.values.device)) % n
        self.refresh_pos.fill_((start + k) % n)
        return slots

    @torch.no_grad()
    def overwrite(self, slots: torch.Tensor, values: torch.Tensor) -> None:
        self.values[slots] = values.detach().reshape(-1).to(self.values)


class MomentumModel(nn.Module):
    """Frozen EMA copy of a model ("MoM"), always in eval mode.

    After each optimiser step, ``update`` applies ``ξ ← m·ξ + (1−m)·θ`` to the parameters only;
    buffers such as BatchNorm running statistics keep the values copied at construction. Its
    forward runs under ``dtype`` autocast (the released code uses fp16), or in plain fp32 when
    ``dtype`` is None, whatever precision the surrounding training forward uses; the weights and
    the EMA stay fp32.
    """

    def __init__(self, model: nn.Module, momentum: float, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must lie in [0, 1], got {momentum}")
        self.momentum = momentum
        self.autocast_dtype = dtype
        self.module = copy.deepcopy(model)
        self.module.requires_grad_(False)
        self.module.eval()
        # The MoM only ever runs inference; channels-last convolutions are faster for that on
        # both CPU (oneDNN) and GPU, and the EMA update is indifferent to the memory layout.
        self.module.to(memory_format=torch.channels_last)

    def train(self, mode: bool = True) -> MomentumModel:
        return super().train(False)

    @torch.no_grad()
    def update(self, online: nn.Module) -> None:
        for ema, current in zip(self.module.parameters(), online.parameters(), strict=True):
            ema.lerp_(current.detach(), 1.0 - self.momentum)

    @torch.inference_mode()
    def visual_entropy(self, images: torch.Tensor) -> torch.Tensor:
        """Entropies ``(B,)`` of the projected visual features of ``images`` (fp32)."""
        precision = torch.autocast(
            images.device.type,
            dtype=self.autocast_dtype or torch.float32,
            enabled=self.autocast_dtype is not None,
        )
        with precision:
            _, projected = self.module.forward_train(
                images.contiguous(memory_format=torch.channels_last)
            )
        return entropy(projected.float())


class EntropyAlignment(nn.Module):
    """EAL as in Algorithm 1, with the two behaviours of docs/design.md §1.1.

    Per iteration: ``observe`` (MoM entropies of the batch and the batch's cached text
    entropies enter the FIFOs) → ``loss`` → optimiser step → ``after_step`` (EMA update, then the
    MoM recomputes ``len // refresh_steps`` old visual entries, re-reading their images).

    ``eal_mode="released"``: the loss is the energy distance of the two buffers, which hold
    momentum-model values only, so it carries no gradient (as in the authors' code).
    ``eal_mode="online"`` (this suite's reading of Eq. 11, not the paper's Algorithm 1, which
    fills both buffers from the momentum model and is gradient-free too): the online model's
    entropies of the current batch, with gradient, take
    the place of the batch's momentum entries in the visual sample.

    Text entropies are constants (frozen encoder, fixed captions), so text entries never need a
    refresh and no text-encoder forward happens here.
    """

    def __init__(
        self,
        model: nn.Module,
        capacity: int,
        momentum: float,
        refresh_steps: int,
        eal_mode: EalMode,
        momentum_dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if eal_mode not in EAL_MODES:
            raise ValueError(f"eal_mode must be one of {EAL_MODES}, got {eal_mode!r}")
        self.eal_mode = eal_mode
        self.refresh_steps = refresh_steps
        self.visual = EntropyBuffer(capacity)
        self.text = EntropyBuffer(capacity)
        self.momentum_model = MomentumModel(model, momentum, momentum_dtype)
        self._batch_size = 0

    @torch.no_grad()
    def observe(self, images: torch.Tensor, ids: torch.Tensor, text_entropy: torch.Tensor) -> None:
        self.visual.push(self.momentum_model.visual_entropy(images), ids)
        self.text.push(text_entropy, ids)
        self._batch_size = images.shape[0]

    def is_ready(self) -> bool:
        return self.visual.is_ready() and self.text.is_ready()

    def loss(self, online_entropy: torch.Tensor | None = None) -> torch.Tensor:
        """EAL for this iteration (0 until the buffers are half full).

        Args:
            online_entropy: ``(B,)`` visual entropies of the online model on the batch last
                passed to ``observe``; required in ``online`` mode, ignored in ``released`` mode.
        """
        device = self.visual.values.device
        if not self.is_ready():
            return torch.zeros((), device=device)
        text = self.text.ordered()
        if self.eal_mode == "released":
            with torch.no_grad():
                return energy_distance(self.visual.ordered(), text)
        if online_entropy is None:
            raise ValueError("eal_mode='online' needs the online model's batch entropies")
        older = self.visual.ordered()[: max(len(self.visual) - self._batch_size, 0)]
        visual = torch.cat([older.detach(), online_entropy.reshape(-1).to(older)])
        return energy_distance(visual, text)

    @torch.no_grad()
    def after_step(
        self, online: nn.Module, fetch_images: Callable[[torch.Tensor], torch.Tensor] | None
    ) -> int:
        """EMA update, then refresh old visual entries; returns the number refreshed."""
        self.momentum_model.update(online)
        if fetch_images is None:
            return 0
        slots = self.visual.next_refresh_slots(self.refresh_steps)
        if slots.numel() == 0:
            return 0
        images = fetch_images(self.visual.ids[slots])
        self.visual.overwrite(slots, self.momentum_model.visual_entropy(images))
        return int(slots.numel())
