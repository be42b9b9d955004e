"""Training and evaluation engine for every model of the paper's tables.

The engine is imported on first use, so reading the configuration (e.g. while the workflow
builds its DAG) does not load it.
"""

from __future__ import annotations

from typing import Any

from .config import ConfigError, TrainConfig, load_config, parse_overrides

__all__ = ["ConfigError", "Run", "TrainConfig", "load_config", "parse_overrides", "train"]


def __getattr__(name: str) -> Any:
    if name in ("Run", "train"):
        from . import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
