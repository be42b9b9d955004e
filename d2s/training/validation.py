"""Validation of a :class:`~d2s.training.config.TrainConfig`: allowed values and bounds.

Every check names the key and the value it refuses (the CLI turns :class:`ConfigError` into a
message and exit code 2). Shared with scoring and the benchmarks, which check the same keys.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from d2s.alignment import EAL_MODES, MOMENTUM_PRECISIONS

from .controls import CAPTION_CONTROLS

if TYPE_CHECKING:
    from .config import TrainConfig

#: Smallest input side the models accept, for training and scoring alike: the ResNet trunks (and
#: ICNet's) downsample 32x, so a smaller image leaves the last stage no spatial extent to pool.
MIN_IMAGE_SIZE = 32
#: Largest input side, for training and scoring alike: 8192² is 64x the paper's 512² (a batch of
#: one already needs several GB of activations); beyond it a typo would only end in the kernel's
#: out-of-memory killer, without a message.
MAX_IMAGE_SIZE = 8192

#: Values that were renamed: an old value stops with a message naming the new one.
RENAMED_VALUES = {("eal_mode", "paper"): "online"}
PRECISIONS = ("fp32", "bf16")
SELECT_PROTOCOLS = ("test-plcc", "val")
RECIPES = ("d2s", "icnet")
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


def validate(config: TrainConfig) -> None:
    from d2s.models import model_names

    def one_of(key: str, allowed: tuple[str, ...]) -> None:
        if getattr(config, key) not in allowed:
            raise ConfigError(
                f"config key {key!r}: {getattr(config, key)!r} is not one of {allowed}"
            )

    for (key, old), new in RENAMED_VALUES.items():
        if getattr(config, key) == old:
            raise ConfigError(
                f"config key {key!r}: {old!r} was renamed to {new!r} (the differentiable mode is this "
                "suite's reading of Eq. 11, not the paper's Algorithm 1, which is gradient-free)"
            )
    one_of("eal_mode", EAL_MODES)
    one_of("precision", PRECISIONS)
    one_of("momentum_precision", MOMENTUM_PRECISIONS)
    one_of("select", SELECT_PROTOCOLS)
    one_of("recipe", RECIPES)
    one_of("image_cache_device", CACHE_DEVICE_MODES)
    one_of("caption_control", CAPTION_CONTROLS)
    one_of("grad_checkpointing", ("auto", "always", "never"))
    if config.image_cache == "off" and config.image_cache_device == "always":
        raise ConfigError(
            "config key 'image_cache_device': 'always' needs the image cache; "
            "image_cache is 'off' (set image_cache=auto or a folder)"
        )
    if config.model not in model_names():
        raise ConfigError(f"config key 'model': unknown model {config.model!r}")
    if not config.root:
        raise ConfigError("config key 'root' is required: the dataset folder")
    for key in ("epochs", "batch_size", "eval_batch_size", "refresh_steps"):
        if getattr(config, key) < 1:
            raise ConfigError(f"config key {key!r} must be at least 1, got {getattr(config, key)}")
    if config.buffer_size < 2:
        raise ConfigError(
            f"config key 'buffer_size' must be at least 2 (EAL's distribution over the memory "
            f"buffer needs two entries), got {config.buffer_size}"
        )
    check_image_size(config.image_size)
    for key in ("num_workers", "threads"):
        if getattr(config, key) < 0:
            raise ConfigError(
                f"config key {key!r} must be 0 (the default) or more, got {getattr(config, key)}"
            )
    check_positive("lr", config.lr)
    check_positive("temperature", config.temperature)
    for key in ("min_lr", "weight_decay", "eal_weight", "fal_weight"):
        check_positive(key, getattr(config, key), zero_ok=True)
    check_device(config.device)
    check_text_features(config.text_features)
    if not 0.0 <= config.momentum <= 1.0:
        raise ConfigError(f"config key 'momentum' must lie in [0, 1], got {config.momentum}")
    if not 0.0 < config.val_fraction < 1.0:
        raise ConfigError(
            f"config key 'val_fraction' must lie in (0, 1), got {config.val_fraction}"
        )
    if config.needs_text and not (config.captions or config.text_features):
        raise ConfigError(
            f"model {config.model!r} with EAL/FAL or text input needs 'captions' "
            "(a caption TSV: image<TAB>caption) or 'text_features' (from d2s text-features)"
        )
    check_caption_control(config)


def check_caption_control(config: TrainConfig) -> None:
    """A caption control re-pairs the captions a D2S model aligns to in training: refused where
    the run trains without captions or reads them at test time (it would control nothing, or
    change the model's input rather than its teacher)."""
    if config.caption_control == "none":
        return
    where = f"config key 'caption_control': {config.caption_control!r}"
    if config.text_at_test:
        raise ConfigError(
            f"{where} applies to D2S models (captions in training only); model "
            f"{config.model!r} reads captions at test time"
        )
    if not config.needs_text:
        raise ConfigError(
            f"{where} has nothing to control: model {config.model!r} with use_eal and use_fal "
            "off trains without captions"
        )
