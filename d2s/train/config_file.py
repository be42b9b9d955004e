"""Reading a training config: defaults ← the model's recipe ← YAML file ← overrides, then the
checks of the whole :class:`~d2s.train.config.TrainConfig` (each names the key and the value)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from d2s.method.alignment import EAL_MODES, MOMENTUM_PRECISIONS
from d2s.registry.models import model_names, model_spec
from d2s.train.checks import (
    CACHE_DEVICE_MODES,
    PRECISIONS,
    SELECT_PROTOCOLS,
    ConfigError,
    check_device,
    check_image_size,
    check_positive,
    check_text_features,
)
from d2s.train.config import TrainConfig, _check_keys, _coerce
from d2s.train.controls import CAPTION_CONTROLS
from d2s.train.recipes import RECIPES, recipe_defaults


def _read_yaml(path: Path) -> Any:
    """The YAML file's content; a syntax error names the file and the line (1-based)."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{where}: YAML syntax error ({problem}); fix the file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"config file {path}: cannot read it ({err})") from None


def load_config(
    path: str | os.PathLike | None = None, overrides: dict[str, Any] | None = None
) -> TrainConfig:
    """Defaults ← model preset ← YAML file ← overrides, validated."""
    from_file: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} not found")
        loaded = _read_yaml(path) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of config keys")
        _check_keys(loaded, str(path))
        from_file = loaded
    overrides = overrides or {}
    _check_keys(overrides, "command line")
    explicit = {**from_file, **overrides}

    model = str(explicit.get("model", TrainConfig.model))
    # an unknown model is refused by validate(), by name
    recipe = model_spec(model).recipe if model in model_names() else TrainConfig.recipe
    preset = recipe_defaults(recipe)
    merged = {**preset, **explicit}
    values = {k: _coerce(k, v) for k, v in merged.items()}
    config = TrainConfig(**values)
    validate(config)
    return config


def validate(config: TrainConfig) -> None:
    def one_of(key: str, allowed: tuple[str, ...]) -> None:
        if getattr(config, key) not in allowed:
            raise ConfigError(
                f"config key {key!r}: {getattr(config, key)!r} is not one of {allowed}"
            )

    one_of("eal_mode", EAL_MODES)
    one_of("precision", PRECISIONS)
    one_of("momentum_precision", MOMENTUM_PRECISIONS)
    one_of("select", SELECT_PROTOCOLS)
    one_of("recipe", tuple(RECIPES))
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
