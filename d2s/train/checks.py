"""Checks of single config values: allowed values and bounds, and :class:`ConfigError`.

Every check names the key and the value it refuses (the CLI turns :class:`ConfigError` into a
message and exit code 2). Shared with scoring and the benchmarks, which check the same keys; the
checks of a whole :class:`~d2s.train.config.TrainConfig` are in :mod:`d2s.train.config_file`.
"""

from __future__ import annotations

import math
from pathlib import Path

#: Smallest input side the models accept, for training and scoring alike: the ResNet trunks (and
#: ICNet's) downsample 32x, so a smaller image leaves the last stage no spatial extent to pool.
MIN_IMAGE_SIZE = 32
#: Largest input side, for training and scoring alike: 8192² is 64x the paper's 512² (a batch of
#: one already needs several GB of activations); beyond it a typo would only end in the kernel's
#: out-of-memory killer, without a message.
MAX_IMAGE_SIZE = 8192

PRECISIONS = ("fp32", "bf16")
SELECT_PROTOCOLS = ("test-plcc", "val")
CACHE_DEVICE_MODES = ("auto", "always", "never")


class ConfigError(ValueError):
    """A configuration key or value is invalid; the message names it."""


def check_image_size(size: int, key: str = "config key 'image_size'") -> None:
    """One rule for training and scoring: :data:`MIN_IMAGE_SIZE` to :data:`MAX_IMAGE_SIZE` pixels."""
    if size > MAX_IMAGE_SIZE:
        raise ConfigError(
            f"{key} must be at most {MAX_IMAGE_SIZE} pixels (the paper uses 512), got {size}"
        )
    if size < MIN_IMAGE_SIZE:
        raise ConfigError(
            f"{key} must be at least {MIN_IMAGE_SIZE} pixels (the models downsample 32x), "
            f"got {size}"
        )


def check_positive(key: str, value: float, zero_ok: bool = False) -> None:
    """A finite number > 0 (``zero_ok``: >= 0); NaN and infinity are refused by name."""
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
        bound = ">= 0" if zero_ok else "> 0"
        raise ConfigError(f"config key {key!r} must be a finite number {bound}, got {value}")


def check_device(name: str) -> None:
    """``auto``, ``cpu``, or a CUDA device that exists here (``cuda``, ``cuda:N``)."""
    if name in ("auto", "cpu"):
        return
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(
            f"config key 'device': {name!r} is not a device (use auto, cpu, cuda or cuda:N)"
        ) from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (device.index or 0) >= count:
            raise ConfigError(
                f"config key 'device': {name!r} asked for, but this machine has "
                f"{count} usable CUDA GPU(s); use device=auto (GPU when there is one) or cpu"
            )
    elif device.type != "cpu":
        raise ConfigError(f"config key 'device': {name!r} is not supported (use auto, cpu, cuda)")


def check_text_features(path: str | None) -> None:
    if path and not Path(path).is_file():
        raise ConfigError(
            f"config key 'text_features': file {path} not found; write it with "
            "'d2s text-features --captions CAPTIONS.tsv --out FILE.pt' (or set 'captions' instead)"
        )
